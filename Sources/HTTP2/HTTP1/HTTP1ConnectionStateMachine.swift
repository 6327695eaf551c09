import NIOCore

/// Every decision of one HTTP/1.1 connection, as a value: ``HTTP1ConnectionHandler`` tells it what happened
/// (a request head, body bytes, a response ready, a timer tick, a shutdown) and performs the action it
/// returns (dispatch, refuse, close, flush). It holds no channel, task or buffer, so tests drive it without
/// sockets.
///
/// One request is served at a time: ``State`` says where the current one is. Requests a client pipelines
/// behind it are held by the handler, in order; this machine counts them and says when they are handed on.
///
/// Noncopyable: the handler mutates its one copy in place, and a copy taken by mistake (and mutated instead)
/// would be a connection forgetting what it decided.
struct HTTP1ConnectionStateMachine: ~Copyable {
    /// Where the request in flight is.
    enum State: Equatable, Sendable {
        /// Waiting for the next request head. `waitingForBytes` until its first byte arrives: the idle (or,
        /// on a new connection, header) timeout runs until then, the header timeout after.
        case idle(waitingForBytes: Bool)
        /// The head arrived; the body is being collected up to the route's limit.
        case receiving(Receiving)
        /// The request went to its handler (a streamed body may still be arriving); `producing` while a
        /// streamed response body goes out.
        case responding(producing: Bool)
        /// A refused request (or one answered before its streamed body ended): what still arrives of its
        /// body is dropped, and the connection closes after a while.
        case discarding
        /// The channel is gone (or was handed to HTTP/2): late answers are dropped.
        case closed
    }

    /// A request whose body is being collected.
    struct Receiving: Equatable, Sendable {
        var received = 0
        let limit: Int
        /// The request asked for `h2c` and gets it once it has ended.
        let upgrades: Bool
    }

    /// What the handler knows about a request head when it arrives.
    struct Head: Equatable, Sendable {
        /// Whether the client lets the connection persist (`Connection`, version).
        var keepAlive: Bool
        var minorVersion: Int
        /// The head's size as the header limit counts it.
        var size: Int
        /// `Content-Length`, when given.
        var contentLength: Int?
        /// The route's body limit, and whether it streams the body to its handler.
        var bodyLimit: Int
        var streamsBody: Bool
        /// The parser stopped after this request because it asks to upgrade.
        var asksToUpgrade: Bool
        /// It asks for `h2c` the way RFC 7540 §3.2 says (valid `HTTP2-Settings`, no body).
        var offersH2C: Bool
    }

    /// Why the server refuses a request itself; the connection closes after the answer.
    enum Refusal: Equatable, Sendable {
        /// 431.
        case headersTooLarge
        /// 413.
        case bodyTooLarge
    }

    enum HeadAction: Equatable, Sendable {
        /// Not a moment for a head (one is being answered); dropped.
        case ignore
        /// Answer the refusal, then drop the body for a while and close (``State/discarding``).
        case refuse(Refusal)
        /// Collect the body (the request timeout runs).
        case collectBody
        /// Dispatch now, the body streaming to the handler as it arrives.
        case dispatchStreamingBody
    }

    enum BodyAction: Equatable, Sendable {
        case ignore
        /// Append the bytes to the request's body.
        case append
        case refuse(Refusal)
    }

    enum EndAction: Equatable, Sendable {
        case none
        /// The streamed body is complete; then, when `closeAfterRefusal`, close behind the refusal.
        case finishStreamedBody(closeAfterRefusal: Bool)
        /// Run the request.
        case dispatch
        /// Answer 101 and hand the connection to HTTP/2, which answers the request on stream 1.
        case upgrade
        /// The refused body is over: close behind the refusal.
        case closeAfterRefusal
    }

    /// What to do after a response's last bytes were written.
    enum AfterResponse: Equatable, Sendable {
        /// The handler left part of its streamed body unread: drop the rest for a while, then close.
        case discardRestOfBody
        /// Close once the response is out, letting the client read it first.
        case closeLingering
        /// Keep the connection: resume a parser stopped after an upgrade request, then hand on what was
        /// pipelined.
        case nextRequest(resumeParsing: Bool)
    }

    enum TimeoutAction: Equatable, Sendable {
        case none
        /// Idle with nothing left to send: close.
        case close
        /// Answer 408 for the head (`.header`, `.idle`) or the body (`.request`), then close.
        case answerTimeout(ConnectionTimer.Reason)
    }

    enum QuiesceAction: Equatable, Sendable {
        case none
        case close
        /// A response is still on its way to a slow reader: close behind it.
        case closeAfterDrain
        /// A streamed response body is going out: cancel its producer, so the body ends cleanly.
        case cancelProducer
    }

    enum MalformedAction: Equatable, Sendable {
        /// Answer 400 (or 431) and close.
        case answerAndClose
        /// A response is already out or on its way; a second would be taken for the next request's: close.
        case close
    }

    enum StallAction: Equatable, Sendable {
        case none
        /// The client stopped reading its response: close.
        case close
        case checkAgain(in: TimeAmount)
    }

    /// How a streamed response goes out.
    struct StreamedResponse: Equatable, Sendable {
        var framing: HTTP1ResponseEncoder.Framing
        /// A HEAD's, or a status without a body: the head only.
        var headOnly: Bool
    }

    let maximumHeaderBytes: Int
    /// Whether `Upgrade: h2c` is honoured (cleartext connections only).
    let acceptsH2C: Bool

    private(set) var state = State.idle(waitingForBytes: true)
    /// Whether the connection persists after the current response.
    private(set) var keepAlive = true
    private(set) var shuttingDown = false
    /// The current request's end arrived: what comes next belongs to the next request.
    private(set) var requestEnded = false
    /// The version the current request came in with (an HTTP/1.0 client gets no chunked body).
    private(set) var minorVersion = 1
    /// The current request asked to upgrade, so the parser stopped after it.
    private(set) var parserStopped = false
    /// Requests dispatched and answered.
    private(set) var dispatched = 0
    private(set) var answered = 0
    /// Parts the handler holds for requests pipelined behind the one being answered.
    private(set) var heldParts = 0
    /// A `read()` was held back.
    private(set) var readHeld = false
    /// Keep-alive responses were written since the last flush without a promise of their own.
    private(set) var drainUnchecked = false
    /// How the streamed response going out frames its body.
    private(set) var streamedResponse = StreamedResponse(framing: .chunked, headOnly: false)
    private(set) var timer: ConnectionTimer
    private(set) var flushes = FlushSchedule(afterReads: .endOfTick, otherwise: .now)
    private(set) var drain: ResponseDrain

    init(maximumHeaderBytes: Int, acceptsH2C: Bool, timeouts: TimeoutAmounts, now: NIODeadline) {
        self.maximumHeaderBytes = maximumHeaderBytes
        self.acceptsH2C = acceptsH2C
        timer = ConnectionTimer(timeouts)
        drain = ResponseDrain(now: now)
    }

    /// Whether request parts arriving now belong to a request pipelined behind the one being answered.
    var holdsPipelined: Bool {
        if case .responding = state { requestEnded } else { false }
    }

    var isClosed: Bool { state == .closed }

    /// Whether the request in flight streams a response body.
    var isProducing: Bool {
        if case .responding(producing: true) = state { true } else { false }
    }

    /// What the `connection` field says: close when the connection ends after this response; keep-alive
    /// only to an HTTP/1.0 client (HTTP/1.1 persists unless told otherwise).
    var persistence: HTTP1ResponseEncoder.Persistence {
        !keepAlive ? .close : minorVersion == 0 ? .keepAlive : .unsaid
    }

    // MARK: Connection

    /// The handler was added: the header timeout runs until a request arrives.
    mutating func started(at now: NIODeadline) {
        timer.arm(.header, at: now)
    }

    /// The channel is gone, or handed to HTTP/2.
    mutating func closed() {
        state = .closed
        timer.disarm()
    }

    // MARK: Reading

    /// Bytes arrived, before the parser sees them: a read burst is on, and the first byte of a request
    /// starts its header timeout (slow-header detection).
    /// The clock is read only when a timeout is armed: most reads arm none.
    mutating func bytesArrived(at now: @autoclosure () -> NIODeadline) {
        _ = flushes.readBegan()
        guard case .idle(waitingForBytes: true) = state else { return }
        state = .idle(waitingForBytes: false)
        timer.arm(.header, at: now())
    }

    /// Whether a request part the parser found is handled now (true) or held behind the request being
    /// answered, to be handed on by ``nextHeldPart()``.
    mutating func partArrived() -> Bool {
        guard holdsPipelined || (!flushes.replaying && heldParts > 0) else { return true }
        heldParts += 1
        return false
    }

    /// Whether to hand on the next held part (the handler pops it); false once one is being answered.
    mutating func nextHeldPart() -> Bool {
        guard !holdsPipelined, heldParts > 0 else { return false }
        heldParts -= 1
        return true
    }

    mutating func head(_ head: Head, at now: @autoclosure () -> NIODeadline) -> HeadAction {
        switch state {
        case .idle:
            requestEnded = false
            minorVersion = head.minorVersion
            keepAlive = head.keepAlive && !shuttingDown
            if head.size > maximumHeaderBytes {
                startDiscarding()
                return .refuse(.headersTooLarge)
            }
            if let length = head.contentLength, length > head.bodyLimit {
                startDiscarding()
                return .refuse(.bodyTooLarge)
            }
            parserStopped = head.asksToUpgrade
            if head.streamsBody {
                dispatch()
                return .dispatchStreamingBody
            }
            let upgrades = acceptsH2C && head.asksToUpgrade && keepAlive && head.offersH2C
            state = .receiving(Receiving(limit: head.bodyLimit, upgrades: upgrades))
            timer.arm(.request, at: now())
            return .collectBody
        case .receiving, .responding, .discarding, .closed:
            return .ignore
        }
    }

    /// Body bytes of a request whose body is collected (a streamed body goes to its buffer instead).
    mutating func body(_ count: Int) -> BodyAction {
        switch state {
        case .receiving(var receiving):
            guard receiving.received + count <= receiving.limit else {
                startDiscarding()
                return .refuse(.bodyTooLarge)
            }
            receiving.received += count
            state = .receiving(receiving)
            return .append
        case .idle, .responding, .discarding, .closed:
            return .ignore
        }
    }

    /// The request's end; `streamedBody` when its body streams to the handler.
    mutating func end(streamedBody: Bool) -> EndAction {
        requestEnded = true
        if streamedBody {
            return .finishStreamedBody(closeAfterRefusal: state == .discarding)
        }
        switch state {
        case .receiving(let receiving):
            if receiving.upgrades {
                timer.disarm()
                state = .responding(producing: false)
                return .upgrade
            }
            dispatch()
            return .dispatch
        case .discarding:
            return .closeAfterRefusal
        case .idle, .responding, .closed:
            return .none
        }
    }

    /// The connection cannot be reused after the current response: its streamed body went past its limit
    /// (the handler answers 413), its client stalled (408), or the handler answered without reading it all.
    /// The rest of a body cannot be skipped reliably.
    mutating func closeAfterResponse() {
        keepAlive = false
    }

    /// The channel asks for a read; whether to pass it on now. Held back while the handler of a streamed
    /// body has a high watermark's worth unread (`bodyBacklogged`), while pipelined requests wait, and
    /// while the parser holds the bytes after an upgrade request: the client then waits in TCP flow control.
    mutating func read(bodyBacklogged: Bool, parserHolds: Bool) -> Bool {
        guard !bodyBacklogged, heldParts == 0, !parserHolds else {
            readHeld = true
            return false
        }
        return true
    }

    /// Whether a read held back may go out now.
    mutating func releaseRead(parserHolds: Bool) -> Bool {
        guard readHeld, heldParts == 0, !parserHolds else { return false }
        readHeld = false
        return true
    }

    /// A read held back, taken whatever else waits (the connection goes to HTTP/2, which reads for itself).
    mutating func takeHeldRead() -> Bool {
        defer { readHeld = false }
        return readHeld
    }

    /// The read burst is over (`channelReadComplete`).
    mutating func readEnded() -> FlushSchedule.Action {
        flushes.readEnded()
    }

    /// The parser resumes after a declined upgrade: a read of its own unless one is on.
    mutating func resumeBegan() -> Bool {
        flushes.readBegan()
    }

    mutating func replayBegan() -> Bool {
        flushes.replayBegan()
    }

    mutating func replayEnded() -> FlushSchedule.Action {
        flushes.replayEnded()
    }

    // MARK: Responding

    /// Whether the handler, started for request `number`, is still the one answering (its task is kept
    /// for cancellation); false when it answered within the call.
    func stillAnswering(_ number: Int) -> Bool {
        answered < number
    }

    /// A response is ready; false when the connection is gone (nothing to write).
    mutating func responseReady() -> Bool {
        if case .closed = state { return false }
        answered += 1
        return true
    }

    /// A streamed response body starts: how it is framed. HTTP/1.0 has no chunked coding, so its body ends
    /// with the connection.
    mutating func streamStarts(bodyAllowed: Bool, isHead: Bool) -> StreamedResponse {
        if case .responding = state { state = .responding(producing: true) }
        if minorVersion == 0 && bodyAllowed && !isHead { keepAlive = false }
        streamedResponse = StreamedResponse(
            framing: !bodyAllowed ? .none : minorVersion == 0 ? .untilClose : .chunked,
            headOnly: isHead || !bodyAllowed
        )
        return streamedResponse
    }

    /// The response's last bytes are being written; whether the connection stays open (they then carry no
    /// promise unless someone waits for them). A connection that stays open waits for the next request.
    mutating func responseEnding(at now: @autoclosure () -> NIODeadline) -> Bool {
        if case .responding = state { state = .responding(producing: false) }
        guard keepAlive else { return false }
        if case .responding = state {
            state = .idle(waitingForBytes: true)
            timer.arm(.idle, at: now())
        }
        return true
    }

    /// The response's last bytes were handed to the channel.
    mutating func responseEnded(abandonedBody: Bool) -> AfterResponse {
        if abandonedBody {
            state = .discarding
            timer.disarm()
            return .discardRestOfBody
        }
        guard keepAlive else { return .closeLingering }
        defer { parserStopped = false }
        return .nextRequest(resumeParsing: parserStopped)
    }

    /// A keep-alive response went out without a promise: the next flush checks what the socket kept.
    mutating func wroteUntracked() {
        drainUnchecked = true
    }

    /// After a flush: whether untracked responses went out since the last one (and the socket's backlog
    /// needs a marker write).
    mutating func flushed() -> Bool {
        defer { drainUnchecked = false }
        return drainUnchecked
    }

    /// Bytes were written; when to flush them.
    mutating func wrote() -> FlushSchedule.Action {
        flushes.wrote()
    }

    mutating func scheduledFlushRan() {
        flushes.scheduledFlushRan()
    }

    /// A write whose completion is awaited (the last of a response, or a marker standing for several).
    mutating func drainBegan(at now: NIODeadline) {
        drain.began(at: now)
    }

    mutating func drainCompleted(at now: NIODeadline) {
        drain.completed(at: now)
    }

    /// Response bytes reached the socket (a slice of a large body, or the socket is writable again).
    mutating func responseProgressed(at now: NIODeadline) {
        drain.progressed(at: now)
    }

    /// The stall watch's check: a response (or a producer waiting to write) that made no progress for the
    /// idle timeout belongs to a client that stopped reading.
    func stallCheck(at now: NIODeadline, limit: TimeAmount, writersWaiting: Bool) -> StallAction {
        guard drain.isDraining || writersWaiting else { return .none }
        switch drain.watch.verdict(at: now, limit: limit) {
        case .stalled: return .close
        case .quiet(let remaining): return .checkAgain(in: remaining)
        }
    }

    // MARK: Timeouts, shutdown, errors

    /// The housekeeping tick.
    mutating func tick(at now: NIODeadline) -> TimeoutAction {
        guard let reason = timer.expire(at: now) else { return .none }
        switch (reason, state) {
        case (.idle, .idle(waitingForBytes: true)):
            // Idle means nothing left to send either; a stalled reader is the stall watch's business.
            guard drain.isDraining else { return .close }
            timer.arm(.idle, at: now)
            return .none
        case (.header, .idle), (.idle, .idle), (.request, .receiving):
            keepAlive = false
            state = .responding(producing: false)
            return .answerTimeout(reason)
        default:
            return .none
        }
    }

    /// `ChannelShouldQuiesceEvent`: no further request; close after the current response. A response still
    /// being computed is left to finish (cancelling its handler would turn an accepted request into a 503).
    mutating func quiesce() -> QuiesceAction {
        shuttingDown = true
        keepAlive = false
        switch state {
        case .idle: return drain.isDraining ? .closeAfterDrain : .close
        case .responding(producing: true): return .cancelProducer
        case .receiving, .responding, .discarding, .closed: return .none
        }
    }

    /// The parser failed on the client's bytes; the connection is never kept.
    mutating func malformed() -> MalformedAction {
        keepAlive = false
        switch state {
        case .idle, .receiving:
            state = .responding(producing: false)
            return .answerAndClose
        case .discarding, .responding, .closed:
            return .close
        }
    }

    // MARK: Transitions shared by several events

    private mutating func dispatch() {
        timer.disarm()
        state = .responding(producing: false)
        dispatched += 1
    }

    /// A refusal: the unread body cannot be skipped reliably, so the connection closes after the answer.
    private mutating func startDiscarding() {
        keepAlive = false
        state = .discarding
        timer.disarm()
    }
}
