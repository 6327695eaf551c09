import NIOCore

/// Every decision about one HTTP/2 stream (one request and its response) that nghttp2 leaves to the server:
/// its limits (431, 413, 408), when the request is dispatched, the flow-control credit of a streamed body,
/// when the response has ended, and whether the stream is reset after its answer. A value kept in the
/// stream (``HTTP2ConnectionHandler/Stream``), which also holds the request and the response bytes; the
/// handler performs the actions. Tests drive it without sockets.
///
/// Noncopyable: the stream mutates its one copy in place; a copy mutated instead would be a stream
/// forgetting what it decided.
struct HTTP2StreamStateMachine: ~Copyable {
    /// Where the exchange is.
    enum State: Equatable, Sendable {
        /// HEADERS and DATA arriving; the whole request must arrive by ``receiveBy`` (408 after).
        case receiving
        /// The request went to its handler (a streamed body may still be arriving); no response yet.
        case dispatched
        /// A response was submitted; `ended` once no more body bytes are coming (the rest is nghttp2 taking
        /// what is buffered).
        case responding(ended: Bool)
    }

    /// A request the server answers itself.
    enum Refusal: Equatable, Sendable {
        /// 431.
        case headersTooLarge
        /// 413.
        case bodyTooLarge
        /// 408.
        case timedOut
    }

    enum HeaderAction: Equatable, Sendable {
        /// Keep the field.
        case add
        /// The header block went past the limit: forget the fields kept so far (the request is refused once
        /// its headers are complete).
        case dropAll
        /// Refused already: ignore the field.
        case ignore
    }

    enum PlanAction: Equatable, Sendable {
        case refuse(Refusal)
        /// Dispatch now, the body (if any) streaming to the handler.
        case dispatchStreaming
        /// Dispatch now: the HEADERS ended the stream.
        case dispatch
        /// Collect DATA until the stream ends.
        case collect
    }

    enum DataAction: Equatable, Sendable {
        /// Hand the bytes to the streamed body; their credit goes back as the handler reads them.
        case toHandler
        /// The handler is done with the body: drop the bytes, but credit them, so the client can finish.
        case dropCredited
        /// Append to the collected body.
        case append
        case refuse(Refusal)
        /// Not wanted (refused or answered): consumed and dropped.
        case ignore
    }

    enum EndAction: Equatable, Sendable {
        case none
        /// The streamed body is complete.
        case finishStreamedBody
        case dispatch
    }

    private(set) var state = State.receiving
    /// When the whole request must have arrived.
    private(set) var receiveBy: NIODeadline
    private(set) var headerBytes = 0
    /// The refusal decided (or pending, for headers too large until they are complete).
    private(set) var refusal: Refusal?
    private(set) var bodyLimit = Int.max
    /// Body bytes of a streamed request that arrived, and those whose flow-control credit went back.
    private(set) var inboundArrived = 0
    private(set) var inboundCredited = 0
    /// The handler is done with the streamed body: what still arrives is dropped.
    private(set) var inboundDiscarded = false
    /// Reset the stream (RST_STREAM NO_ERROR) a while after the answer, unless the body ends first.
    private(set) var resetAfterResponse = false
    /// When response bytes were last queued into an empty buffer or handed to nghttp2.
    private(set) var progress = StallWatch()

    init(receiveBy: NIODeadline) {
        self.receiveBy = receiveBy
    }

    var isDispatched: Bool { state != .receiving }
    var hasResponded: Bool {
        if case .responding = state { true } else { false }
    }
    var outboundEnded: Bool { state == .responding(ended: true) }

    // MARK: Request

    /// A header field of `size` bytes (name, value and 32, as HTTP/2 counts them) against `limit`.
    mutating func header(size: Int, limit: Int) -> HeaderAction {
        headerBytes += size
        if headerBytes > limit {
            refusal = .headersTooLarge
            return .dropAll
        }
        return refusal == nil ? .add : .ignore
    }

    /// The header block is complete: a refusal decided while it arrived, or nil to go on.
    func headersComplete() -> Refusal? {
        refusal
    }

    /// The route's body plan is known. A request ending with its HEADERS frame has no body, whatever
    /// `Content-Length` says.
    mutating func planned(limit: Int, streamed: Bool, endStream: Bool, contentLength: Int?) -> PlanAction {
        bodyLimit = limit
        if !endStream, let contentLength, contentLength > limit { return .refuse(.bodyTooLarge) }
        if streamed { return .dispatchStreaming }
        return endStream ? .dispatch : .collect
    }

    /// DATA of `count` bytes; `collected` bytes are in the body so far.
    mutating func data(_ count: Int, streamedBody: Bool, collected: Int) -> DataAction {
        if streamedBody {
            inboundArrived += count
            guard !inboundDiscarded else {
                inboundCredited += count
                return .dropCredited
            }
            return .toHandler
        }
        guard refusal == nil, state == .receiving else { return .ignore }
        return collected + count <= bodyLimit ? .append : .refuse(.bodyTooLarge)
    }

    /// END_STREAM.
    func ended(streamedBody: Bool) -> EndAction {
        if streamedBody { return .finishStreamedBody }
        return refusal == nil && state == .receiving ? .dispatch : .none
    }

    /// Whether the request goes to its handler now (not once it was answered).
    mutating func dispatch() -> Bool {
        guard !hasResponded else { return false }
        receiveBy = .distantFuture
        state = .dispatched
        return true
    }

    /// The handler of a streamed body took `consumed` bytes: whether their credit goes back to the client.
    mutating func bodyConsumed(_ consumed: Int) -> Bool {
        guard !inboundDiscarded else { return false }
        inboundCredited += consumed
        return true
    }

    /// The handler is done with a streamed body it did not read to the end (`bodyComplete` false): the
    /// credit still owed goes back at once, and the rest is dropped as it arrives; nil when nothing changes.
    mutating func abandonBody(bodyComplete: Bool) -> Int? {
        guard !bodyComplete, !inboundDiscarded else { return nil }
        inboundDiscarded = true
        resetAfterResponse = true
        defer { inboundCredited = inboundArrived }
        return inboundArrived - inboundCredited
    }

    // MARK: Response

    /// The server refuses the request: whether to answer (not once a response went out). The stream is
    /// reset a while after the answer, as the client may still be sending.
    mutating func refuse(_ refusal: Refusal, at now: NIODeadline) -> Bool {
        guard !hasResponded else { return false }
        receiveBy = .distantFuture
        self.refusal = refusal
        resetAfterResponse = true
        state = .responding(ended: true)
        progress.progressed(at: now)
        return true
    }

    /// The handler's response: whether it goes out (not after a refusal, or twice). A byte body has ended
    /// with it (`ended`); a streamed one ends with ``bodyEnded()``.
    mutating func respond(ended: Bool, at now: NIODeadline) -> Bool {
        guard !hasResponded else { return false }
        state = .responding(ended: ended)
        if ended { progress.progressed(at: now) }
        return true
    }

    /// Whether a producer's chunk is taken: not once its body has ended.
    var acceptsChunks: Bool { !outboundEnded }

    /// The producer's body is over.
    mutating func bodyEnded() {
        state = .responding(ended: true)
    }

    /// Response bytes went out (or were queued into an empty buffer).
    mutating func progressed(at now: NIODeadline) {
        progress.progressed(at: now)
    }

    /// The answer is out: how long to wait before resetting the stream, when it is to be reset. The rest of
    /// an abandoned body gets longer to arrive than a refused one.
    mutating func answerOut(refusedBodyGrace: TimeAmount, abandonedBodyDrain: TimeAmount) -> TimeAmount? {
        guard resetAfterResponse else { return nil }
        resetAfterResponse = false
        return inboundDiscarded ? abandonedBodyDrain : refusedBodyGrace
    }

    // MARK: Housekeeping

    /// The request has not fully arrived in time.
    func isOverdue(at now: NIODeadline) -> Bool {
        !hasResponded && receiveBy < now
    }

    /// A response with `buffered` bytes waiting that made no progress for `limit`: its client stopped reading.
    func isStalled(at now: NIODeadline, limit: TimeAmount, buffered: Int) -> Bool {
        hasResponded && buffered > 0 && progress.isStalled(at: now, limit: limit)
    }
}
