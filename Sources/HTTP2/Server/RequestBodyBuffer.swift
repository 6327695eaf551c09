import Synchronization

/// The part of a streamed request body the server holds: filled by a connection handler on its event loop,
/// emptied by the request's handler through ``RequestBodyStream``.
///
/// The buffer does not decide when the client may send more; it tells its connection, through
/// `onConsumed`, that the handler took bytes, and the connection reopens the flow (HTTP/1.1: reads from the
/// socket again; HTTP/2: returns flow-control credit). At most one such notice is pending at a time: the
/// connection collects everything taken since with ``takeConsumed()``.
final class RequestBodyBuffer: Sendable {
    enum AppendResult: Equatable {
        /// Kept for the handler; the bytes now held.
        case buffered(Int)
        /// Past the limit: the body failed with ``RequestBodyError/tooLarge``.
        case overLimit
        /// Dropped: the handler is done with the body, or it already ended or failed.
        case dropped
    }

    private struct State {
        var chunks: [[UInt8]] = []
        var head = 0
        var buffered = 0
        var peakBuffered = 0
        var received = 0
        var unreported = 0
        var reportPending = false
        var ended = false
        var failure: RequestBodyError?
        var discarding = false
        var lastProgress = ContinuousClock.now
        var waiter: CheckedContinuation<Result<[UInt8]?, RequestBodyError>, Never>?

        mutating func take() -> [UInt8]? {
            guard head < chunks.count else { return nil }
            let chunk = chunks[head]
            chunks[head] = []
            head += 1
            if head == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                head = 0
            }
            buffered -= chunk.count
            return chunk
        }

        /// Counts bytes the handler took; true when the connection must be told.
        mutating func noteTaken(_ count: Int) -> Bool {
            unreported += count
            lastProgress = .now
            guard !reportPending else { return false }
            reportPending = true
            return true
        }

        mutating func dropChunks() {
            chunks.removeAll()
            head = 0
            buffered = 0
        }
    }

    /// Bytes allowed in all.
    let limit: Int
    private let state = Mutex(State())
    private let onConsumed: @Sendable () -> Void

    init(limit: Int, onConsumed: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.onConsumed = onConsumed
    }

    // MARK: Connection side (event loop)

    /// Adds bytes that arrived; a handler waiting for them gets them at once.
    func append(_ bytes: [UInt8]) -> AppendResult {
        guard !bytes.isEmpty else { return .buffered(bufferedBytes) }
        var waiter: CheckedContinuation<Result<[UInt8]?, RequestBodyError>, Never>?
        var result: Result<[UInt8]?, RequestBodyError> = .success(bytes)
        var notify = false
        let outcome = state.withLock { state -> AppendResult in
            guard !state.discarding, !state.ended, state.failure == nil else { return .dropped }
            state.received += bytes.count
            if state.received > limit {
                state.failure = .tooLarge(limit: limit)
                state.dropChunks()
                waiter = state.waiter
                state.waiter = nil
                result = .failure(.tooLarge(limit: limit))
                return .overLimit
            }
            state.lastProgress = .now
            if let waiting = state.waiter {
                state.waiter = nil
                waiter = waiting
                notify = state.noteTaken(bytes.count)
                return .buffered(state.buffered)
            }
            state.chunks.append(bytes)
            state.buffered += bytes.count
            state.peakBuffered = max(state.peakBuffered, state.buffered)
            return .buffered(state.buffered)
        }
        waiter?.resume(returning: result)
        if notify { onConsumed() }
        return outcome
    }

    /// The last byte arrived.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Result<[UInt8]?, RequestBodyError>, Never>? in
            guard state.failure == nil, !state.ended else { return nil }
            state.ended = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .success(nil))
    }

    /// Ends an unfinished body with `error`; what was buffered is dropped. Does nothing once the body ended.
    func fail(_ error: RequestBodyError) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<[UInt8]?, RequestBodyError>, Never>? in
            guard state.failure == nil, !state.ended else { return nil }
            state.failure = error
            state.dropChunks()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: .failure(error))
    }

    /// The handler is done with the body: what is buffered and whatever still arrives is dropped.
    func discard() {
        state.withLock { state in
            state.discarding = true
            state.dropChunks()
        }
    }

    /// Bytes the handler took since the last call (what the connection may let the client send again).
    func takeConsumed() -> Int {
        state.withLock { state in
            state.reportPending = false
            defer { state.unreported = 0 }
            return state.unreported
        }
    }

    var bufferedBytes: Int { state.withLock { $0.buffered } }
    var receivedBytes: Int { state.withLock { $0.received } }
    /// The most bytes held at once (tests check that backpressure bounds it).
    var peakBufferedBytes: Int { state.withLock { $0.peakBuffered } }
    /// Whether every byte arrived.
    var isComplete: Bool { state.withLock { $0.ended } }
    /// Whether more bytes are still welcome: not ended, failed or discarded.
    var isOpen: Bool { state.withLock { !$0.ended && $0.failure == nil && !$0.discarding } }

    /// How long the server has been waiting for the client with nothing buffered, when that is at least
    /// `limit`; nil while the handler has bytes to read (the wait is then the handler's, not the client's).
    func clientStall(atLeast limit: Duration) -> Duration? {
        state.withLock { state in
            guard !state.ended, state.failure == nil, !state.discarding, state.buffered == 0 else { return nil }
            let quiet = ContinuousClock.now - state.lastProgress
            return quiet >= limit ? quiet : nil
        }
    }

    /// When the client last made progress (bytes arrived or were taken), for scheduling the stall check.
    var lastProgress: ContinuousClock.Instant { state.withLock { $0.lastProgress } }

    // MARK: Handler side

    func next() async throws(RequestBodyError) -> [UInt8]? {
        enum Step {
            case chunk([UInt8], notify: Bool)
            case end
            case failure(RequestBodyError)
            case wait
        }
        let step = state.withLock { state -> Step in
            if let chunk = state.take() { return .chunk(chunk, notify: state.noteTaken(chunk.count)) }
            if let failure = state.failure { return .failure(failure) }
            if state.ended || state.discarding { return .end }
            return .wait
        }
        switch step {
        case .chunk(let chunk, let notify):
            if notify { onConsumed() }
            return chunk
        case .end:
            return nil
        case .failure(let error):
            throw error
        case .wait:
            break
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8]?, RequestBodyError>, Never>) in
                let immediate = state.withLock { state -> (Result<[UInt8]?, RequestBodyError>, notify: Bool)? in
                    if let chunk = state.take() { return (.success(chunk), state.noteTaken(chunk.count)) }
                    if let failure = state.failure { return (.failure(failure), false) }
                    if state.ended || state.discarding { return (.success(nil), false) }
                    if Task.isCancelled { return (.failure(.cancelled), false) }
                    state.waiter = continuation
                    return nil
                }
                if let (result, notify) = immediate {
                    if notify { onConsumed() }
                    continuation.resume(returning: result)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: .failure(.cancelled))
        }
        return try result.get()
    }
}
