// MCP server: Streamable HTTP at /mcp, legacy HTTP+SSE at /sse and /messages, one tool runtime behind both.
//
// ## Why not modelcontextprotocol/swift-sdk 0.12.1
//
// It resolves here and was evaluated piece by piece; none of it is used:
//
// - HTTP transports (`StatefulHTTPServerTransport`, `StatelessHTTPServerTransport`): they answer every
//   request as SSE, prime clients older than 2025-11-25, keep every event of a session in memory with no
//   bound, reject `Accept: */*` with 406 and, by default, any Host that is not localhost-with-port with
//   421; there is no legacy SSE server, no API keys, no CORS. Each of these contradicts a rule of issue 4.
// - `Server` (an actor per connection): it reads raw bytes from a `Transport` and tries to decode every
//   message up to four times with `JSONDecoder` (batch, response, request, message) before handling it,
//   and dispatches each request in a new unstructured task. That is one actor hop, several Foundation
//   decodes and a `JSONEncoder` round per call, and the calling customer can only reach a handler
//   through a task-local `HTTPRequest`. The `tools/call` target here is 50× the Python SDK's server;
//   the per-message cost of `Server` alone would eat most of that budget on a 2-core box.
// - Protocol types (`Value`, `Tool`, `CallTool`, ...): they fit, but they are `Codable` (Foundation's
//   coders in the hot path again), and taking them alone would still pull `swift-system`, `eventsource`
//   and the SDK's targets into every build for a few hundred lines of types.
//
// What replaces them, in this folder: `JSON/` (a small JSON value, parser and writer: strict RFC 8259,
// depth-bounded, integers kept exact for JSON-RPC ids), `JSONRPC.swift` (envelopes and error codes),
// `MCPProtocolHandler.swift` (the MCP methods), `Sessions/` (bounded sessions, streams and replay
// buffers), `Transports/` (Streamable HTTP and legacy SSE on the HTTP2 module's router), `Gate/`
// (origin, CORS, authentication). The version list and negotiation rule (echo a supported revision,
// otherwise offer the latest) follow the SDK's `Version` and the specification.

public import HTTP2
public import Logging

/// The MCP server, ready to be mounted on the daemon's router.
///
/// ```swift
/// let endpoint = MCPEndpoint(
///     tools: ToolRuntime(registry: try BuiltinTools.registry(store: store), logger: logger),
///     authenticator: StaticAPIKeyAuthenticator.fromEnvironment(variables),
///     configuration: .fromEnvironment(variables),
///     logger: logger
/// )
/// endpoint.register(in: &router)
/// ```
///
/// Routes: `POST`/`GET`/`DELETE /mcp` (Streamable HTTP, see ``StreamableHTTPTransport``), `GET /sse` and
/// `POST /messages` (legacy SSE). Every request to them first passes ``AccessGate``: origin check, CORS,
/// authentication.
public struct MCPEndpoint: Sendable {
    public let configuration: MCPConfiguration
    let sessions: SessionRegistry
    let streamable: StreamableHTTPTransport
    let legacy: LegacySSETransport
    let gate: AccessGate

    /// `admission` checks each `tools/call` against the caller's limits before it runs (429 when refused).
    public init(
        tools: any ToolCaller, authenticator: any CallerAuthenticator, admission: any ToolCallAdmission = UnlimitedToolCalls(),
        configuration: MCPConfiguration = MCPConfiguration(), logger: Logger
    ) {
        self.configuration = configuration
        let sessions = SessionRegistry(configuration: configuration, logger: logger)
        let handler = MCPProtocolHandler(tools: tools, pageSize: configuration.toolsPageSize, admission: admission)
        self.sessions = sessions
        streamable = StreamableHTTPTransport(sessions: sessions, handler: handler)
        legacy = LegacySSETransport(sessions: sessions, handler: handler)
        gate = AccessGate(allowedOrigins: configuration.allowedOrigins, authenticator: authenticator, style: .jsonRPC, logger: logger)
    }

    /// Adds the MCP routes and their gate to `router`.
    public func register(in router: inout Router) {
        router.use(gate, on: ["/mcp", "/sse", LegacySSETransport.messagesPath])
        let streamable = self.streamable
        let legacy = self.legacy
        router.post("/mcp", bodyLimit: configuration.maximumBodyBytes) { request in
            await streamable.post(request, customer: try Self.caller())
        }
        router.get("/mcp") { request in streamable.get(request, customer: try Self.caller()) }
        router.delete("/mcp") { request in streamable.delete(request, customer: try Self.caller()) }
        router.get("/sse") { request in legacy.open(request, customer: try Self.caller()) }
        router.post(LegacySSETransport.messagesPath, bodyLimit: configuration.maximumBodyBytes) { request in
            await legacy.message(request, customer: try Self.caller())
        }
    }

    /// The caller the gate authenticated; refuses (fails closed) if the gate did not run.
    private static func caller() throws -> Customer {
        guard let customer = AuthenticatedCaller.current else {
            throw HTTPError(401, "authentication required", headers: ["www-authenticate": "Bearer realm=\"hermes\""])
        }
        return customer
    }

    /// Sessions and streams open right now.
    public var activity: MCPActivity {
        MCPActivity(sessions: sessions.count, openStreams: sessions.counters.openStreams)
    }

    /// Ends every session and stream (call on shutdown, before the HTTP server drains).
    public func shutdown() {
        sessions.endAll()
    }
}

/// A snapshot of the MCP endpoint's load.
public struct MCPActivity: Sendable, Equatable {
    public var sessions: Int
    public var openStreams: Int
}
