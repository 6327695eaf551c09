import JSON
import Foundation
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Testing

/// Streamable HTTP at /mcp, driven with raw HTTP.
@Suite("MCP Streamable HTTP")
struct MCPStreamableHTTPTests {
    @Test func initializeIssuesASessionAndAnswersInJSON() async throws {
        try await withMCPServer { server, driver in
            let response = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize(version: "2025-06-18"))
            #expect(response.status == 200, "\(response)")
            #expect(response.headers["content-type"] == "application/json", "\(response)")
            let session = try #require(response.headers["mcp-session-id"], "\(response)")
            #expect(session.count >= 32 && session.unicodeScalars.allSatisfy { (0x21...0x7E).contains($0.value) }, "session id \(session)")
            let result = try #require(response.json?["result"], "\(response)")
            #expect(result["protocolVersion"] == "2025-06-18")
            #expect(result["serverInfo"]?["name"] == "hermes-appliance")
            #expect(result["capabilities"]?["tools"] != nil && result["capabilities"]?["logging"] != nil)
            #expect(response.json?["id"] == 1)

            // Each initialize gets its own random session id.
            let second = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize(version: "2025-06-18"))
            #expect(second.headers["mcp-session-id"] != nil && second.headers["mcp-session-id"] != session)

            // A revision the server does not know: it offers its latest.
            let unknown = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize(version: "1999-01-01"))
            #expect(unknown.json?["result"]?["protocolVersion"] == "2025-11-25", "\(unknown)")
        }
    }

    @Test func everyNegotiatedRevisionIsServed() async throws {
        try await withMCPServer { server, driver in
            for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
                let session = try await driver.initialize(server, version: version)
                let list = try await driver.post(server, session: session, version: version, MCPMessages.request(2, "tools/list"))
                let tools = try #require(list.json?["result"]?["tools"]?.arrayValue, "\(version): \(list)")
                let whoami = try #require(tools.first { $0["name"] == "whoami" })
                // Fields newer than the revision are left out.
                #expect((whoami["annotations"] != nil) == (version >= "2025-03-26"), "\(version): \(whoami)")
                #expect((whoami["outputSchema"] != nil) == (version >= "2025-06-18"), "\(version): \(whoami)")
                #expect((whoami["title"] != nil) == (version >= "2025-06-18"), "\(version): \(whoami)")
                let call = try await driver.post(server, session: session, version: version, MCPMessages.call(3, "whoami"))
                let result = try #require(call.json?["result"], "\(version): \(call)")
                #expect(result["isError"] == false)
                #expect((result["structuredContent"] != nil) == (version >= "2025-06-18"), "\(version): \(result)")
            }
        }
    }

    @Test func acceptStarStarIsAccepted() async throws {
        try await withMCPServer { server, driver in
            var headers = MCPMessages.auth
            headers["accept"] = "*/*"
            headers["content-type"] = "application/json"
            let response = try await driver.request("POST", server.mcp, headers: headers, body: MCPMessages.initialize())
            #expect(response.status == 200 && response.headers["content-type"] == "application/json", "\(response)")
            let session = try #require(response.headers["mcp-session-id"])
            // And a GET stream with */*.
            let stream = try await driver.open("s", "GET", server.mcp, headers: headers.merging(["mcp-session-id": session]) { $1 })
            #expect(stream.status == 200 && stream.headers["content-type"] == "text/event-stream", "\(stream)")
            // An Accept that allows neither JSON nor event streams is refused.
            headers["accept"] = "text/html"
            let refused = try await driver.request("POST", server.mcp, headers: headers, body: MCPMessages.initialize())
            #expect(refused.status == 406, "\(refused)")
        }
    }

    @Test func notificationsAndResponsesGet202WithNoBody() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server, initialized: false)
            let note = try await driver.post(server, session: session, MCPMessages.notification("notifications/initialized"))
            #expect(note.status == 202 && note.body.isEmpty, "\(note)")
            let response = try await driver.post(server, session: session, #"{"jsonrpc":"2.0","id":"srv-1","result":{}}"#)
            #expect(response.status == 202 && response.body.isEmpty, "\(response)")
            let error = try await driver.post(server, session: session, #"{"jsonrpc":"2.0","id":"srv-2","error":{"code":-1,"message":"no"}}"#)
            #expect(error.status == 202 && error.body.isEmpty, "\(error)")
            let progress = try await driver.post(server, session: session, MCPMessages.notification("notifications/progress", ["progressToken": 1, "progress": 1]))
            #expect(progress.status == 202 && progress.body.isEmpty, "\(progress)")
        }
    }

    @Test func requestsBeforeInitializedAreServed() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server, initialized: false)
            let list = try await driver.post(server, session: session, MCPMessages.request(2, "tools/list"))
            #expect(list.status == 200 && list.json?["result"]?["tools"] != nil, "\(list)")
            let ping = try await driver.post(server, session: session, MCPMessages.request(3, "ping"))
            #expect(ping.json?["result"] == .object(JSONObject()), "\(ping)")
        }
    }

    @Test func missingSessionIs400AndUnknownSessionIs404() async throws {
        try await withMCPServer { server, driver in
            _ = try await driver.initialize(server)
            let missing = try await driver.post(server, session: nil, MCPMessages.request(2, "tools/list"))
            #expect(missing.status == 400, "\(missing)")
            #expect(missing.json?["error"]?["code"] == .integer(-32600) && missing.json?["id"] == .null, "\(missing)")
            #expect(missing.json?["error"]?["message"]?.stringValue?.contains("Mcp-Session-Id") == true)
            let unknown = try await driver.post(server, session: "not-a-session", MCPMessages.request(2, "tools/list"))
            #expect(unknown.status == 404, "\(unknown)")
            let getMissing = try await driver.request("GET", server.mcp, headers: MCPMessages.standard)
            #expect(getMissing.status == 400, "\(getMissing)")
            let getUnknown = try await driver.request("GET", server.mcp, headers: MCPMessages.headers(session: "nope"))
            #expect(getUnknown.status == 404, "\(getUnknown)")
        }
    }

    @Test func deleteEndsTheSessionThen404() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let stream = try await driver.open("get", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            #expect(stream.status == 200)
            let deleted = try await driver.request("DELETE", server.mcp, headers: MCPMessages.headers(session: session))
            #expect(deleted.status == 204, "\(deleted)")
            // Its stream ends, and every later request with its id gets 404.
            let events = try await driver.events("get", count: 100, timeout: 5)
            #expect(events.ended, "\(events)")
            let after = try await driver.post(server, session: session, MCPMessages.request(2, "tools/list"))
            #expect(after.status == 404, "\(after)")
            let again = try await driver.request("DELETE", server.mcp, headers: MCPMessages.headers(session: session))
            #expect(again.status == 404, "\(again)")
            let get = try await driver.request("GET", server.mcp, headers: MCPMessages.headers(session: session))
            #expect(get.status == 404, "\(get)")
            let activity = await server.waitForActivity { $0.sessions == 0 && $0.openStreams == 0 }
            #expect(activity == MCPActivity(sessions: 0, openStreams: 0))
        }
    }

    @Test func protocolVersionHeader() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let unsupported = try await driver.post(server, session: session, version: "2099-01-01", MCPMessages.request(2, "ping"))
            #expect(unsupported.status == 400, "\(unsupported)")
            #expect(unsupported.json?["error"]?["message"]?.stringValue?.contains("2025-06-18") == true, "\(unsupported)")
            let absent = try await driver.post(server, session: session, version: nil, MCPMessages.request(3, "ping"))
            #expect(absent.status == 200, "\(absent)")
            for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
                let supported = try await driver.post(server, session: session, version: version, MCPMessages.request(4, "ping"))
                #expect(supported.status == 200, "\(version): \(supported)")
            }
            let get = try await driver.request("GET", server.mcp, headers: MCPMessages.headers(session: session, version: "1.0"))
            #expect(get.status == 400, "\(get)")
            let delete = try await driver.request("DELETE", server.mcp, headers: MCPMessages.headers(session: session, version: "garbage"))
            #expect(delete.status == 400, "\(delete)")
        }
    }

    @Test func batchesOnlyOn20250326() async throws {
        try await withMCPServer { server, driver in
            let batch = "[\(MCPMessages.request(10, "ping")),\(MCPMessages.notification("notifications/initialized")),\(MCPMessages.request(11, "tools/list"))]"
            let old = try await driver.initialize(server, version: "2025-03-26")
            let answered = try await driver.post(server, session: old, version: "2025-03-26", batch)
            #expect(answered.status == 200, "\(answered)")
            let responses = try #require(answered.json?.arrayValue, "\(answered)")
            #expect(responses.count == 2)
            #expect(responses.first?["id"] == 10 && responses.first?["result"] == .object(JSONObject()))
            #expect(responses.last?["id"] == 11 && responses.last?["result"]?["tools"] != nil)
            // A batch of notifications only: 202.
            let notes = try await driver.post(server, session: old, version: "2025-03-26", "[\(MCPMessages.notification("notifications/initialized"))]")
            #expect(notes.status == 202 && notes.body.isEmpty, "\(notes)")
            // Without the header, 2025-03-26 is assumed, and the session decides.
            let noHeader = try await driver.post(server, session: old, version: nil, batch)
            #expect(noHeader.status == 200 && noHeader.json?.arrayValue?.count == 2, "\(noHeader)")

            for version in ["2025-06-18", "2025-11-25"] {
                let session = try await driver.initialize(server, version: version)
                let refused = try await driver.post(server, session: session, version: version, batch)
                #expect(refused.status == 400, "\(version): \(refused)")
                #expect(refused.json?["error"]?["code"] == .integer(-32600), "\(refused)")
                #expect(refused.json?["error"]?["message"]?.stringValue?.contains("2025-03-26") == true, "\(refused)")
            }
            // initialize never goes in a batch.
            let initBatch = try await driver.post(server, session: nil, "[\(MCPMessages.initialize())]")
            #expect(initBatch.status == 400, "\(initBatch)")
        }
    }

    @Test func garbageAndWrongShapesGetJSONRPCErrors() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            func expectError(_ body: String, status: Int, code: Int64, id: JSONValue = .null, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let response = try await driver.post(server, session: session, body)
                #expect(response.status == status, "\(body) -> \(response)", sourceLocation: sourceLocation)
                #expect(response.json?["jsonrpc"] == "2.0", "\(body) -> \(response)", sourceLocation: sourceLocation)
                #expect(response.json?["error"]?["code"] == .integer(code), "\(body) -> \(response)", sourceLocation: sourceLocation)
                #expect(response.json?["id"] == id, "\(body) -> \(response)", sourceLocation: sourceLocation)
                #expect(response.json?["error"]?["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
            }
            try await expectError("{not json", status: 400, code: -32700)
            try await expectError("", status: 400, code: -32700)
            try await expectError("\u{1}\u{2}garbage", status: 400, code: -32700)
            try await expectError(#"{"jsonrpc":"2.0","id":1,"method":"ping"} trailing"#, status: 400, code: -32700)
            try await expectError(String(repeating: "[", count: 500), status: 400, code: -32700)
            try await expectError("42", status: 400, code: -32600)
            try await expectError(#""ping""#, status: 400, code: -32600)
            try await expectError("[]", status: 400, code: -32600)
            try await expectError(#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#, status: 400, code: -32600, id: 7)
            try await expectError(#"{"id":7,"method":"ping"}"#, status: 400, code: -32600, id: 7)
            try await expectError(#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#, status: 400, code: -32600)
            try await expectError(#"{"jsonrpc":"2.0","id":8,"method":42}"#, status: 400, code: -32600, id: 8)
            try await expectError(#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1,2]}"#, status: 400, code: -32600, id: 9)
            try await expectError(#"{"jsonrpc":"2.0","id":10}"#, status: 400, code: -32600, id: 10)
            // Valid envelopes with bad contents: 200 with a JSON-RPC error.
            try await expectError(#"{"jsonrpc":"2.0","id":11,"method":"no/such/method"}"#, status: 200, code: -32601, id: 11)
            try await expectError(#"{"jsonrpc":"2.0","id":"s","method":"tools/call","params":{}}"#, status: 200, code: -32602, id: "s")
            try await expectError(MCPMessages.call(12, "no_such_tool"), status: 200, code: -32602, id: 12)
            try await expectError(#"{"jsonrpc":"2.0","id":13,"method":"logging/setLevel","params":{"level":"loud"}}"#, status: 200, code: -32602, id: 13)
            try await expectError(#"{"jsonrpc":"2.0","id":14,"method":"tools/list","params":{"cursor":"bogus"}}"#, status: 200, code: -32602, id: 14)
            // The server is still fine.
            let ping = try await driver.post(server, session: session, MCPMessages.request(15, "ping"))
            #expect(ping.status == 200 && ping.json?["result"] != nil, "\(ping)")
            // A body that is not declared as JSON.
            let text = try await driver.post(server, session: session, MCPMessages.request(16, "ping"), extra: ["content-type": "text/plain"])
            #expect(text.status == 415, "\(text)")
        }
    }

    @Test func toolsListIsPaginated() async throws {
        try await withMCPServer(configure: { $0.toolsPageSize = 2 }) { server, driver in
            let session = try await driver.initialize(server)
            var names: [String] = []
            var cursor: JSONValue? = nil
            var pages = 0
            repeat {
                let params: JSONValue? = cursor.map { ["cursor": $0] }
                let response = try await driver.post(server, session: session, MCPMessages.request(100 + pages, "tools/list", params))
                let result = try #require(response.json?["result"], "\(response)")
                let tools = try #require(result["tools"]?.arrayValue)
                #expect(tools.count <= 2)
                names += tools.compactMap { $0["name"]?.stringValue }
                cursor = result["nextCursor"]
                pages += 1
            } while cursor != nil && pages < 10
            #expect(names == ["whoami", "sandbox_send_message", "sandbox_read_messages", "count_slowly", "emit_log"])
            #expect(pages == 3)
        }
    }

    @Test func toolCallsAndBadArgumentsGiveIsError() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let whoami = try await driver.post(server, session: session, MCPMessages.call(2, "whoami"))
            let structured = try #require(whoami.json?["result"]?["structuredContent"], "\(whoami)")
            #expect(structured["customer"] == "single-user" && structured["mode"] == "single-user" && structured["plan"] == "single-user", "\(structured)")
            #expect(whoami.json?["result"]?["isError"] == false)
            #expect(whoami.json?["result"]?["content"]?.arrayValue?.first?["type"] == "text")

            let sent = try await driver.post(server, session: session, MCPMessages.call(3, "sandbox_send_message", ["to": "alice", "text": "hello over MCP"]))
            #expect(sent.json?["result"]?["isError"] == false, "\(sent)")
            let read = try await driver.post(server, session: session, MCPMessages.call(4, "sandbox_read_messages", ["to": "alice"]))
            let messages = try #require(read.json?["result"]?["structuredContent"]?["messages"]?.arrayValue, "\(read)")
            #expect(messages.map { $0["text"] } == ["hello over MCP"])

            func expectBadArgument(_ id: Int, _ tool: String, _ arguments: JSONValue, mentions field: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let response = try await driver.post(server, session: session, MCPMessages.call(id, tool, arguments))
                #expect(response.status == 200, "\(response)", sourceLocation: sourceLocation)
                let result = try #require(response.json?["result"], "a bad argument must give a result, not an error: \(response)", sourceLocation: sourceLocation)
                #expect(result["isError"] == true, "\(response)", sourceLocation: sourceLocation)
                let text = result["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
                #expect(text.contains("'\(field)'"), "the message must name \(field): \(text)", sourceLocation: sourceLocation)
            }
            try await expectBadArgument(5, "sandbox_send_message", ["to": "alice"], mentions: "text")
            try await expectBadArgument(6, "sandbox_send_message", ["to": "alice", "text": 12], mentions: "text")
            try await expectBadArgument(7, "sandbox_send_message", ["to": "", "text": "x"], mentions: "to")
            try await expectBadArgument(8, "sandbox_send_message", ["to": "a", "text": "x", "cc": "b"], mentions: "cc")
            try await expectBadArgument(9, "sandbox_read_messages", ["limit": 500], mentions: "limit")
            try await expectBadArgument(10, "sandbox_read_messages", ["limit": 1.5], mentions: "limit")
            try await expectBadArgument(11, "whoami", "not an object", mentions: "arguments")
        }
    }

    @Test func loggingSetLevelFiltersLogMessages() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let stream = try await driver.open("get", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            #expect(stream.status == 200)
            // Warning passes the default level; after setLevel error it does not.
            _ = try await driver.post(server, session: session, MCPMessages.call(2, "emit_log", ["message": "first"]))
            let first = try await driver.events("get", count: 2)
            #expect(first.messages.contains { $0["method"] == "notifications/message" && $0["params"]?["data"] == "first" && $0["params"]?["level"] == "warning" }, "\(first)")
            let set = try await driver.post(server, session: session, MCPMessages.request(3, "logging/setLevel", ["level": "error"]))
            #expect(set.json?["result"] == .object(JSONObject()), "\(set)")
            _ = try await driver.post(server, session: session, MCPMessages.call(4, "emit_log", ["message": "second"]))
            _ = try await driver.post(server, session: session, MCPMessages.request(5, "logging/setLevel", ["level": "debug"]))
            _ = try await driver.post(server, session: session, MCPMessages.call(6, "emit_log", ["message": "third"]))
            let later = try await driver.events("get", count: 3)
            let data = later.messages.compactMap { $0["params"]?["data"]?.stringValue }
            #expect(data == ["first", "third"], "\(later)")
        }
    }

    /// A client waiting on its POST for a JSON answer keeps the session alive: a tool call that runs longer
    /// than the idle timeout is answered, not cancelled by the session's expiry.
    @Test func aCallLongerThanTheIdleTimeoutIsAnswered() async throws {
        try await withMCPServer(configure: {
            $0.sessionIdleTimeout = .seconds(2)
            $0.keepAliveInterval = .milliseconds(100)
        }) { server, driver in
            // The session is new and quiet until the call arrives: on a machine that stalls longer than the
            // idle timeout right then, it expires first (404), and the test starts over with a new one.
            for attempt in 1...5 {
                let session = try await driver.initialize(server, initialized: false)
                let tag = "long-\(attempt)"
                let call = try await driver.post(server, session: session, MCPMessages.call(9, "count_slowly", ["steps": 6, "delay_ms": 500, "tag": .string(tag)]))
                if call.status == 404, server.probe.outcome(tag) == nil { continue }
                #expect(call.status == 200, "\(call)")
                #expect(call.json?["result"]?["isError"] == false, "the call was not answered with its result: \(call)")
                #expect(server.probe.outcome(tag) == "finished", "\(String(describing: server.probe.outcome(tag)))")
                return
            }
            Issue.record("five new sessions in a row expired before their first call")
        }
    }

    @Test func sessionsAreBoundedAndIdleOnesExpire() async throws {
        try await withMCPServer(configure: {
            $0.maximumSessions = 3
            // Well above how long an initialize plus a GET can take on a loaded machine: the full suite runs
            // CPU-heavy tests beside this one on two cores, and on a fresh clone the first ten seconds or so
            // can pass without this test's task getting a turn.
            $0.sessionIdleTimeout = .seconds(20)
            $0.keepAliveInterval = .milliseconds(200)
        }) { server, driver in
            var sessions: [String] = []
            for index in 0..<3 {
                let session = try await driver.initialize(server)
                sessions.append(session)
                // An open stream keeps a session from going idle, however slow this machine is.
                _ = try await driver.open("hold-\(index)", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            }
            let refused = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize())
            #expect(refused.status == 503, "\(refused)")
            #expect(refused.headers["retry-after"] != nil)
            // Idle sessions expire: their ids get 404 and their places free up.
            for index in 0..<3 { try await driver.close("hold-\(index)") }
            let activity = await server.waitForActivity(seconds: 60) { $0.sessions == 0 }
            #expect(activity.sessions == 0, "\(activity)")
            let expired = try await driver.post(server, session: sessions[0], MCPMessages.request(2, "ping"))
            #expect(expired.status == 404, "\(expired)")
            _ = try await driver.initialize(server)
            // A session with an open stream is not idle.
            let kept = try await driver.initialize(server)
            _ = try await driver.open("get", "GET", server.mcp, headers: MCPMessages.headers(session: kept))
            try await Task.sleep(for: .seconds(21))
            let alive = try await driver.post(server, session: kept, MCPMessages.request(3, "ping"))
            #expect(alive.status == 200, "\(alive)")
        }
    }
}
