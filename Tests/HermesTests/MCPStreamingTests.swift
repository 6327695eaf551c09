import JSON
import Foundation
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import TestSupport
import Testing

/// Event streams: SSE answers, priming, resumption, cancellation, keep-alives, clients that vanish.
@Suite("MCP event streams")
struct MCPStreamingTests {
    @Test func aRequestAskingForProgressIsAnsweredAsAnEventStream() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let call = MCPMessages.call(7, "count_slowly", ["steps": 3], progressToken: "p1")
            let head = try await driver.open("post", "POST", server.mcp, headers: MCPMessages.headers(session: session), body: call)
            #expect(head.status == 200 && head.headers["content-type"] == "text/event-stream", "\(head)")
            let events = try await driver.events("post", count: 100)
            #expect(events.ended, "the stream ends after the response: \(events)")
            // 2025-11-25: a priming event (id, no data) first.
            let priming = try #require(events.events.first)
            #expect(priming.id != nil && (priming.data ?? "").isEmpty, "\(events)")
            let messages = events.messages
            #expect(messages.count == 4, "\(events)")
            let progress = messages.filter { $0["method"] == "notifications/progress" }
            #expect(progress.map { $0["params"]?["progress"] } == [1, 2, 3], "\(events)")
            #expect(progress.allSatisfy { $0["params"]?["progressToken"] == "p1" && $0["params"]?["total"] == 3 })
            #expect(messages.last?["id"] == 7 && messages.last?["result"]?["content"]?.arrayValue?.first?["text"] == "counted to 3", "\(events)")
            #expect(events.events.dropFirst().allSatisfy { $0.id != nil && $0.event == "message" })

            // Without a progress token the same call is answered in JSON.
            let plain = try await driver.post(server, session: session, MCPMessages.call(8, "count_slowly", ["steps": 2]))
            #expect(plain.headers["content-type"] == "application/json" && plain.json?["id"] == 8, "\(plain)")
            // A client that accepts only event streams gets one.
            let sseOnly = try await driver.open("sse-only", "POST", server.mcp, headers: MCPMessages.headers(session: session, ["accept": "text/event-stream"]), body: MCPMessages.request(9, "ping"))
            #expect(sseOnly.headers["content-type"] == "text/event-stream", "\(sseOnly)")
            let pong = try await driver.events("sse-only", count: 100)
            #expect(pong.messages.last?["id"] == 9 && pong.ended, "\(pong)")
        }
    }

    @Test func primingEventsOnlyFor20251125OrLater() async throws {
        try await withMCPServer { server, driver in
            for (version, primed) in [("2025-03-26", false), ("2025-06-18", false), ("2025-11-25", true)] {
                let session = try await driver.initialize(server, version: version)
                _ = try await driver.open("post-\(version)", "POST", server.mcp, headers: MCPMessages.headers(session: session, version: version),
                                          body: MCPMessages.call(2, "count_slowly", ["steps": 1], progressToken: 5))
                let answer = try await driver.events("post-\(version)", count: 100)
                #expect(answer.ended, "\(answer)")
                #expect((answer.events.first?.data ?? "").isEmpty == primed, "\(version): \(answer)")
                #expect(answer.messages.count == 2, "\(version): \(answer)")
                _ = try await driver.open("get-\(version)", "GET", server.mcp, headers: MCPMessages.headers(session: session, version: version))
                let get = try await driver.events("get-\(version)", count: primed ? 1 : 0, comments: 1)
                #expect(get.events.count == (primed ? 1 : 0), "\(version): \(get)")
                try await driver.close("get-\(version)")
            }
        }
    }

    @Test func aDroppedAnswerStreamIsResumedWithLastEventID() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let call = MCPMessages.call(21, "count_slowly", ["steps": 6, "delay_ms": 150, "tag": "resume"], progressToken: "r")
            _ = try await driver.open("post", "POST", server.mcp, headers: MCPMessages.headers(session: session), body: call)
            let early = try await driver.events("post", count: 2)
            #expect(early.messages.count >= 1, "\(early)")
            let lastID = try #require(early.events.last?.id, "\(early)")
            try await driver.close("post")
            // The work goes on without its client; a GET with the last id seen replays what was missed and
            // then follows the answer live until the response.
            #expect(server.probe.outcome("resume") == "started")
            let resumed = try await driver.open("resume", "GET", server.mcp, headers: MCPMessages.headers(session: session, ["last-event-id": lastID]))
            #expect(resumed.status == 200, "\(resumed)")
            let rest = try await driver.events("resume", count: 20, timeout: 10)
            #expect(rest.ended, "the resumed answer stream ends after the response: \(rest)")
            let all = early.messages + rest.messages
            let progress = all.compactMap { $0["method"] == "notifications/progress" ? $0["params"]?["progress"]?.integerValue : nil }
            #expect(progress == [1, 2, 3, 4, 5, 6], "each progress event exactly once, in order: \(early) / \(rest)")
            #expect(all.last?["id"] == 21 && all.last?["result"]?["isError"] == false, "\(rest)")
            // A Last-Event-ID this session never issued.
            let bogus = try await driver.request("GET", server.mcp, headers: MCPMessages.headers(session: session, ["last-event-id": "99-1"]))
            #expect(bogus.status == 400, "\(bogus)")
        }
    }

    @Test func theStandaloneStreamIsResumedWithLastEventID() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            _ = try await driver.open("get", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            let primed = try await driver.events("get", count: 1)
            let primingID = try #require(primed.events.first?.id, "\(primed)")
            try await driver.close("get")
            _ = await server.waitForActivity { $0.openStreams == 0 }
            // Messages for the standalone stream while no client listens are kept (bounded) ...
            _ = try await driver.post(server, session: session, MCPMessages.call(2, "emit_log", ["message": "while away"]))
            // ... and replayed on reconnection.
            _ = try await driver.open("again", "GET", server.mcp, headers: MCPMessages.headers(session: session, ["last-event-id": primingID]))
            let replayed = try await driver.events("again", count: 2)
            #expect(replayed.messages.contains { $0["params"]?["data"] == "while away" }, "\(replayed)")
            #expect(!replayed.ended)
            // A GET without Last-Event-ID replaces the stream and gets only new messages.
            _ = try await driver.open("fresh", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            let fresh = try await driver.events("fresh", count: 1)
            #expect(fresh.messages.isEmpty, "\(fresh)")
            let replaced = try await driver.events("again", count: 100, timeout: 5)
            #expect(replaced.ended, "the earlier stream ends when a new GET takes over: \(replaced)")
        }
    }

    @Test func cancellationStopsTheToolAndSendsNoResponse() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            let call = MCPMessages.call(31, "count_slowly", ["steps": 1000, "delay_ms": 50, "tag": "cancel-me"], progressToken: "c")
            _ = try await driver.open("post", "POST", server.mcp, headers: MCPMessages.headers(session: session), body: call)
            _ = try await driver.events("post", count: 2)
            #expect(server.probe.outcome("cancel-me") == "started")
            let cancel = try await driver.post(server, session: session, MCPMessages.notification("notifications/cancelled", ["requestId": 31, "reason": "test"]))
            #expect(cancel.status == 202, "\(cancel)")
            #expect(await server.probe.wait(for: "cancel-me", expected: "cancelled") == "cancelled")
            let stream = try await driver.events("post", count: 10_000, timeout: 5)
            #expect(stream.ended, "\(stream)")
            #expect(!stream.messages.contains { $0["id"] == 31 }, "no response after cancellation: \(stream)")

            // In JSON mode the HTTP answer is an error saying so; the tool stops too.
            async let answer = driver.post(server, session: session, MCPMessages.call(32, "count_slowly", ["steps": 1000, "delay_ms": 50, "tag": "cancel-json"]))
            let other = try HTTPDriver()
            _ = await server.probe.wait(for: "cancel-json")
            _ = try await other.post(server, session: session, MCPMessages.notification("notifications/cancelled", ["requestId": 32]))
            let cancelled = try await answer
            #expect(cancelled.json?["error"]?["code"] == .integer(-32800), "\(cancelled)")
            #expect(await server.probe.wait(for: "cancel-json", expected: "cancelled") == "cancelled")
            await other.stop()
        }
    }

    @Test func requestsInFlightPerSessionAreBounded() async throws {
        try await withMCPServer(configure: { $0.maximumRequestsInFlight = 1 }) { server, driver in
            let session = try await driver.initialize(server)
            _ = try await driver.open("slow", "POST", server.mcp, headers: MCPMessages.headers(session: session),
                                      body: MCPMessages.call(2, "count_slowly", ["steps": 1000, "delay_ms": 50, "tag": "busy"], progressToken: 1))
            _ = await server.probe.wait(for: "busy")
            let refused = try await driver.post(server, session: session, MCPMessages.call(3, "whoami"))
            #expect(refused.json?["error"]?["code"] == .integer(-32000), "\(refused)")
            // Cheap methods are not counted; another session is not affected.
            let ping = try await driver.post(server, session: session, MCPMessages.request(4, "ping"))
            #expect(ping.json?["result"] != nil, "\(ping)")
            let other = try await driver.initialize(server)
            let call = try await driver.post(server, session: other, MCPMessages.call(5, "whoami"))
            #expect(call.json?["result"]?["isError"] == false, "\(call)")
            // Once the slow call ends, the session takes calls again.
            _ = try await driver.post(server, session: session, MCPMessages.notification("notifications/cancelled", ["requestId": 2]))
            #expect(await server.probe.wait(for: "busy", expected: "cancelled") == "cancelled")
            try await Task.sleep(for: .milliseconds(100))
            let again = try await driver.post(server, session: session, MCPMessages.call(6, "whoami"))
            #expect(again.json?["result"]?["isError"] == false, "\(again)")
        }
    }

    @Test func idleStreamsGetKeepAliveComments() async throws {
        try await withMCPServer { server, driver in
            let session = try await driver.initialize(server)
            _ = try await driver.open("get", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            let events = try await driver.events("get", comments: 2, timeout: 5)
            #expect(events.comments >= 2, "\(events)")
            #expect(events.raw.contains(": keep-alive\n\n"))
        }
    }

    @Test func aClientThatDisappearsMidStreamIsCleanedUp() async throws {
        // Idle timeout well above how long opening three streams can take on a loaded machine: CI has seen
        // the whole test process stall for about 11 s while the first tests started, and an 8 s timeout
        // expired the session between initialize and its notification.
        try await withMCPServer(configure: { $0.sessionIdleTimeout = .seconds(20) }) { server, driver in
            let doomed = try HTTPDriver()
            let session = try await doomed.initialize(server)
            _ = try await doomed.open("get", "GET", server.mcp, headers: MCPMessages.headers(session: session))
            _ = try await doomed.open("post", "POST", server.mcp, headers: MCPMessages.headers(session: session),
                                      body: MCPMessages.call(2, "count_slowly", ["steps": 1000, "delay_ms": 100], progressToken: 1))
            _ = try await doomed.open("sse", "GET", server.base + "/sse", headers: MCPMessages.auth)
            _ = try await doomed.events("sse", count: 1)
            let busy = await server.waitForActivity { $0.openStreams == 3 }
            #expect(busy == MCPActivity(sessions: 2, openStreams: 3), "\(busy)")

            doomed.child.kill()
            _ = await doomed.child.finish(seconds: 5)
            // Streams close at once; the legacy session ends with its stream; the Streamable HTTP session
            // (which a client may resume) expires once idle, its running request cancelled with it.
            let streams = await server.waitForActivity { $0.openStreams == 0 }
            #expect(streams.openStreams == 0, "\(streams)")
            let sessions = await server.waitForActivity(seconds: 60) { $0.sessions == 0 }
            #expect(sessions == MCPActivity(sessions: 0, openStreams: 0), "\(sessions)")
            let gone = try await driver.post(server, session: session, MCPMessages.request(3, "ping"))
            #expect(gone.status == 404, "\(gone)")
        }
    }

    @Test func manyConcurrentSessions() async throws {
        try await withMCPServer { server, driver in
            let child = try ChildProcess.python(MCPPaths.script("mcp_concurrency.py"), ["--url", server.mcp, "--key", MCPTestServer.apiKey, "--sessions", "64"])
            let status = await child.finish(seconds: 60).status
            #expect(status == 0, "\(child.output.suffix(3000)) \(child.error.suffix(3000))")
            let summary = try #require(child.output.split(separator: "\n").last.flatMap { try? JSONParser.parse(String($0)) }, "\(child.output)")
            #expect(summary["sessions"] == 64 && summary["ok"] == 64, "\(summary)")
            #expect(summary["distinct_session_ids"] == 64)
            let activity = await server.waitForActivity { $0.sessions == 0 }
            #expect(activity == MCPActivity(sessions: 0, openStreams: 0), "every session was deleted: \(activity)")
        }
    }

    @Test func http2CarriesRequestsAndStreams() async throws {
        try await withMCPServer { server, driver in
            let initialize = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize(), http2: true)
            #expect(initialize.httpVersion == "HTTP/2" && initialize.status == 200, "\(initialize)")
            let session = try #require(initialize.headers["mcp-session-id"])
            let call = try await driver.post(server, session: session, MCPMessages.call(2, "whoami"), http2: true)
            #expect(call.httpVersion == "HTTP/2" && call.json?["result"]?["isError"] == false, "\(call)")
            let stream = try await driver.open("post", "POST", server.mcp, headers: MCPMessages.headers(session: session),
                                               body: MCPMessages.call(3, "count_slowly", ["steps": 2], progressToken: 1), http2: true)
            #expect(stream.httpVersion == "HTTP/2" && stream.headers["content-type"] == "text/event-stream", "\(stream)")
            let events = try await driver.events("post", count: 100)
            #expect(events.ended && events.messages.last?["id"] == 3, "\(events)")
        }
    }
}
