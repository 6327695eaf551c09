import JSON
import Crypto
import Foundation
import HTTP2
import Routing
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Logging
import Store
import Synchronization
import TestSupport
import Testing

/// Where the MCP tests' files and tools are.
enum MCPPaths {
    /// The Python clients (this file is Tests/HermesTests/MCPTestSupport.swift).
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients")
    static func script(_ name: String) -> String { clients.appendingPathComponent(name).path }

    static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hermes-mcp-tests/\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct MCPTestFailure: Error, CustomStringConvertible {
    var description: String
}

/// One HTTP response as the driver saw it.
struct DriverResponse: CustomStringConvertible {
    var status: Int
    var headers: [String: String]
    var body: String
    var httpVersion: String

    /// The body as JSON (nil when it is not JSON).
    var json: JSONValue? { try? JSONParser.parse(body) }

    var description: String { "HTTP \(status) \(headers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }) \(body.prefix(2000))" }
}

/// One server-sent event.
struct DriverEvent: CustomStringConvertible {
    var id: String?
    var event: String?
    var data: String?

    var json: JSONValue? { data.flatMap { try? JSONParser.parse($0) } }
    var description: String { "{id: \(id ?? "-"), event: \(event ?? "-"), data: \(data ?? "-")}" }
}

struct DriverEvents: CustomStringConvertible {
    var events: [DriverEvent]
    var comments: Int
    var ended: Bool
    var raw: String

    /// Events that carry a JSON-RPC message (not priming events).
    var messages: [JSONValue] { events.compactMap(\.json) }
    var description: String { "events \(events) comments \(comments) ended \(ended) raw: \(raw.suffix(1500))" }
}

/// Drives raw HTTP through `Clients/mcp_http_driver.py`: one Python process per test, commands one at a time.
final class HTTPDriver: @unchecked Sendable {
    // `@unchecked Sendable`: used by one test task at a time; `sequence` is only touched in `command`.
    let child: ChildProcess
    private var sequence = 0
    private var consumed = 0

    init() throws {
        child = try ChildProcess.python(MCPPaths.script("mcp_http_driver.py"))
    }

    private func command(_ fields: [String: Any], seconds: Double = 30) async throws -> [String: Any] {
        sequence += 1
        var fields = fields
        fields["seq"] = sequence
        let data = try JSONSerialization.data(withJSONObject: fields)
        try child.write(String(decoding: data, as: UTF8.self) + "\n")
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            let lines = child.output.split(separator: "\n", omittingEmptySubsequences: true)
            if lines.count > consumed {
                let line = lines[consumed]
                consumed += 1
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], (object["seq"] as? Int) == sequence else {
                    throw MCPTestFailure(description: "the driver answered out of turn: \(line)")
                }
                if let failure = object["failure"] as? String { throw MCPTestFailure(description: "driver: \(failure)") }
                return object
            }
            if !child.isRunning { throw MCPTestFailure(description: "the driver exited: \(child.error.suffix(3000))") }
            try await Task.sleep(for: .milliseconds(3))
        }
        throw MCPTestFailure(description: "the driver did not answer within \(seconds) s: \(child.error.suffix(2000))")
    }

    func request(_ method: String, _ url: String, headers: [String: String] = [:], body: String? = nil, http2: Bool = false) async throws -> DriverResponse {
        var fields: [String: Any] = ["op": "request", "method": method, "url": url, "headers": headers, "http2": http2]
        if let body { fields["body"] = body }
        let object = try await command(fields)
        return DriverResponse(
            status: object["status"] as? Int ?? 0, headers: object["headers"] as? [String: String] ?? [:],
            body: object["body"] as? String ?? "", httpVersion: object["http_version"] as? String ?? ""
        )
    }

    /// Starts a streamed request named `name`; returns its status and headers.
    func open(_ name: String, _ method: String, _ url: String, headers: [String: String] = [:], body: String? = nil, http2: Bool = false) async throws -> DriverResponse {
        var fields: [String: Any] = ["op": "open", "name": name, "method": method, "url": url, "headers": headers, "http2": http2]
        if let body { fields["body"] = body }
        let object = try await command(fields)
        return DriverResponse(status: object["status"] as? Int ?? 0, headers: object["headers"] as? [String: String] ?? [:], body: "", httpVersion: object["http_version"] as? String ?? "")
    }

    /// Waits until stream `name` has `count` events and `comments` comments, or ended, or `timeout` passed.
    func events(_ name: String, count: Int = 0, comments: Int = 0, timeout: Double = 10) async throws -> DriverEvents {
        let object = try await command(["op": "events", "name": name, "count": count, "comments": comments, "timeout": timeout], seconds: timeout + 20)
        let events = (object["events"] as? [[String: Any]] ?? []).map {
            DriverEvent(id: $0["id"] as? String, event: $0["event"] as? String, data: $0["data"] as? String)
        }
        return DriverEvents(events: events, comments: object["comments"] as? Int ?? 0, ended: object["ended"] as? Bool ?? false, raw: object["raw"] as? String ?? "")
    }

    /// Drops stream `name`'s connection, as a client that goes away would.
    func close(_ name: String) async throws {
        _ = try await command(["op": "close", "name": name])
    }

    func stop() async {
        try? child.write("{\"op\":\"exit\"}\n")
        _ = await child.finish(seconds: 5)
    }
}

/// What the test tools observed.
final class ToolProbe: Sendable {
    private let outcomes = Mutex<[String: String]>([:])
    func record(_ id: String, _ outcome: String) { outcomes.withLock { $0[id] = outcome } }
    func outcome(_ id: String) -> String? { outcomes.withLock { $0[id] } }

    /// Waits until the tool `id` recorded any outcome, or `expected` when given; returns the last one seen.
    func wait(for id: String, expected: String? = nil, seconds: Double = 10) async -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let outcome = outcome(id), expected == nil || outcome == expected { return outcome }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return outcome(id)
    }
}

/// Tools only the tests register: a slow counter that reports progress and notices cancellation, and one
/// that sends a log message.
enum TestTools {
    static func make(_ probe: ToolProbe) throws -> [Tool] {
        let count = try Tool(
            name: "count_slowly", title: "Count slowly",
            description: "Counts to steps, reporting progress, waiting delay_ms between steps.",
            inputSchema: [
                "type": "object",
                "properties": ["steps": ["type": "integer", "minimum": 1, "maximum": 1000], "delay_ms": ["type": "integer", "minimum": 0, "maximum": 10000], "tag": ["type": "string"]],
                "required": ["steps"], "additionalProperties": false,
            ],
            annotations: ToolAnnotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
        ) { invocation in
            let steps = Int(invocation.integer("steps") ?? 1)
            let delay = Int(invocation.integer("delay_ms") ?? 0)
            let tag = invocation.string("tag") ?? "count"
            probe.record(tag, "started")
            do {
                for step in 1...steps {
                    if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                    invocation.context.progress(Double(step), Double(steps), "step \(step)")
                }
            } catch {
                probe.record(tag, "cancelled")
                throw error
            }
            probe.record(tag, "finished")
            return .text("counted to \(steps)")
        }
        let log = try Tool(
            name: "emit_log", title: "Emit a log message", description: "Sends a log message to the client.",
            inputSchema: ["type": "object", "properties": ["message": ["type": "string"]], "required": ["message"]],
            annotations: ToolAnnotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
        ) { invocation in
            invocation.context.log(.warning, .string(invocation.string("message") ?? ""))
            return .text("logged")
        }
        return [count, log]
    }
}

/// An HTTP server on 127.0.0.1 (ephemeral port) serving the MCP endpoint with the built-in and test tools,
/// over a temporary store.
final class MCPTestServer: Sendable {
    static let apiKey = "test-key-" + RandomToken.urlSafe(byteCount: 12)

    let server: HTTPServer
    let endpoint: MCPEndpoint
    let store: Store
    let probe: ToolProbe
    let port: Int

    private init(server: HTTPServer, endpoint: MCPEndpoint, store: Store, probe: ToolProbe, port: Int) {
        self.server = server
        self.endpoint = endpoint
        self.store = store
        self.probe = probe
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }
    var mcp: String { base + "/mcp" }

    /// `tenancy`, given the server's store, returns the authenticator and quota admission to serve with
    /// (default: the single user with ``apiKey``, unmetered).
    static func start(
        _ name: String = #function,
        apiKey: String? = MCPTestServer.apiKey,
        configure: (inout MCPConfiguration) -> Void = { _ in },
        tenancy: ((Store) -> (any CallerAuthenticator, any ToolCallAdmission))? = nil
    ) async throws -> MCPTestServer {
        try CryptoLibrary.initialize()
        let directory = MCPPaths.temporaryDirectory(name)
        let store = try Store(StoreConfiguration(location: .directory(directory.path), mapSize: 64 << 20))
        var configuration = MCPConfiguration(allowedOrigins: ["https://claude.ai"], keepAliveInterval: .milliseconds(300))
        configure(&configuration)
        let logger = Logger(label: "hermes.mcp.test") { _ in SwiftLogNoOpLogHandler() }
        let probe = ToolProbe()
        let registry = try ToolRegistry(try BuiltinTools.registry(store: store).tools + TestTools.make(probe))
        let (authenticator, admission) = tenancy?(store) ?? (StaticAPIKeyAuthenticator(apiKey: apiKey), UnlimitedToolCalls())
        let endpoint = MCPEndpoint(tools: ToolRuntime(registry: registry, admission: admission, logger: logger), configuration: configuration, logger: logger)
        var router = Router()
        endpoint.register(in: &router, authenticator: authenticator, logger: logger)
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(2)), router: router, logger: logger)
        try await server.start()
        guard let port = server.localPort else { throw MCPTestFailure(description: "the server bound no port") }
        return MCPTestServer(server: server, endpoint: endpoint, store: store, probe: probe, port: port)
    }

    func stop() async {
        endpoint.shutdown()
        await server.shutdown()
        store.close()
    }

    /// Waits (bounded) until the endpoint's activity satisfies `condition`.
    func waitForActivity(seconds: Double = 10, _ condition: (MCPActivity) -> Bool) async -> MCPActivity {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(endpoint.activity) { return endpoint.activity }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return endpoint.activity
    }
}

/// Starts a server and a driver, runs `body`, and always stops both.
func withMCPServer<T>(
    _ name: String = #function,
    apiKey: String? = MCPTestServer.apiKey,
    configure: (inout MCPConfiguration) -> Void = { _ in },
    tenancy: ((Store) -> (any CallerAuthenticator, any ToolCallAdmission))? = nil,
    _ body: (MCPTestServer, HTTPDriver) async throws -> T
) async throws -> T {
    let server = try await MCPTestServer.start(name, apiKey: apiKey, configure: configure, tenancy: tenancy)
    let driver: HTTPDriver
    do {
        driver = try HTTPDriver()
    } catch {
        await server.stop()
        throw error
    }
    do {
        let result = try await body(server, driver)
        await driver.stop()
        await server.stop()
        return result
    } catch {
        await driver.stop()
        await server.stop()
        throw error
    }
}

/// Builders for MCP requests and the headers tests send.
enum MCPMessages {
    static let auth = ["authorization": "Bearer \(MCPTestServer.apiKey)"]
    static let accept = ["accept": "application/json, text/event-stream", "content-type": "application/json"]
    static var standard: [String: String] { auth.merging(accept) { $1 } }

    static func headers(session: String? = nil, version: String? = nil, _ extra: [String: String] = [:]) -> [String: String] {
        var headers = standard
        if let session { headers["mcp-session-id"] = session }
        if let version { headers["mcp-protocol-version"] = version }
        return headers.merging(extra) { $1 }
    }

    static func request(_ id: Int, _ method: String, _ params: JSONValue? = nil) -> String {
        var object: JSONObject = ["jsonrpc": "2.0", "id": .integer(Int64(id)), "method": .string(method)]
        if let params { object["params"] = params }
        return JSONValue.object(object).description
    }

    static func notification(_ method: String, _ params: JSONValue? = nil) -> String {
        var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { object["params"] = params }
        return JSONValue.object(object).description
    }

    static func initialize(_ id: Int = 1, version: String = "2025-11-25") -> String {
        request(id, "initialize", ["protocolVersion": .string(version), "capabilities": [:], "clientInfo": ["name": "hermes-tests", "version": "1"]])
    }

    static func call(_ id: Int, _ tool: String, _ arguments: JSONValue = [:], progressToken: JSONValue? = nil) -> String {
        var params: JSONObject = ["name": .string(tool), "arguments": arguments]
        if let progressToken { params["_meta"] = ["progressToken": progressToken] }
        return request(id, "tools/call", .object(params))
    }
}

extension HTTPDriver {
    /// Initializes a Streamable HTTP session on `version` and sends `notifications/initialized`; returns its id.
    func initialize(_ server: MCPTestServer, version: String = "2025-11-25", initialized: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let response = try await request("POST", server.mcp, headers: MCPMessages.standard, body: MCPMessages.initialize(version: version))
        guard response.status == 200, let session = response.headers["mcp-session-id"] else {
            Issue.record("initialize failed: \(response)", sourceLocation: sourceLocation)
            throw MCPTestFailure(description: "initialize failed")
        }
        if initialized {
            let note = try await request("POST", server.mcp, headers: MCPMessages.headers(session: session, version: version), body: MCPMessages.notification("notifications/initialized"))
            #expect(note.status == 202, "\(note)", sourceLocation: sourceLocation)
        }
        return session
    }

    /// POSTs one message on a session and returns the response.
    func post(_ server: MCPTestServer, session: String?, version: String? = "2025-11-25", _ body: String, extra: [String: String] = [:], http2: Bool = false) async throws -> DriverResponse {
        try await request("POST", server.mcp, headers: MCPMessages.headers(session: session, version: version, extra), body: body, http2: http2)
    }
}

/// Real customers (API keys in the store) behind the daemon's own authenticator, and their tool calls
/// metered as the daemon meters them; for `withMCPServer(tenancy:)`.
struct TestTenancy {
    let directory: CustomerDirectory
    let meter: UsageMeter
    let authenticator: TenantAuthenticator

    init(store: Store) {
        directory = CustomerDirectory(store: store)
        meter = UsageMeter(store: store, logger: Logger(label: "hermes.usage.test") { _ in SwiftLogNoOpLogHandler() })
        authenticator = TenantAuthenticator(
            directory: directory, meter: meter, tokens: nil, singleUser: StaticAPIKeyAuthenticator(apiKey: nil),
            resource: ProtectedResource(publicURL: "http://127.0.0.1"), credentials: NoCredentials()
        )
    }

    var parts: (any CallerAuthenticator, any ToolCallAdmission) { (authenticator, MeteredToolCalls(meter: meter)) }

    /// Headers of a Streamable HTTP request authenticated with a customer's `key`.
    static func headers(_ key: String, session: String? = nil) -> [String: String] {
        MCPMessages.headers(session: session, version: "2025-11-25", ["authorization": "Bearer \(key)"])
    }
}

extension HTTPDriver {
    /// Initializes a session as the customer with `key`; returns its id.
    func initialize(_ server: MCPTestServer, key: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let response = try await request("POST", server.mcp, headers: TestTenancy.headers(key), body: MCPMessages.initialize())
        let session = try #require(response.headers["mcp-session-id"], "initialize: \(response)", sourceLocation: sourceLocation)
        let note = try await request("POST", server.mcp, headers: TestTenancy.headers(key, session: session), body: MCPMessages.notification("notifications/initialized"))
        #expect(note.status == 202, "\(note)", sourceLocation: sourceLocation)
        return session
    }
}
