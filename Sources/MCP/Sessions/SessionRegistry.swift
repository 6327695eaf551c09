import Tenancy
import Crypto
import Logging
import Synchronization

/// Every open MCP session, by id; bounded in number in total and per customer, with idle sessions expiring.
///
/// A heartbeat task runs while any session exists: every keep-alive interval it sends a keep-alive
/// comment on each open stream and ends sessions idle for longer than the idle timeout. Lookups also
/// check expiry, so an expired id gets 404 at once rather than at the next sweep.
///
/// A customer at its own limit (``MCPConfiguration/sessionLimit(for:)``) makes room by ending its session
/// quiet longest; the server-wide cap is out of any one customer's reach.
final class SessionRegistry: Sendable {
    private let configuration: MCPConfiguration
    /// ``MCPConfiguration/sessionIdleTimeout`` in milliseconds, converted once: checked on every request.
    private let idleTimeout: Int64
    private let logger: Logger
    let counters = MCPActivityCounters()
    private let state = Mutex(State())

    private struct State {
        var sessions: [String: MCPSession] = [:]
        /// Each customer's sessions, by customer id.
        var byCustomer: [String: [String: MCPSession]] = [:]
        var heartbeat: Task<Void, Never>?

        mutating func insert(_ session: MCPSession) {
            sessions[session.id] = session
            byCustomer[session.customer.id, default: [:]][session.id] = session
        }

        mutating func remove(_ session: MCPSession) -> MCPSession? {
            guard sessions[session.id] === session, let removed = sessions.removeValue(forKey: session.id) else { return nil }
            byCustomer[session.customer.id]?[session.id] = nil
            if byCustomer[session.customer.id]?.isEmpty == true { byCustomer[session.customer.id] = nil }
            return removed
        }
    }

    /// Why a session could not be created.
    enum Refusal: Error {
        /// The server-wide cap is reached.
        case serverFull(limit: Int)
        /// The customer has `limit` sessions open and none of them is quiet.
        case customerFull(limit: Int)

        /// What the client is told, with what to do.
        var message: String {
            switch self {
            case .serverFull:
                "too many MCP sessions are open on this server; close unused sessions (DELETE /mcp) or retry later"
            case .customerFull(let limit):
                "you have \(limit) MCP sessions open, the most your plan allows, and each is in use (an open stream or a request running); close unused sessions (DELETE /mcp, or close their event streams) or retry later"
            }
        }
    }

    private enum Admission {
        case admitted
        case serverFull
        /// The customer's sessions when it is at its limit, to choose one to end.
        case customerFull([MCPSession])
    }

    init(configuration: MCPConfiguration, logger: Logger) {
        self.configuration = configuration
        idleTimeout = CoarseClock.milliseconds(of: configuration.sessionIdleTimeout)
        self.logger = logger
    }

    var count: Int { state.withLock { $0.sessions.count } }

    /// Sessions `customer` has open.
    func count(of customer: Customer) -> Int { state.withLock { $0.byCustomer[customer.id]?.count ?? 0 } }

    /// Creates a session with a fresh random id (43 characters of base64url: visible ASCII, 256 bits).
    func create(transport: MCPSession.Transport, customer: Customer, version: MCPProtocolVersion) throws(Refusal) -> MCPSession {
        let session = MCPSession(
            id: RandomToken.urlSafe(byteCount: 32), transport: transport, customer: customer, version: version,
            limits: .init(
                replayEvents: configuration.replayBufferEvents, replayBytes: configuration.replayBufferBytes,
                queuedEvents: configuration.maximumQueuedEvents, requestsInFlight: configuration.maximumRequestsInFlight
            ),
            counters: counters
        )
        let limit = configuration.sessionLimit(for: customer)
        var swept = false
        // Each pass either admits, ends one of the customer's sessions, or sweeps once; bounded so that
        // concurrent creates by one customer cannot keep each other going.
        for _ in 0..<4 {
            let admission = state.withLock { state -> Admission in
                if let mine = state.byCustomer[customer.id], mine.count >= limit { return .customerFull(Array(mine.values)) }
                guard state.sessions.count < configuration.maximumSessions else { return .serverFull }
                state.insert(session)
                startHeartbeatLocked(&state)
                return .admitted
            }
            switch admission {
            case .admitted:
                logger.debug("mcp session opened", metadata: ["mcp.session": "\(session.id.prefix(8))", "mcp.transport": "\(transport.rawValue)", "customer.id": "\(customer.id)"])
                return session
            case .customerFull(let sessions):
                let quiet = sessions.compactMap { session in session.quietSince.map { (session, $0) } }
                guard let (oldest, _) = quiet.min(by: { $0.1 < $1.1 }) else {
                    logger.notice("mcp session refused: the customer is at its session limit and none is idle", metadata: [
                        "customer.id": "\(customer.id)", "mcp.customer_max_sessions": "\(limit)",
                    ])
                    throw .customerFull(limit: limit)
                }
                end(oldest, reason: "the customer reached its session limit")
                logger.info("mcp session ended to make room for the customer's new one", metadata: [
                    "mcp.session": "\(oldest.id.prefix(8))", "customer.id": "\(customer.id)", "mcp.customer_max_sessions": "\(limit)",
                ])
            case .serverFull:
                guard !swept else { throw serverFull() }
                // Make room from expired sessions before refusing.
                sweep()
                swept = true
            }
        }
        // Other creates took the room made on every pass.
        if count(of: customer) >= limit { throw .customerFull(limit: limit) }
        throw serverFull()
    }

    private func serverFull() -> Refusal {
        logger.warning("mcp session refused: at the session limit", metadata: ["mcp.max_sessions": "\(configuration.maximumSessions)"])
        return .serverFull(limit: configuration.maximumSessions)
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
        let removed = state.withLock { $0.remove(session) }
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
                state.byCustomer.removeAll()
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
