import JSON
import Foundation
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import TestSupport
import Testing

/// Legacy HTTP+SSE at /sse and /messages, and the gate in front of every MCP route (origin, CORS, API key).
@Suite("MCP legacy SSE and gate")
struct MCPLegacyAndGateTests {
    @Test func legacySSEEndpointEventThenMessagesOnTheStream() async throws {
        try await withMCPServer { server, driver in
            let head = try await driver.open("sse", "GET", server.base + "/sse", headers: MCPMessages.auth.merging(["accept": "text/event-stream"]) { $1 })
            #expect(head.status == 200 && head.headers["content-type"] == "text/event-stream", "\(head)")
            let first = try await driver.events("sse", count: 1)
            let endpoint = try #require(first.events.first, "\(first)")
            #expect(endpoint.event == "endpoint", "\(first)")
            let path = try #require(endpoint.data)
            #expect(path.hasPrefix("/messages?sessionId="), "\(path)")
            let url = server.base + path
            let post = MCPMessages.accept.merging(MCPMessages.auth) { $1 }

            let initialize = try await driver.request("POST", url, headers: post, body: MCPMessages.initialize(version: "2024-11-05"))
            #expect(initialize.status == 202 && initialize.body.isEmpty, "\(initialize)")
            let initialized = try await driver.request("POST", url, headers: post, body: MCPMessages.notification("notifications/initialized"))
            #expect(initialized.status == 202)
            let call = try await driver.request("POST", url, headers: post, body: MCPMessages.call(2, "whoami"))
            #expect(call.status == 202 && call.body.isEmpty, "\(call)")
            let events = try await driver.events("sse", count: 3)
            let messages = events.events.dropFirst()
            #expect(messages.allSatisfy { $0.event == "message" && $0.id == nil }, "\(events)")
            let answers = events.messages
            #expect(answers.first?["id"] == 1 && answers.first?["result"]?["protocolVersion"] == "2024-11-05", "\(events)")
            #expect(answers.last?["id"] == 2 && answers.last?["result"]?["isError"] == false, "\(events)")
            // 2024-11-05 has no structured results.
            #expect(answers.last?["result"]?["structuredContent"] == nil)

            // Keep-alive comments while idle.
            let idle = try await driver.events("sse", comments: 2, timeout: 5)
            #expect(idle.comments >= 2, "\(idle)")

            // Errors: garbage, wrong shapes, batches before 2025-03-26, unknown and missing sessions, POST /sse.
            let garbage = try await driver.request("POST", url, headers: post, body: "{{{")
            #expect(garbage.status == 400 && garbage.json?["error"]?["code"] == .integer(-32700), "\(garbage)")
            let shape = try await driver.request("POST", url, headers: post, body: #"{"jsonrpc":"2.0","id":true,"method":"ping"}"#)
            #expect(shape.status == 400 && shape.json?["error"]?["code"] == .integer(-32600), "\(shape)")
            let batch = try await driver.request("POST", url, headers: post, body: "[\(MCPMessages.request(5, "ping"))]")
            #expect(batch.status == 400, "\(batch)")
            let unknown = try await driver.request("POST", server.base + "/messages?sessionId=nope", headers: post, body: MCPMessages.request(6, "ping"))
            #expect(unknown.status == 404, "\(unknown)")
            let missing = try await driver.request("POST", server.base + "/messages", headers: post, body: MCPMessages.request(6, "ping"))
            #expect(missing.status == 400, "\(missing)")
            let wrongMethod = try await driver.request("POST", server.base + "/sse", headers: post, body: MCPMessages.request(7, "ping"))
            #expect(wrongMethod.status == 405, "\(wrongMethod)")
            #expect(wrongMethod.headers["allow"]?.contains("GET") == true)
            // A Streamable HTTP request cannot use a legacy session id, and the reverse.
            let crossed = try await driver.post(server, session: String(path.dropFirst("/messages?sessionId=".count)), MCPMessages.request(8, "ping"))
            #expect(crossed.status == 404, "\(crossed)")

            // The session ends with its stream.
            try await driver.close("sse")
            _ = await server.waitForActivity { $0.sessions == 0 }
            let after = try await driver.request("POST", url, headers: post, body: MCPMessages.request(9, "ping"))
            #expect(after.status == 404, "\(after)")
        }
    }

    /// The 202 of a POST goes out before its answer on the stream: a client that reads the answer always
    /// finds the 202 already there (see legacy_sse_order.py).
    @Test func legacySSEAnswersThePOSTBeforeTheStream() async throws {
        try await withMCPServer { server, _ in
            let child = try ChildProcess.python(MCPPaths.script("legacy_sse_order.py"), ["--port", "\(server.port)", "--key", MCPTestServer.apiKey, "--rounds", "40"])
            child.closeInput()
            let result = await child.finish(seconds: 60)
            #expect(result.status == 0, "\(result)")
            let json = try JSONParser.parse(Array(result.output.utf8))
            #expect(json["rounds"] == 40, "\(result)")
            #expect(json["answer_first"] == 0, "answers reached the stream before their 202: \(result.output)")
            #expect(json["statuses"]?.arrayValue?.allSatisfy { $0 == 202 } == true, "\(result.output)")
        }
    }

    @Test func apiKeyIsRequiredOnEveryRoute() async throws {
        try await withMCPServer { server, driver in
            let json = MCPMessages.accept
            for (method, path) in [("POST", "/mcp"), ("GET", "/mcp"), ("DELETE", "/mcp"), ("GET", "/sse"), ("POST", "/messages?sessionId=x")] {
                let bare = try await driver.request(method, server.base + path, headers: json, body: method == "POST" ? MCPMessages.initialize() : nil)
                #expect(bare.status == 401, "\(method) \(path): \(bare)")
                #expect(bare.headers["www-authenticate"]?.hasPrefix("Bearer") == true, "\(bare)")
                let wrong = try await driver.request(method, server.base + path, headers: json.merging(["authorization": "Bearer wrong-key"]) { $1 }, body: method == "POST" ? MCPMessages.initialize() : nil)
                #expect(wrong.status == 401 && wrong.headers["www-authenticate"]?.contains("invalid_token") == true, "\(method) \(path): \(wrong)")
                let wrongHeader = try await driver.request(method, server.base + path, headers: json.merging(["x-api-key": MCPTestServer.apiKey + "x"]) { $1 }, body: method == "POST" ? MCPMessages.initialize() : nil)
                #expect(wrongHeader.status == 401, "\(method) \(path): \(wrongHeader)")
            }
            let bearer = try await driver.request("POST", server.mcp, headers: json.merging(["authorization": "bearer \(MCPTestServer.apiKey)"]) { $1 }, body: MCPMessages.initialize())
            #expect(bearer.status == 200, "\(bearer)")
            let apiKey = try await driver.request("POST", server.mcp, headers: json.merging(["x-api-key": MCPTestServer.apiKey]) { $1 }, body: MCPMessages.initialize())
            #expect(apiKey.status == 200, "\(apiKey)")
            // The key never appears in an answer.
            #expect(!bearer.body.contains(MCPTestServer.apiKey) && !apiKey.body.contains(MCPTestServer.apiKey))
        }
    }

    @Test func withoutAConfiguredKeyNothingIsServed() async throws {
        try await withMCPServer(apiKey: nil) { server, driver in
            let response = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize())
            #expect(response.status == 401, "\(response)")
            #expect(response.body.contains("MCP_API_KEY"), "\(response)")
        }
    }

    @Test func originsAreCheckedAndCORSIsAnswered() async throws {
        try await withMCPServer { server, driver in
            // Not allowed: 403, whatever the credentials.
            let evil = try await driver.request("POST", server.mcp, headers: MCPMessages.standard.merging(["origin": "https://evil.example"]) { $1 }, body: MCPMessages.initialize())
            #expect(evil.status == 403, "\(evil)")
            #expect(evil.json?["error"]?["code"] == .integer(-32600), "\(evil)")
            #expect(evil.headers["access-control-allow-origin"] == nil)
            let evilSSE = try await driver.request("GET", server.base + "/sse", headers: MCPMessages.auth.merging(["origin": "http://localhost.evil.example"]) { $1 })
            #expect(evilSSE.status == 403, "\(evilSSE)")
            // No Origin (non-browser clients): fine. Configured and loopback origins: allowed, with CORS headers.
            let none = try await driver.request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize())
            #expect(none.status == 200 && none.headers["access-control-allow-origin"] == nil, "\(none)")
            for origin in ["https://claude.ai", "http://localhost:5173", "http://127.0.0.1:8080"] {
                let allowed = try await driver.request("POST", server.mcp, headers: MCPMessages.standard.merging(["origin": origin]) { $1 }, body: MCPMessages.initialize())
                #expect(allowed.status == 200, "\(origin): \(allowed)")
                #expect(allowed.headers["access-control-allow-origin"] == origin, "\(allowed)")
                #expect(allowed.headers["access-control-expose-headers"]?.contains("Mcp-Session-Id") == true, "\(allowed)")
            }
            // A refused key from an allowed origin still carries CORS headers, so the page can read the 401.
            let unauthorized = try await driver.request("POST", server.mcp, headers: MCPMessages.accept.merging(["origin": "https://claude.ai"]) { $1 }, body: MCPMessages.initialize())
            #expect(unauthorized.status == 401 && unauthorized.headers["access-control-allow-origin"] == "https://claude.ai", "\(unauthorized)")

            // Preflight: no credentials needed.
            let preflight = try await driver.request("OPTIONS", server.mcp, headers: [
                "origin": "https://claude.ai", "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type, mcp-session-id",
            ])
            #expect(preflight.status == 204, "\(preflight)")
            #expect(preflight.headers["access-control-allow-origin"] == "https://claude.ai")
            let allowedHeaders = (preflight.headers["access-control-allow-headers"] ?? "").lowercased()
            for header in ["authorization", "content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id"] {
                #expect(allowedHeaders.contains(header), "\(header) missing from \(allowedHeaders)")
            }
            #expect(preflight.headers["access-control-allow-methods"]?.contains("DELETE") == true)
            let badPreflight = try await driver.request("OPTIONS", server.mcp, headers: ["origin": "https://evil.example", "access-control-request-method": "POST"])
            #expect(badPreflight.status == 403, "\(badPreflight)")
        }
    }
}

/// The real Python MCP SDK, over both transports.
@Suite("MCP with the Python SDK")
struct MCPPythonSDKTests {
    func run(_ transport: String, url: (MCPTestServer) -> String) async throws {
        try await withMCPServer("sdk\(transport)") { server, _ in
            let marker = "sdk-\(transport)-\(UUID().uuidString.prefix(6))"
            let child = try ChildProcess.python(MCPPaths.script("mcp_sdk_client.py"), ["--transport", transport, "--url", url(server), "--key", MCPTestServer.apiKey, "--marker", marker])
            let status = await child.finish(seconds: 60).status
            #expect(status == 0, "\(child.output.suffix(2000))\n\(child.error.suffix(4000))")
            let line = child.output.split(separator: "\n").last.map(String.init) ?? ""
            let report = try #require(try? JSONParser.parse(line), "no report: \(child.output) \(child.error.suffix(3000))")
            #expect(report["protocol_version"] == "2025-11-25", "\(report)")
            #expect(report["server_name"] == "hermes-appliance")
            let tools = report["tools"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(Set(["whoami", "sandbox_send_message", "sandbox_read_messages"]).isSubset(of: Set(tools)), "\(report)")
            #expect(report["whoami"]?["customer"] == "single-user" && report["whoami"]?["plan"] == "single-user", "\(report)")
            #expect(report["whoami_is_error"] == false && report["sent_is_error"] == false)
            #expect(report["read_texts"] == [.string(marker)], "\(report)")
            #expect(report["bad_argument"]?["is_error"] == true, "\(report)")
            #expect(report["bad_argument"]?["text"]?.stringValue?.contains("'text'") == true, "\(report)")
            #expect(report["counted"] == "counted to 3", "\(report)")
            #expect(report["progress"] == [1, 2, 3], "progress notifications reached the SDK: \(report)")
            #expect(report["unknown_tool"]?.stringValue?.contains("no_such_tool") == true, "\(report)")
            #expect(report["pinged"] == true)
            // The client ended its session (DELETE, or closing the legacy stream).
            let activity = await server.waitForActivity { $0.sessions == 0 }
            #expect(activity.sessions == 0, "\(activity)")
        }
    }

    @Test func streamableHTTP() async throws {
        try await run("streamable") { $0.mcp }
    }

    @Test func legacySSE() async throws {
        try await run("sse") { $0.base + "/sse" }
    }
}
