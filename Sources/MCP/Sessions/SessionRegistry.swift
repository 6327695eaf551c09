import Tenancy
import Crypto
import Logging
import Synchronization

/// Every open MCP session, by id; bounded in number, with idle sessions expiring.
///
/// A heartbeat task runs while any session exists: every keep-alive interval it sends a keep-alive
/// comment on each open stream and ends sessions idle for longer than the idle timeout. Lookups also
/// check expiry, so an expired id gets 404 at once rather than at the next sweep.
final class SessionRegistry: Sendable {
    private let configuration: MCPConfiguration
    /// ``MCPConfiguration/sessionIdleTimeout`` in milliseconds, converted once: checked on every request.
    private let idleTimeout: Int64
    private let logger: Logger
    let counters = MCPActivityCounters()
    private let state = Mutex(State())

    private struct State {
        var sessions: [String: MCPSession] = [:]
        var heartbeat: Task<Void, Never>?
    }

    /// Why a session could not be created.
    struct Full: Error {}

    init(configuration: MCPConfiguration, logger: Logger) {
        self.configuration = configuration
        idleTimeout = CoarseClock.milliseconds(of: configuration.sessionIdleTimeout)
        self.logger = logger
    }

    var count: Int { state.withLock { $0.sessions.count } }

    /// Creates a session with a fresh random id (43 characters of base64url: visible ASCII, 256 bits).
    func create(transport: MCPSession.Transport, customer: Customer, version: MCPProtocolVersion) throws(Full) -> MCPSession {
        let session = MCPSession(
            id: RandomToken.urlSafe(byteCount: 32), transport: transport, customer: customer, version: version,
            limits: .init(
                replayEvents: configuration.replayBufferEvents, replayBytes: configuration.replayBufferBytes,
                queuedEvents: configuration.maximumQueuedEvents, requestsInFlight: configuration.maximumRequestsInFlight
            ),
            counters: counters
        )
        var full = state.withLock { state in
            guard state.sessions.count < configuration.maximumSessions else { return true }
            state.sessions[session.id] = session
            startHeartbeatLocked(&state)
            return false
        }
        if full {
            // Make room from expired sessions before refusing.
            sweep()
            full = state.withLock { state in
                guard state.sessions.count < configuration.maximumSessions else { return true }
                state.sessions[session.id] = session
                startHeartbeatLocked(&state)
                return false
            }
        }
        guard !full else {
            logger.warning("mcp session refused: at the session limit", metadata: ["mcp.max_sessions": "\(configuration.maximumSessions)"])
            throw Full()
        }
        logger.debug("mcp session opened", metadata: ["mcp.session": "\(session.id.prefix(8))", "mcp.transport": "\(transport.rawValue)", "customer.id": "\(customer.id)"])
        return session
    }

    /// The live session `id` of `customer` (another customer's session is reported as absent).
    func session(_ id: String, customer: Customer, transport: MCPSession.Transport) -> MCPSession? {
        guard let session = state.withLock({ $0.sessions[id] }), session.customer.id == customer.id, session.transport == transport else { return nil }
        if session.isEnded { return nil }
        if session.isIdle(now: CoarseClock.milliseconds(), timeout: idleTimeout) {
            end(session, reason: "idle")
            return nil
        }
        return session
    }

    /// Ends a session and forgets it.
    func end(_ session: MCPSession, reason: String) {
        session.end()
        let removed = state.withLock { $0.sessions[session.id] === session ? $0.sessions.removeValue(forKey: session.id) : nil }
        if removed != nil {
            logger.debug("mcp session ended", metadata: ["mcp.session": "\(session.id.prefix(8))", "mcp.reason": "\(reason)"])
        }
    }

    /// Ends every idle session.
    func sweep() {
        let now = CoarseClock.milliseconds()
        let sessions = state.withLock { Array($0.sessions.values) }
        for session in sessions where session.isIdle(now: now, timeout: idleTimeout) {
            end(session, reason: "idle")
        }
    }

    /// Ends every session (server shutdown).
    func endAll() {
        let (sessions, heartbeat) = state.withLock { state in
            defer {
                state.sessions.removeAll()
                state.heartbeat = nil
            }
            return (Array(state.sessions.values), state.heartbeat)
        }
        heartbeat?.cancel()
        for session in sessions { session.end() }
    }

    private func startHeartbeatLocked(_ state: inout State) {
        guard state.heartbeat == nil else { return }
        let interval = configuration.keepAliveInterval
        state.heartbeat = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, self.beat() else { return }
            }
        }
    }

    /// One heartbeat; false (and the heartbeat stops) once no session is left.
    private func beat() -> Bool {
        sweep()
        let sessions = state.withLock { state -> [MCPSession]? in
            if state.sessions.isEmpty {
                state.heartbeat = nil
                return nil
            }
            return Array(state.sessions.values)
        }
        guard let sessions else { return false }
        for session in sessions { session.sendKeepAlive() }
        return true
    }
}
