import Tenancy
import ToolRuntime
import JSON
import Synchronization

/// What an open server-sent-event stream is handed: an event to write, or a keep-alive comment.
enum StreamItem: Sendable {
    case event([UInt8])
    case keepAlive
}

/// A live subscription to one stream of a session; iterate `items`, and call
/// ``MCPSession/detach(_:)`` when done.
struct StreamSubscription: Sendable {
    let stream: Int
    let token: UInt64
    let items: AsyncStream<StreamItem>
    /// The event id to prime the stream with (clients on 2025-11-25 or later).
    let primingID: String?
}

/// One client's MCP session: negotiated state, the event streams it has open, the bounded buffer of
/// recent events for resumption, and the requests it has in flight (so they can be cancelled).
///
/// Streams are numbered per session: 0 is the standalone stream (`GET /mcp`, or the legacy `/sse` stream),
/// 1, 2, … are the streams answering POSTs in SSE mode. Event ids are `{stream}-{sequence}`, the sequence
/// counting every event of the session, so `Last-Event-ID` names both the stream to resume and the point.
final class MCPSession: Sendable {
    enum Transport: String, Sendable {
        case streamableHTTP = "streamable-http"
        case legacySSE = "sse"
    }

    let id: String
    let transport: Transport
    let customer: Customer
    let createdAt: ContinuousClock.Instant
    private let limits: Limits
    private let counters: MCPActivityCounters
    private let state: Mutex<State>

    struct Limits: Sendable {
        var replayEvents: Int
        var replayBytes: Int
        var queuedEvents: Int
        var requestsInFlight: Int
    }

    private struct BufferedEvent {
        let stream: Int
        let sequence: UInt64
        let bytes: [UInt8]
    }

    private struct Subscriber {
        let token: UInt64
        let continuation: AsyncStream<StreamItem>.Continuation
    }

    private struct State {
        var version: MCPProtocolVersion
        var initialized = false
        var clientName: String?
        var logLevel: MCPLogLevel = .info
        /// In ``CoarseClock/milliseconds()``: noted several times per request, where the precise clock costs.
        var lastActivity: Int64
        var ended = false
        var buffer: [BufferedEvent] = []
        var bufferedBytes = 0
        var sequence: UInt64 = 0
        var nextStream = 1
        /// POST streams whose answers are not all sent yet.
        var openStreams: Set<Int> = []
        var subscribers: [Int: Subscriber] = [:]
        var nextToken: UInt64 = 0
        var inFlight: [JSONRPCID: RequestCanceller] = [:]
        /// POSTs whose client is waiting for a JSON answer.
        var waitingClients = 0
    }

    init(id: String, transport: Transport, customer: Customer, version: MCPProtocolVersion, limits: Limits, counters: MCPActivityCounters) {
        self.id = id
        self.transport = transport
        self.customer = customer
        self.limits = limits
        self.counters = counters
        let now = ContinuousClock.now
        createdAt = now
        state = Mutex(State(version: version, lastActivity: CoarseClock.milliseconds()))
    }

    // MARK: Negotiated state

    var version: MCPProtocolVersion { state.withLock { $0.version } }
    var isEnded: Bool { state.withLock { $0.ended } }
    var isInitialized: Bool { state.withLock { $0.initialized } }
    var logLevel: MCPLogLevel { state.withLock { $0.logLevel } }

    func negotiated(_ version: MCPProtocolVersion, clientName: String?) {
        state.withLock {
            $0.version = version
            $0.clientName = clientName
        }
    }

    func markInitialized() { state.withLock { $0.initialized = true } }
    func setLogLevel(_ level: MCPLogLevel) { state.withLock { $0.logLevel = level } }

    /// Notes activity: an idle session expires only after a quiet period.
    func touch() { state.withLock { $0.lastActivity = CoarseClock.milliseconds() } }

    /// Whether the session has been quiet for longer than `timeout`: no stream open and no client waiting
    /// for an answer. A request still running for a client that left does not keep it alive.
    /// Both in milliseconds, `now` from ``CoarseClock/milliseconds()``.
    func isIdle(now: Int64, timeout: Int64) -> Bool {
        state.withLock { $0.subscribers.isEmpty && $0.waitingClients == 0 && now - $0.lastActivity > timeout }
    }

    var openStreamCount: Int { state.withLock { $0.subscribers.count } }

    /// When the session was last active, if nothing holds it now (no open stream, no request in flight, no
    /// client waiting): such a session may be ended to make room for its customer's new one.
    var quietSince: Int64? {
        state.withLock { state in
            guard !state.ended, state.subscribers.isEmpty, state.inFlight.isEmpty, state.waitingClients == 0 else { return nil }
            return state.lastActivity
        }
    }

    // MARK: Requests in flight

    /// Registers a running request and how to cancel it; false when the session is at its limit or ended.
    /// `clientWaits`: the client waits on its HTTP request for the answer, so the session is not idle until
    /// ``finish(_:clientWaited:)``. One lock for all of it: a session's calls may arrive on both event loops.
    func begin(_ id: JSONRPCID, canceller: RequestCanceller, clientWaits: Bool) -> Bool {
        state.withLock { state in
            guard !state.ended, state.inFlight.count < limits.requestsInFlight else { return false }
            state.inFlight[id] = canceller
            if clientWaits { state.waitingClients += 1 }
            state.lastActivity = CoarseClock.milliseconds()
            return true
        }
    }

    /// Unregisters a request; must run on the request's own task before it finishes (see ``RequestCanceller``).
    /// Returns the negotiated revision, which shapes the answer.
    func finish(_ id: JSONRPCID, clientWaited: Bool) -> MCPProtocolVersion {
        state.withLock { state in
            state.inFlight[id] = nil
            if clientWaited { state.waitingClients -= 1 }
            state.lastActivity = CoarseClock.milliseconds()
            return state.version
        }
    }

    /// Cancels a request in flight (`notifications/cancelled`); unknown ids are ignored, as the spec asks.
    func cancel(_ id: JSONRPCID) {
        state.withLock { state in
            state.inFlight.removeValue(forKey: id)?.cancel()
        }
    }

    // MARK: Streams

    /// Allocates a stream for the answer to a POST and subscribes to it; nil when the session has ended.
    func openAnswerStream() -> StreamSubscription? {
        let (subscription, replaced) = state.withLock { state -> (StreamSubscription?, Subscriber?) in
            guard !state.ended else { return (nil, nil) }
            let stream = state.nextStream
            state.nextStream += 1
            state.openStreams.insert(stream)
            return subscribeLocked(&state, stream: stream, after: nil)
        }
        replaced?.continuation.finish()
        return subscription
    }

    /// Why a `Last-Event-ID` cannot be honoured.
    enum ResumeError: Error {
        case malformed
        case unknownStream
    }

    /// Parses `{stream}-{sequence}` as issued by this session.
    func resumePoint(_ lastEventID: String) -> Result<(stream: Int, after: UInt64), ResumeError> {
        let parts = lastEventID.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let stream = Int(parts[0]), let after = UInt64(parts[1]), stream >= 0 else { return .failure(.malformed) }
        let known = state.withLock { stream < $0.nextStream && after <= $0.sequence }
        return known ? .success((stream, after)) : .failure(.unknownStream)
    }

    /// Subscribes to `stream` (replacing any earlier subscriber of it, whose stream ends), first replaying
    /// buffered events after `after` when resuming. A finished answer stream ends after its replay.
    func subscribe(stream: Int, after: UInt64?) -> StreamSubscription? {
        let (subscription, replaced) = state.withLock { state -> (StreamSubscription?, Subscriber?) in
            guard !state.ended else { return (nil, nil) }
            return subscribeLocked(&state, stream: stream, after: after)
        }
        replaced?.continuation.finish()
        return subscription
    }

    private func subscribeLocked(_ state: inout State, stream: Int, after: UInt64?) -> (StreamSubscription?, Subscriber?) {
        let (items, continuation) = AsyncStream<StreamItem>.makeStream(bufferingPolicy: .bufferingOldest(limits.queuedEvents))
        if let after {
            for event in state.buffer where event.stream == stream && event.sequence > after {
                continuation.yield(.event(event.bytes))
            }
        }
        let finished = stream != 0 && !state.openStreams.contains(stream)
        if finished {
            continuation.finish()
        }
        state.nextToken += 1
        let token = state.nextToken
        let replaced = finished ? nil : state.subscribers.updateValue(Subscriber(token: token, continuation: continuation), forKey: stream)
        if replaced == nil, !finished { counters.streamOpened() }
        state.lastActivity = CoarseClock.milliseconds()
        let primingID = state.version.wantsPrimingEvent && transport == .streamableHTTP ? "\(stream)-\(after ?? state.sequence)" : nil
        return (StreamSubscription(stream: stream, token: token, items: items, primingID: primingID), replaced)
    }

    /// Ends a subscription (its client left or its answer is complete).
    func detach(_ subscription: StreamSubscription) {
        state.withLock { state in
            if state.subscribers[subscription.stream]?.token == subscription.token {
                state.subscribers[subscription.stream] = nil
                counters.streamClosed()
            }
            state.lastActivity = CoarseClock.milliseconds()
        }
    }

    /// Sends a message on a stream: buffered for resumption (Streamable HTTP) and handed to the stream's
    /// subscriber if one is attached. A subscriber too far behind is cut off.
    func publish(_ message: JSONValue, on stream: Int) {
        let data = JSONWriter.encode(message)
        let overflowed = state.withLock { state -> Subscriber? in
            guard !state.ended else { return nil }
            state.sequence += 1
            let bytes: [UInt8]
            switch transport {
            case .legacySSE:
                bytes = ServerSentEvents.event(id: nil, data: data)
            case .streamableHTTP:
                bytes = ServerSentEvents.event(id: "\(stream)-\(state.sequence)", data: data)
                state.buffer.append(BufferedEvent(stream: stream, sequence: state.sequence, bytes: bytes))
                state.bufferedBytes += bytes.count
                while state.buffer.count > limits.replayEvents || (state.bufferedBytes > limits.replayBytes && state.buffer.count > 1) {
                    state.bufferedBytes -= state.buffer.removeFirst().bytes.count
                }
            }
            guard let subscriber = state.subscribers[stream] else { return nil }
            if case .dropped = subscriber.continuation.yield(.event(bytes)) {
                state.subscribers[stream] = nil
                counters.streamClosed()
                return subscriber
            }
            return nil
        }
        overflowed?.continuation.finish()
    }

    /// Marks an answer stream complete: its subscriber's stream ends after the events already handed over.
    func complete(stream: Int) {
        let subscriber = state.withLock { state -> Subscriber? in
            state.openStreams.remove(stream)
            guard let subscriber = state.subscribers.removeValue(forKey: stream) else { return nil }
            counters.streamClosed()
            return subscriber
        }
        subscriber?.continuation.finish()
    }

    /// Sends a keep-alive comment on every open stream.
    func sendKeepAlive() {
        let overflowed = state.withLock { state -> [Subscriber] in
            var cut: [Subscriber] = []
            for (stream, subscriber) in state.subscribers {
                if case .dropped = subscriber.continuation.yield(.keepAlive) {
                    state.subscribers[stream] = nil
                    counters.streamClosed()
                    cut.append(subscriber)
                }
            }
            return cut
        }
        for subscriber in overflowed { subscriber.continuation.finish() }
    }

    /// Ends the session: every stream closes, every request in flight is cancelled. Idempotent.
    func end() {
        let subscribers = state.withLock { state -> [Subscriber] in
            guard !state.ended else { return [] }
            state.ended = true
            let subscribers = Array(state.subscribers.values)
            for _ in subscribers { counters.streamClosed() }
            for canceller in state.inFlight.values { canceller.cancel() }
            state.subscribers.removeAll()
            state.inFlight.removeAll()
            state.buffer.removeAll()
            state.bufferedBytes = 0
            return subscribers
        }
        for subscriber in subscribers { subscriber.continuation.finish() }
    }
}

/// Counts of live sessions and streams, for tests and metrics.
final class MCPActivityCounters: Sendable {
    private let streams = Atomic<Int>(0)

    func streamOpened() { streams.add(1, ordering: .relaxed) }
    func streamClosed() { streams.subtract(1, ordering: .relaxed) }
    var openStreams: Int { streams.load(ordering: .relaxed) }
}

/// Cancels the task a request runs on.
///
/// `@unchecked Sendable`: it holds an `UnsafeCurrentTask`, valid only while that task lives. The session
/// calls ``cancel()`` only under its lock, and the request removes its canceller under the same lock
/// (``MCPSession/finish(_:)``, on its own task) before that task can finish, so a canceller is never used
/// after its task is gone. Cancelling runs the task's cancellation handlers synchronously; tool code never
/// reaches back into the session from one.
struct RequestCanceller: @unchecked Sendable {
    let task: UnsafeCurrentTask

    func cancel() { task.cancel() }
}
