import NIOCore

/// The connection-level decisions of one HTTP/2 connection, as a value: ``HTTP2ConnectionHandler`` tells it
/// what happened (reads, flushes, streams opening and closing, timer ticks, a shutdown) and performs the
/// action it returns. nghttp2 keeps the protocol's own state (streams, flow control, frames); this keeps
/// what nghttp2 does not: when to flush, when the connection idles out, the two-step GOAWAY of a graceful
/// shutdown, and when the connection closes. Tests drive it without sockets.
///
/// Noncopyable: the handler mutates its one copy in place, and a copy taken by mistake (and mutated instead)
/// would be a connection forgetting what it decided.
struct HTTP2ConnectionStateMachine: ~Copyable {
    /// Where the connection is in its life.
    enum State: Equatable, Sendable {
        /// Serving streams.
        case active
        /// A graceful shutdown began: the first GOAWAY (a shutdown notice, nghttp2's
        /// `nghttp2_submit_shutdown_notice`) is out; the final one, naming the last stream served, follows one
        /// round trip later (`goawaySent`). Streams in flight finish.
        case shuttingDown(goawaySent: Bool)
        /// The session is over: the connection closes once its last bytes are written, only draining what
        /// still arrives. `lingering` when the peer may read the rest and close first.
        case closing(lingering: Bool)
    }

    enum ReadAction: Equatable, Sendable {
        /// Feed the bytes to the session.
        case receive
        /// Feed the bytes to the session; they begin a burst of reads, at `now` (the handler's clock for it).
        case receiveStartingBurst(at: NIODeadline)
        /// A closing connection only drains what arrives.
        case drop
    }

    enum FlushEnd: Equatable, Sendable {
        case none
        /// The session ended (or the socket failed): close once what was written is out.
        case closeWhenWritten(lingering: Bool)
    }

    enum TickAction: Equatable, Sendable {
        case none
        /// Idle past its limit (or silent since it opened): GOAWAY, then close once it is written.
        case goawayAndClose
    }

    enum QuiesceAction: Equatable, Sendable {
        case none
        /// Send the shutdown notice, cancel the streamed responses (server-sent events end cleanly rather
        /// than hold the shutdown open) and come back in one round trip (``shutdownNoticeElapsed()``).
        case sendShutdownNotice
        /// Closing already: only cancel the streamed responses, so their producers stop now.
        case cancelStreamedResponses
    }

    enum GoawayAction: Equatable, Sendable {
        case none
        /// Send the final GOAWAY and flush it, then tell ``finalGoawayFlushed(streamsOpen:)``.
        case sendGoaway
    }

    private(set) var state = State.active
    /// The peer broke the protocol: the connection closes as soon as the GOAWAY is out, with no lingering.
    private(set) var failed = false
    /// Inside a flush (writes can report writability changes re-entrantly).
    private(set) var flushing = false
    private(set) var timer: ConnectionTimer
    private(set) var flushes = FlushSchedule(afterReads: .now, otherwise: .endOfTick)

    /// The header timeout runs from `now` until the connection has served a stream, the idle timeout after;
    /// both count from the last activity.
    init(timeouts: TimeoutAmounts, now: NIODeadline) {
        timer = ConnectionTimer(timeouts)
        timer.arm(.header, at: now)
    }

    var isClosing: Bool {
        if case .closing = state { true } else { false }
    }

    var isShuttingDown: Bool {
        switch state {
        case .active: false
        case .shuttingDown, .closing: true
        }
    }

    // MARK: Reading

    /// Bytes arrived. The first of a burst is activity: the idle timeout counts from it. The clock is read
    /// once per burst.
    mutating func readArrived(at clock: @autoclosure () -> NIODeadline) -> ReadAction {
        if case .closing = state { return .drop }
        guard flushes.readBegan() else { return .receive }
        let now = clock()
        timer.restart(at: now)
        return .receiveStartingBurst(at: now)
    }

    /// Inside a burst of reads (whose end flushes).
    var isReading: Bool { flushes.reading }

    /// The session refused the peer's bytes: it has queued a GOAWAY (or the handler queues one); send it and
    /// close without lingering.
    mutating func receiveFailed() {
        failed = true
    }

    /// The burst of reads is over.
    mutating func readEnded() -> FlushSchedule.Action {
        flushes.readEnded()
    }

    // MARK: Streams

    /// A stream opened: the connection has served one, so it idles out after the idle timeout from now on.
    mutating func streamOpened() {
        timer.change(to: .idle)
    }

    /// A stream closed: activity.
    mutating func streamClosed(at now: NIODeadline) {
        timer.restart(at: now)
    }

    // MARK: Writing

    /// Frames were queued (a response, credit for a streamed body); when to flush them.
    mutating func wrote() -> FlushSchedule.Action {
        flushes.wrote()
    }

    /// Whether a flush may run now: with a session and a channel (`canWrite`), not while closing, not inside
    /// another flush. A flush makes a queued one moot.
    mutating func flushBegan(canWrite: Bool) -> Bool {
        flushes.scheduledFlushRan()
        guard canWrite, !isClosing, !flushing else { return false }
        flushing = true
        return true
    }

    /// The flush is over; `healthy` unless the session failed to produce frames, `sessionAlive` while
    /// nghttp2 still wants to read or write.
    /// A flush queued for the end of the tick cannot run (the channel is gone).
    mutating func flushDropped() {
        flushes.scheduledFlushRan()
    }

    mutating func flushEnded(healthy: Bool, sessionAlive: Bool) -> FlushEnd {
        flushing = false
        guard !healthy || !sessionAlive else { return .none }
        return .closeWhenWritten(lingering: healthy && !failed)
    }

    /// The connection closes once what was written is out; false when it already does.
    mutating func closeWhenWritten(lingering: Bool) -> Bool {
        if case .closing = state { return false }
        state = .closing(lingering: lingering)
        return true
    }

    // MARK: Timers and shutdown

    /// The housekeeping tick; `streamsOpen` while any stream is.
    mutating func tick(at now: NIODeadline, streamsOpen: Bool) -> TickAction {
        guard !streamsOpen, case .active = state, timer.expire(at: now) != nil else { return .none }
        return .goawayAndClose
    }

    /// `ChannelShouldQuiesceEvent`: the first step of the two-step GOAWAY.
    mutating func quiesce() -> QuiesceAction {
        switch state {
        case .active:
            state = .shuttingDown(goawaySent: false)
            return .sendShutdownNotice
        case .closing:
            return .cancelStreamedResponses
        case .shuttingDown:
            return .none
        }
    }

    /// One round trip after the shutdown notice: the final GOAWAY, naming the last stream served.
    mutating func shutdownNoticeElapsed() -> GoawayAction {
        switch state {
        case .shuttingDown(goawaySent: false):
            state = .shuttingDown(goawaySent: true)
            return .sendGoaway
        case .active, .closing, .shuttingDown(goawaySent: true):
            return .none
        }
    }

    /// The final GOAWAY is out: with no stream left to finish the connection closes once it is written;
    /// otherwise the session ends with the last stream (the flush after it closes the connection).
    func finalGoawayFlushed(streamsOpen: Bool) -> Bool {
        !streamsOpen
    }
}
