import Foundation
package import Tenancy

/// Limits and policies of the MCP endpoint. The defaults suit one box serving a handful of assistants.
package struct MCPConfiguration: Sendable {
    /// Origins (`scheme://host[:port]`) browsers may call from. A request with an `Origin` header not on
    /// the list gets 403 (DNS-rebinding protection); requests without one (non-browser clients) pass.
    /// Loopback origins (`http://localhost`, `http://127.0.0.1`, `http://[::1]`, any port) are always
    /// allowed; `"*"` allows every origin.
    package var allowedOrigins: [String]
    /// Streamable HTTP and legacy SSE sessions open at once; a new session beyond it gets 503.
    package var maximumSessions: Int
    /// Sessions one caller may have open at once (the application reads it from the caller's plan). A
    /// customer is held to at most half of ``maximumSessions`` whatever this says, so no customer can fill
    /// the server; the single user of a single-user daemon may use all of it. At the limit, the caller's
    /// own session idle longest (no open stream, no request in flight) ends to make room; with none idle,
    /// 503 and `Retry-After`. See ``sessionLimit(for:)``.
    package var sessionLimit: @Sendable (Customer) -> Int
    /// A session with no request and no open stream for this long ends (its id then gets 404).
    package var sessionIdleTimeout: Duration
    /// How often an idle SSE stream gets a keep-alive comment (proxies close silent connections).
    package var keepAliveInterval: Duration
    /// Events of a session kept for resumption with `Last-Event-ID` (count and bytes, whichever is hit first).
    package var replayBufferEvents: Int
    package var replayBufferBytes: Int
    /// Events queued for one stream whose client is not reading; beyond it the stream is closed (a
    /// Streamable HTTP client can resume from the replay buffer; a legacy SSE session ends).
    package var maximumQueuedEvents: Int
    /// Requests of one session running at once; more get a JSON-RPC error.
    package var maximumRequestsInFlight: Int
    /// Tools per `tools/list` page.
    package var toolsPageSize: Int
    /// Largest request body accepted on `POST /mcp` and `POST /messages` (413 beyond).
    package var maximumBodyBytes: Int

    package init(
        allowedOrigins: [String] = [],
        maximumSessions: Int = 10_000,
        sessionLimit: @escaping @Sendable (Customer) -> Int = { _ in .max },
        sessionIdleTimeout: Duration = .seconds(30 * 60),
        keepAliveInterval: Duration = .seconds(15),
        replayBufferEvents: Int = 64,
        replayBufferBytes: Int = 256 * 1024,
        maximumQueuedEvents: Int = 256,
        maximumRequestsInFlight: Int = 32,
        toolsPageSize: Int = 100,
        maximumBodyBytes: Int = 4 << 20
    ) {
        self.allowedOrigins = allowedOrigins
        self.maximumSessions = maximumSessions
        self.sessionLimit = sessionLimit
        self.sessionIdleTimeout = sessionIdleTimeout
        self.keepAliveInterval = keepAliveInterval
        self.replayBufferEvents = replayBufferEvents
        self.replayBufferBytes = replayBufferBytes
        self.maximumQueuedEvents = max(maximumQueuedEvents, replayBufferEvents + 16)
        self.maximumRequestsInFlight = maximumRequestsInFlight
        self.toolsPageSize = max(1, toolsPageSize)
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// The sessions `customer` may have open at once: ``sessionLimit`` held to half of ``maximumSessions``
    /// for a customer (all of it for the single user), and at least one.
    package func sessionLimit(for customer: Customer) -> Int {
        let ceiling = customer.kind == .singleUser ? maximumSessions : maximumSessions / 2
        return max(1, min(sessionLimit(customer), ceiling))
    }

    /// Reads `MCP_ALLOWED_ORIGINS` (comma-separated origins) from `variables`.
    package static func fromEnvironment(_ variables: [String: String]) -> MCPConfiguration {
        let origins = (variables["MCP_ALLOWED_ORIGINS"] ?? "").split(separator: ",")
            .map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return MCPConfiguration(allowedOrigins: origins)
    }
}
