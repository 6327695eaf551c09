import NIOCore

/// Tells a client that stopped reading a response from one that reads slowly: a response counts as
/// stalled once bytes have been waiting to go out for the idle timeout without any of them reaching the
/// socket. A slow but steady reader keeps it fresh, so it is never cut off.
///
/// Both protocols keep one per response going out (HTTP/1.1: one per connection, which answers one request
/// at a time; HTTP/2: one per stream) and note progress when bytes reach the socket or nghttp2.
struct StallWatch {
    /// What a check found.
    enum Verdict: Equatable, Sendable {
        /// No progress for the whole limit: the client stopped reading.
        case stalled
        /// Progress within the limit; the earliest it could be stalled is this far away.
        case quiet(remaining: TimeAmount)
    }

    /// When bytes last went out (or began to wait for an empty socket); `distantFuture` until then.
    private(set) var lastProgress: NIODeadline

    init(since start: NIODeadline = .distantFuture) {
        lastProgress = start
    }

    mutating func progressed(at now: NIODeadline) {
        lastProgress = now
    }

    func verdict(at now: NIODeadline, limit: TimeAmount) -> Verdict {
        let due = lastProgress + limit
        return due <= now ? .stalled : .quiet(remaining: due - now)
    }

    func isStalled(at now: NIODeadline, limit: TimeAmount) -> Bool {
        lastProgress + limit <= now
    }
}

/// Responses whose last byte has not reached the socket yet (HTTP/1.1, where they carry no promise each
/// and one marker write stands for a burst of them): a client downloading slowly is not idle, and closing
/// under it would cut its response short.
struct ResponseDrain {
    /// Writes whose completion is awaited.
    private(set) var inFlight = 0
    /// Progress of what is going out, for ``StallWatch``.
    private(set) var watch: StallWatch

    init(now: NIODeadline) {
        watch = StallWatch(since: now)
    }

    var isDraining: Bool { inFlight > 0 }

    /// A write is now awaited; the stall watch must run.
    mutating func began(at now: NIODeadline) {
        inFlight += 1
        watch.progressed(at: now)
    }

    /// An awaited write completed (or failed: the connection is going anyway).
    mutating func completed(at now: NIODeadline) {
        inFlight -= 1
        watch.progressed(at: now)
    }

    /// Bytes reached the socket (a slice of a large body, or the socket became writable again).
    mutating func progressed(at now: NIODeadline) {
        watch.progressed(at: now)
    }
}

extension RequestBodyBuffer {
    /// What ``watchClient(limit:)`` found.
    enum ClientWatch: Equatable {
        /// The body ended, failed or was discarded: nothing to watch.
        case over
        /// The client kept the handler waiting for the limit: the body failed with ``RequestBodyError/timedOut``.
        case timedOut
        /// The client is keeping up; look again after this long.
        case checkAgain(after: Duration)
    }

    /// A streamed request body has no deadline as a whole (the handler sets the pace); the client may only
    /// keep the handler waiting for `limit` (the request timeout), after which the body fails.
    func watchClient(limit: Duration) -> ClientWatch {
        guard isOpen else { return .over }
        if let quiet = clientStall(atLeast: limit) {
            fail(.timedOut(after: quiet))
            return .timedOut
        }
        let elapsed = ContinuousClock.now - lastProgress
        return .checkAgain(after: elapsed < limit ? limit - elapsed : limit)
    }
}
