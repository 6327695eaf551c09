import NIOCore

/// The one connection-level timeout a connection has running at a time (the request head, the request
/// body, or the idle wait between requests), checked by the connection's housekeeping tick rather than
/// armed as a timer of its own: one repeating check per connection is cheaper than a timer scheduled and
/// cancelled per request, at the price of firing up to one tick late.
///
/// A value: both connection handlers keep one and ask it, on every tick, whether it expired. Tests drive
/// it with made-up deadlines.
struct ConnectionTimer {
    /// What the running timeout waits for; it decides the amount (``TimeoutAmounts``) and the answer.
    enum Reason: Equatable, Sendable {
        /// The request head (slowloris), or the first bytes of a connection that sent none yet.
        case header
        /// The rest of a request whose head arrived.
        case request
        /// The next request on a connection with nothing in flight.
        case idle
    }

    private let amounts: TimeoutAmounts
    /// The running timeout and when it started counting.
    private(set) var reason: Reason?
    private var start = NIODeadline.distantFuture

    init(_ amounts: TimeoutAmounts) {
        self.amounts = amounts
    }

    /// When the running timeout expires; nil when none runs.
    var deadline: NIODeadline? {
        reason.map { start + amount($0) }
    }

    /// Replaces the running timeout with `reason`'s, counting from `now`.
    mutating func arm(_ reason: Reason, at now: NIODeadline) {
        self.reason = reason
        start = now
    }

    mutating func disarm() {
        reason = nil
    }

    /// Starts the running timeout over from `now` (traffic on a connection that counts idleness from its
    /// last activity); nothing when none runs.
    mutating func restart(at now: NIODeadline) {
        start = now
    }

    /// Changes what the running timeout waits for, keeping when it started (an HTTP/2 connection that has
    /// served a stream waits the idle timeout from its last activity, not the header timeout).
    mutating func change(to reason: Reason) {
        guard self.reason != nil else { return }
        self.reason = reason
    }

    /// The reason of a timeout that expired by `now`; it no longer runs once reported.
    mutating func expire(at now: NIODeadline) -> Reason? {
        guard let reason, start + amount(reason) <= now else { return nil }
        self.reason = nil
        return reason
    }

    private func amount(_ reason: Reason) -> TimeAmount {
        switch reason {
        case .header: amounts.header
        case .request: amounts.request
        case .idle: amounts.idle
        }
    }
}

extension HTTPServerConfiguration.Limits {
    /// The configured duration behind a timeout, for the message that names it.
    func timeout(_ reason: ConnectionTimer.Reason) -> Duration {
        switch reason {
        case .header: headerTimeout
        case .request: requestTimeout
        case .idle: idleTimeout
        }
    }
}
