package import ToolRuntime
// MCP server: Streamable HTTP at /mcp, legacy HTTP+SSE at /sse and /messages, one tool runtime behind both.
// Why not the MCP Swift SDK: docs/adr/0005-own-mcp-server-not-the-swift-sdk.md.

import HTTP2
package import Routing
package import Logging

/// The MCP server, ready to be mounted on the daemon's router.
///
/// ```swift
/// let endpoint = MCPEndpoint(tools: ToolRuntime(registry: registry, logger: logger), logger: logger)
/// endpoint.register(in: &router, gate: accessGate)
/// ```
///
/// Routes: `POST`/`GET`/`DELETE /mcp` (Streamable HTTP, see ``StreamableHTTPTransport``), `GET /sse` and
/// `POST /messages` (legacy SSE). Each runs behind `gate`, which decides who the request is for; the
/// application puts its origin check and CORS in front of ``paths``.
package struct MCPEndpoint: Sendable {
    package let configuration: MCPConfiguration
    let sessions: SessionRegistry
    let streamable: StreamableHTTPTransport
    let legacy: LegacySSETransport

    /// The paths the endpoint serves.
    package static let paths = ["/mcp", "/sse", LegacySSETransport.messagesPath]

    /// `serverVersion` is what `initialize` reports in `serverInfo`.
    package init(tools: any ToolCaller, configuration: MCPConfiguration = MCPConfiguration(), serverVersion: String = "0.0.0", logger: Logger) {
        self.configuration = configuration
        let sessions = SessionRegistry(configuration: configuration, logger: logger)
        let handler = MCPProtocolHandler(tools: tools, pageSize: configuration.toolsPageSize, serverVersion: serverVersion)
        self.sessions = sessions
        streamable = StreamableHTTPTransport(sessions: sessions, handler: handler)
        legacy = LegacySSETransport(sessions: sessions, handler: handler)
    }

    /// Adds the MCP routes to `router`, each behind `gate`.
    package func register(in router: inout Router, gate: any CallerGate) {
        let streamable = self.streamable
        let legacy = self.legacy
        router.post("/mcp", bodyLimit: configuration.maximumBodyBytes, gate.guarded { request, call in
            await streamable.post(request, customer: call.caller)
        })
        router.get("/mcp", gate.guarded { request, call in streamable.get(request, customer: call.caller) })
        router.delete("/mcp", gate.guarded { request, call in streamable.delete(request, customer: call.caller) })
        router.get("/sse", gate.guarded { request, call in legacy.open(request, customer: call.caller) })
        router.post(LegacySSETransport.messagesPath, bodyLimit: configuration.maximumBodyBytes, gate.guarded { request, call in
            await legacy.message(request, customer: call.caller)
        })
    }

    /// Sessions and streams open right now.
    package var activity: MCPActivity {
        MCPActivity(sessions: sessions.count, openStreams: sessions.counters.openStreams)
    }

    /// Ends every session and stream (call on shutdown, before the HTTP server drains).
    package func shutdown() {
        sessions.endAll()
    }
}

/// A snapshot of the MCP endpoint's load.
package struct MCPActivity: Sendable, Equatable {
    package var sessions: Int
    package var openStreams: Int
}
