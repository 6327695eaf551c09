import CNGHTTP2
import Glibc
import NIOCore

/// Serves one HTTP/2 connection: bytes go through an ``NGHTTP2Session``; each complete request stream runs
/// through the ``Responder`` in a task, and its response comes back to the event loop to be sent.
///
/// A route that streams its request body is dispatched when the HEADERS arrive; DATA goes to the handler
/// through a ``RequestBodyBuffer``. The session runs without automatic WINDOW_UPDATEs: connection-level
/// credit goes back as soon as bytes arrive, so a slow handler never starves the other streams; the stream's
/// credit goes back only as its handler reads, so the server holds at most one stream window (1 MiB) per
/// streamed body, and at most the concurrent-stream limit of them per connection.
///
/// Everything here runs on the channel's event loop; tasks reach it through `NIOLoopBound` and `execute`.
final class HTTP2ConnectionHandler: ChannelInboundHandler, NGHTTP2SessionDelegate, StreamedBodySink {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// One request/response exchange, and the storage of its own request (see ``RequestStorage``): the
    /// request fields (method, path, query, headers, body, route, the streamed body) are filled in as the
    /// request arrives and, once it is dispatched, only read; the rest is the connection's, used on its event
    /// loop only (hence `@unchecked Sendable`: a handler task holds the object, but reads only request fields).
    final class Stream: RequestStorage, @unchecked Sendable {
        let streamID: Int32
        var authority: String?
        /// How many leading regular fields equal the previous request's and are not copied into ``headers``
        /// (which stays empty while this is above zero): see ``resolveHeaders(_:)``.
        var sharedFieldCount = 0
        /// ``headers`` is the previous request's list, `host` included.
        var reusesPreviousFields = false
        /// Limits, dispatch, flow-control credit, the response's end and the reset after it. Once dispatched,
        /// the request's fields are no longer written.
        var state: HTTP2StreamStateMachine
        /// When the request was dispatched; set only when access logging is on.
        var startedAt: NIODeadline?
        var task: Task<Void, Never>?
        var status = 0
        var outbound: [UInt8] = []
        var outboundOffset = 0
        var bytesSent = 0
        var waiters = WriterWaiters()
        /// The response's ``HTTPResponse/whenSent``, run once the stream's last frame was written.
        var whenSent: (@Sendable () -> Void)?

        init(streamID: Int32, receiveBy: NIODeadline) {
            self.streamID = streamID
            state = HTTP2StreamStateMachine(receiveBy: receiveBy)
            super.init(
                method: Self.noMethod, path: "", query: nil, headers: HTTPHeaders(), body: [], remoteAddress: nil, protocolVersion: .http2,
                id: "", parameters: RouteLookup.noParameters, streamedBody: nil, route: nil
            )
        }

        private static let noMethod = HTTPMethod("")

        var buffered: Int { outbound.count - outboundOffset }
    }

    /// How long a client may go on sending a refused request body before its stream is reset.
    static let refusedBodyGrace = TimeAmount.milliseconds(500)
    /// How long the rest of a streamed body the handler did not read is still taken (and dropped) after the
    /// answer before the stream is reset: a client that got a 2xx goes on uploading, and on a healthy network
    /// the rest of a normal upload arrives within it, so the stream ends without a reset.
    static let abandonedBodyDrain = TimeAmount.seconds(2)

    private let responder: Responder
    private let limits: HTTPServerConfiguration.Limits
    private let peer: Peer
    private var session: NGHTTP2Session?
    private var context: ChannelHandlerContext?
    private var streams: [StreamKey: Stream] = [:]
    /// The stream the last callback was about: nghttp2 reports a request's headers, end and body reads
    /// one after another, so most lookups are this one and skip hashing. Unretained (see ``unmanagedStream(_:)``).
    private var recent: Unmanaged<Stream>?
    private var housekeeping: RepeatedTask?
    /// The clock as of the current burst of reads (or flush, or tick): read once for all the callbacks it
    /// brings.
    private var now = NIODeadline.now()
    /// Flushing, idling out, the two-step GOAWAY and closing.
    private var machine: HTTP2ConnectionStateMachine
    /// ``HTTPResponse/whenSent`` of streams closed since the last write: run when the next write completes.
    private var sentHooks: [@Sendable () -> Void] = []
    private var lingerTimer: Scheduled<Void>?
    private var executor: EventLoopTaskExecutor?
    /// The last dispatched request's regular fields and `:authority`. Clients repeat most fields from one
    /// request to the next (HPACK makes that cheap for them): a request whose fields all repeat shares this
    /// list, and a field equal to the one in the same position last time reuses its strings. Comparing bytes
    /// costs less than allocating and freeing them.
    private var previousFields = HTTPHeaders()
    /// How many of ``previousFields`` the client sent (the rest is `host`, added from `:authority`).
    private var previousRegularFieldCount = 0
    private var previousAuthority: String?
    /// The last dispatched request's path, reused by the next request to the same path.
    private var previousPath = ""
    private var previousRoute = RecentRoute()

    /// The HTTP/1.1 request that asked for `h2c`, answered on stream 1 once the session is up.
    struct UpgradedRequest {
        let settings: [UInt8]
        let method: String
        let target: String
        let headers: HTTPHeaders
    }

    private var upgradedRequest: UpgradedRequest?

    init(responder: Responder, limits: HTTPServerConfiguration.Limits, peer: Peer, upgradedFrom request: UpgradedRequest? = nil) {
        self.responder = responder
        self.limits = limits
        self.peer = peer
        upgradedRequest = request
        machine = HTTP2ConnectionStateMachine(timeouts: responder.timeouts, now: now)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
        do {
            let session = try NGHTTP2Session(settings: .init(
                maximumConcurrentStreams: UInt32(limits.maximumConcurrentStreams),
                maximumHeaderListSize: UInt32(limits.maximumHeaderBytes),
                streamResetBurst: limits.streamResetBurst,
                streamResetRate: limits.streamResetRatePerSecond
            ))
            session.delegate = Unmanaged.passUnretained(self)
            self.session = session
            if let request = upgradedRequest.take() {
                try session.upgrade(settings: request.settings, headRequest: request.method == "HEAD")
                adopt(request)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        startHousekeeping(context.eventLoop)
        flush()
    }

    /// Stream 1 of an upgraded connection carries the HTTP/1.1 request that asked for the upgrade (RFC 7540 §3.2):
    /// it is complete already, so it is dispatched as a request whose HEADERS ended the stream.
    private func adopt(_ request: UpgradedRequest) {
        now = .now()
        streamBegan(1)
        guard let stream = stream(1) else { return }
        stream.method = HTTPMethod(request.method)
        (stream.path, stream.query) = HTTPRequest.split(target: request.target)
        // What made the upgrade, and what only meant something to the HTTP/1.1 connection, stays behind.
        for (name, value) in request.headers where !HTTPHeaders.isConnectionSpecific(name) && name != "http2-settings" && name != "te" {
            if name == "host" { stream.authority = value } else { stream.headers.addLowercased(name, value) }
        }
        streamHeadersComplete(1, endStream: true)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        session?.close()
        session = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let session else { return }
        switch machine.readArrived(at: .now()) {
        case .drop: return  // a closing connection only drains what arrives
        case .receive: break
        case .receiveStartingBurst(let time): now = time
        }
        do {
            try buffer.withUnsafeReadableBytes { try session.receive($0) }
        } catch {
            // Send the GOAWAY (nghttp2's own if it queued one, else ours with a fitting code), then close.
            session.terminate(errorCode: (error as? NGHTTP2Failure)?.goawayErrorCode ?? NGHTTP2_PROTOCOL_ERROR.rawValue)
            machine.receiveFailed()
            flush()
            closeWhenWritten(lingering: false)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        perform(machine.readEnded())
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            beginShutdown()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Session events

    private func stream(_ id: Int32) -> Stream? {
        unmanagedStream(id)?.takeUnretainedValue()
    }

    /// The stream, unretained: ``streams`` owns it until ``streamClosed(_:errorCode:)`` removes it (and
    /// clears ``recent``). For the callbacks that run several times per request, a retain and release each.
    /// Code running under such a reference must not let nghttp2 close streams (``flush()`` does) except as
    /// its very last step: the stream may be gone afterwards.
    private func unmanagedStream(_ id: Int32) -> Unmanaged<Stream>? {
        if let recent, recent._withUnsafeGuaranteedRef({ $0.streamID == id }) { return recent }
        guard let found = streams[StreamKey(id)] else { return nil }
        let unmanaged = Unmanaged.passUnretained(found)
        recent = unmanaged
        return unmanaged
    }

    func streamBegan(_ streamID: Int32) {
        let stream = Stream(streamID: streamID, receiveBy: now + responder.timeouts.request)
        streams[StreamKey(streamID)] = stream
        recent = Unmanaged.passUnretained(stream)
        machine.streamOpened()
    }

    func streamHeader(_ streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        unmanagedStream(streamID)?._withUnsafeGuaranteedRef { receiveHeader(name, value, into: $0) } ?? true
    }

    private func receiveHeader(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into stream: Stream) -> Bool {
        switch stream.state.header(size: name.count + value.count + 32, limit: limits.maximumHeaderBytes) {
        case .add:
            break
        case .dropAll:
            stream.headers = HTTPHeaders()
            stream.sharedFieldCount = 0
            return true
        case .ignore:
            return true
        }
        // nghttp2 has checked the names: lower-case, pseudo-headers first and known.
        if name.first == UInt8(ascii: ":") {
            switch name.count {
            case 7 where name[1] == UInt8(ascii: "m"): stream.method = Self.method(value)
            case 5: (stream.path, stream.query) = Self.target(value, reusing: previousPath)
            case 10: stream.authority = Self.text(value, reusing: previousAuthority)
            default: break  // :scheme
            }
        } else {
            let position = stream.sharedFieldCount + stream.headers.count
            if previousFields.field(at: position, equals: name, value) {
                if stream.headers.count == 0 {
                    stream.sharedFieldCount += 1
                } else {
                    let (previousName, previousValue) = previousFields.field(at: position)
                    stream.headers.addLowercased(previousName, previousValue)
                }
            } else {
                copySharedFields(stream)
                stream.headers.addLowercased(Self.text(name), Self.text(value))
            }
        }
        return true
    }

    /// Gives the stream its own fields: the shared leading ones copied from the previous request's.
    private func copySharedFields(_ stream: Stream) {
        guard stream.headers.count == 0 else { return }
        stream.headers = HTTPHeaders(fieldsOf: previousFields, upTo: stream.sharedFieldCount, reserving: Self.typicalHeaderCount)
        stream.sharedFieldCount = 0
    }

    /// Settles the stream's fields once its head is complete. Clients repeat a request's fields from one
    /// request to the next, so when every regular field and the authority equal the previous request's,
    /// this request gets that request's list as it is: no array, no strings, one reference.
    private func resolveHeaders(_ stream: Stream) {
        if stream.headers.count == 0, stream.sharedFieldCount == previousRegularFieldCount, stream.authority == previousAuthority {
            stream.headers = previousFields
            stream.sharedFieldCount = 0
            stream.reusesPreviousFields = true
        } else {
            copySharedFields(stream)
        }
    }

    /// Regular fields most requests carry (user-agent, accept, content-type, authorization, ...).
    static let typicalHeaderCount = 8

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// A request target's path and query, split on the bytes: one string each, no intermediate one.
    private static func target(_ bytes: UnsafeRawBufferPointer, reusing previousPath: String) -> (path: String, query: String?) {
        guard let base = bytes.baseAddress, let mark = memchr(base, Int32(UInt8(ascii: "?")), bytes.count) else {
            return (text(bytes, reusing: previousPath), nil)
        }
        let pathCount = base.distance(to: UnsafeRawPointer(mark))
        let path = text(UnsafeRawBufferPointer(rebasing: bytes[..<pathCount]), reusing: previousPath)
        return (path, text(UnsafeRawBufferPointer(rebasing: bytes[(pathCount + 1)...])))
    }

    /// The common methods as literals: no string to build and validate.
    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        switch bytes.count {
        case 3 where HTTPHeaders.bytes(bytes, equal: "GET"): HTTPMethod("GET")
        case 4 where HTTPHeaders.bytes(bytes, equal: "POST"): HTTPMethod("POST")
        default: HTTPMethod(text(bytes))
        }
    }

    private static func text(_ bytes: UnsafeRawBufferPointer, reusing previous: String?) -> String {
        if let previous, HTTPHeaders.bytes(bytes, equal: previous) { return previous }
        return text(bytes)
    }

    func streamHeadersComplete(_ streamID: Int32, endStream: Bool) {
        unmanagedStream(streamID)?._withUnsafeGuaranteedRef { headersComplete($0, endStream: endStream) }
    }

    private func headersComplete(_ stream: Stream, endStream: Bool) {
        let streamID = stream.streamID
        if let refusal = stream.state.headersComplete() {
            reject(stream, refusal)
            return
        }
        resolveHeaders(stream)
        let route = previousRoute.lookup(stream.method, stream.path, in: responder)
        let plan = responder.bodyPlan(route)
        stream.route = consume route
        let contentLength = endStream ? nil : stream.headers["content-length"].flatMap(Int.init)
        switch stream.state.planned(limit: plan.limit, streamed: plan.streamed, endStream: endStream, contentLength: contentLength) {
        case .refuse(let refusal):
            reject(stream, refusal)
        case .dispatchStreaming:
            guard let loop = context?.eventLoop else {
                if endStream { dispatch(stream) }
                return
            }
            let bound = NIOLoopBound(self, eventLoop: loop)
            let inbound = RequestBodyBuffer(limit: plan.limit) {
                loop.execute { bound.value.requestBodyConsumed(streamID) }
            }
            stream.streamedBody = inbound
            if endStream { inbound.finish() }
            dispatch(stream)
        case .dispatch:
            dispatch(stream)
        case .collect:
            break
        }
    }

    func streamData(_ streamID: Int32, _ bytes: UnsafeRawBufferPointer) -> NGHTTP2DataVerdict {
        guard let stream = stream(streamID) else { return .consumed }
        switch stream.state.data(bytes.count, streamedBody: stream.streamedBody != nil, collected: stream.body.count) {
        case .toHandler:
            // The stream's credit comes back only as the handler reads: past the limit, the client has to stop.
            _ = stream.streamedBody?.append(Array(bytes))
            return .deferred
        case .dropCredited:
            // Dropped, but credited, so the client can finish the upload (see abandonedBodyDrain).
            return .consumed
        case .append:
            stream.body.append(contentsOf: bytes)
            return .consumed
        case .refuse(let refusal):
            reject(stream, refusal)
            return .consumed
        case .ignore:
            return .consumed
        }
    }

    func streamEnded(_ streamID: Int32) {
        guard let stream = stream(streamID) else { return }
        switch stream.state.ended(streamedBody: stream.streamedBody != nil) {
        case .none: break
        case .finishStreamedBody: stream.streamedBody?.finish()
        case .dispatch: dispatch(stream)
        }
    }

    /// The handler of a streamed body took bytes: give the client that much stream window back.
    private func requestBodyConsumed(_ streamID: Int32) {
        guard let stream = stream(streamID), let inbound = stream.streamedBody, !stream.state.inboundDiscarded else { return }
        let consumed = inbound.takeConsumed()
        guard stream.state.bodyConsumed(consumed) else { return }
        session?.consume(streamID: streamID, bytes: consumed)
        scheduleFlush()
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: StreamKey(streamID)) else { return }
        if recent?.toOpaque() == Unmanaged.passUnretained(stream).toOpaque() { recent = nil }
        stream.streamedBody?.fail(.clientReset)
        stream.task?.cancel()
        stream.waiters.failAll()
        if let startedAt = stream.startedAt {
            responder.logAccess(HTTPRequest(storage: stream), status: stream.status, bytes: stream.bytesSent, startedAt: startedAt)
        }
        if let whenSent = stream.whenSent {
            // Closed while its last frame is being generated: the frame reaches the socket with the next write.
            stream.whenSent = nil
            sentHooks.append(whenSent)
        }
        machine.streamClosed(at: now)
    }

    func streamReadBody(_ streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, endOfBody: Bool, deferred: Bool) {
        unmanagedStream(streamID)?._withUnsafeGuaranteedRef { readBody($0, into: buffer) } ?? (0, true, false)
    }

    private func readBody(_ stream: Stream, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, endOfBody: Bool, deferred: Bool) {
        let count = min(buffer.count, stream.buffered)
        if count > 0 {
            stream.outbound.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[stream.outboundOffset..<stream.outboundOffset + count]))
            }
            stream.outboundOffset += count
            stream.bytesSent += count
            stream.state.progressed(at: now)
            if stream.outboundOffset == stream.outbound.count {
                // A finished body is often shared (a cached response): keeping its capacity would allocate a copy.
                if stream.state.outboundEnded { stream.outbound = [] } else { stream.outbound.removeAll(keepingCapacity: true) }
                stream.outboundOffset = 0
            }
            if stream.buffered < limits.streamingHighWatermark / 2 { stream.waiters.resumeAll() }
        }
        let finished = stream.state.outboundEnded && stream.buffered == 0
        if finished, stream.state.resetAfterResponse { resetAfterResponse(stream) }
        if count == 0 && !finished { return (0, false, true) }
        return (count, finished, false)
    }

    /// The client may still be sending a body we refused or no longer read: stop it with RST_STREAM(NO_ERROR)
    /// (RFC 9113 §8.1), but only a while after our answer, unless the body ends first. A reset arriving
    /// together with the answer makes clients that are still sending (curl 7.88) drop the answer and report
    /// a stream error instead.
    private func resetAfterResponse(_ stream: Stream) {
        guard let loop = context?.eventLoop,
              let delay = stream.state.answerOut(refusedBodyGrace: Self.refusedBodyGrace, abandonedBodyDrain: Self.abandonedBodyDrain)
        else { return }
        let streamID = stream.streamID
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: delay) {
            guard bound.value.streams[StreamKey(streamID)] != nil else { return }
            bound.value.session?.resetStream(streamID, errorCode: NGHTTP2_NO_ERROR.rawValue)
            bound.value.flush()
        }
    }

    /// The handler is done with a streamed body it did not read to the end: take and drop the rest, and
    /// reset the stream ``abandonedBodyDrain`` after the answer if it is still unfinished.
    private func abandonInbound(_ stream: Stream) {
        guard let inbound = stream.streamedBody, let owed = stream.state.abandonBody(bodyComplete: inbound.isComplete) else { return }
        inbound.discard()
        session?.consume(streamID: stream.streamID, bytes: owed)
    }

    // MARK: Requests and responses

    private func dispatch(_ stream: Stream) {
        guard stream.state.dispatch() else { return }
        let request = completeRequest(stream)
        if responder.logsAccess { stream.startedAt = .now() }
        if let response = responder.respondImmediately(to: request) {
            send(response, to: stream)
            return
        }
        guard let loop = context?.eventLoop else { return }
        start(consume request, on: stream, loop)
    }

    /// The stream's request, its last fields filled in: `host` from `:authority`, the client's address and
    /// a request id. The stream is its storage; nothing writes its request fields after this.
    private func completeRequest(_ stream: Stream) -> HTTPRequest {
        if !stream.reusesPreviousFields {
            previousRegularFieldCount = stream.headers.count
            if let authority = stream.authority, !stream.headers.contains("host") { stream.headers.addLowercased("host", authority) }
            // The request and this share one array, and neither changes it again.
            previousFields = stream.headers
            previousAuthority = stream.authority
        }
        previousPath = stream.path
        stream.remoteAddress = peer.clientAddress(stream.headers)
        stream.id = responder.nextRequestID()
        return HTTPRequest(storage: stream)
    }

    /// Runs the responder for a request in a task. The request is consumed: it moves into the task
    /// rather than being copied, field by field, into it.
    private func start(_ request: consuming HTTPRequest, on stream: Stream, _ loop: any EventLoop) {
        let streamID = stream.streamID
        let responder = self.responder
        let bound = NIOLoopBound(self, eventLoop: loop)
        // Started right here, on the event loop: a handler that never suspends answers within this call,
        // with no job enqueued and no hop; one that suspends resumes on the loop (the executor preference).
        let task = Task.immediate(executorPreference: executor) { [request = consume request] in
            let response = await responder.respond(to: request)
            if loop.inEventLoop {
                bound.value.send(response, on: streamID)
            } else {
                loop.execute { bound.value.send(response, on: streamID) }
            }
        }
        // Answered already: `send` may have started a producer task, which must stay the one a reset cancels.
        if !stream.state.hasResponded { stream.task = task }
    }

    private func send(_ response: HTTPResponse, on streamID: Int32) {
        unmanagedStream(streamID)?._withUnsafeGuaranteedRef { send(response, to: $0) }
    }

    private func send(_ response: HTTPResponse, to stream: Stream) {
        if !machine.isReading { now = .now() }  // a handler's task finishing later: the last read's clock is old by now
        let hasAllBytes = if case .bytes = response.body { true } else { false }
        guard let session, stream.state.respond(ended: hasAllBytes, at: now) else {
            response.whenSent?()
            return
        }
        let streamID = stream.streamID
        stream.status = response.status
        switch response.body {
        case .bytes(let bytes):
            stream.outbound = bytes
            stream.whenSent = response.whenSent
            _ = session.submitResponse(
                streamID: streamID, status: response.status, headers: response.headers, requestID: stream.id,
                contentLength: bytes.count, hasBody: !bytes.isEmpty
            )
            abandonInbound(stream)
            if bytes.isEmpty, stream.state.resetAfterResponse { resetAfterResponse(stream) }
        case .stream(let produce):
            guard let loop = context?.eventLoop else { return }
            _ = session.submitResponse(streamID: streamID, status: response.status, headers: response.headers, requestID: stream.id, hasBody: true)
            let bound = NIOLoopBound(self, eventLoop: loop)
            let writer = StreamedBodyWriter(sink: bound, eventLoop: loop, stream: streamID)
            stream.task = Task(executorPreference: executor) {
                try? await produce(writer)
                loop.execute { bound.value.endBody(streamID) }
            }
        }
        scheduleFlush()
    }

    /// Answers a stream with an error the server produced itself (limits), before or instead of the route.
    /// Nothing may use `stream` after this: the flush can close it.
    private func reject(_ stream: Stream, _ refusal: HTTP2StreamStateMachine.Refusal) {
        guard let session else { return }
        let dispatched = stream.state.isDispatched
        guard stream.state.refuse(refusal, at: now) else { return }
        let (status, message) = switch refusal {
        case .headersTooLarge: (431, LimitMessage.headersTooLarge(limits.maximumHeaderBytes))
        case .bodyTooLarge: (413, LimitMessage.bodyTooLarge(stream.state.bodyLimit))
        case .timedOut: (408, "the request was not received completely within \(limits.requestTimeout); send it faster or in one go")
        }
        stream.status = status
        if !dispatched { stream.body = [] }
        let response = responder.rejection(status, message, method: stream.method.rawValue, path: stream.path, protocolVersion: .http2)
        if case .bytes(let bytes) = response.body {
            stream.outbound = bytes
            _ = session.submitResponse(streamID: stream.streamID, status: status, headers: response.headers, contentLength: bytes.count, hasBody: true)
        }
        flush()
    }

    func enqueueChunk(_ bytes: [UInt8], stream streamID: Int32, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let stream = stream(streamID), stream.state.acceptsChunks else {
            continuation.resume(throwing: ResponseStreamClosed())
            return
        }
        if stream.buffered == 0 { stream.state.progressed(at: .now()) }  // a producer task: the cached clock may be old
        stream.outbound.append(contentsOf: bytes)
        session?.resumeBody(streamID: streamID)
        if stream.buffered < limits.streamingHighWatermark {
            continuation.resume()
        } else {
            stream.waiters.add(continuation)
        }
        scheduleFlush()
    }

    fileprivate func endBody(_ streamID: Int32) {
        guard let stream = stream(streamID) else { return }
        // The producer may have been reading the request body (full duplex); now nobody will.
        abandonInbound(stream)
        stream.state.bodyEnded()
        session?.resumeBody(streamID: streamID)
        scheduleFlush()
    }

    // MARK: Connection management

    /// Sends what nghttp2 has queued. Responses finishing in the same event-loop tick share one flush.
    private func scheduleFlush() {
        perform(machine.wrote())
    }

    private func perform(_ action: FlushSchedule.Action) {
        switch action {
        case .none:
            break
        case .flush:
            flush()
        case .scheduleFlush:
            guard let loop = context?.eventLoop else {
                machine.flushDropped()
                return
            }
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.execute { bound.value.flush() }
        }
    }

    /// Hands nghttp2's queued frames to the socket, but only while the socket keeps up: frames not generated
    /// yet cost nothing, and DATA nghttp2 has not pulled stays in its stream's buffer, where the high
    /// watermark makes the producer wait. Flow-control windows alone do not bound memory: a client may
    /// grant gigabytes and then stop reading. Writability coming back calls this again.
    private func flush() {
        guard machine.flushBegan(canWrite: session != nil && context != nil), let session, let context else { return }
        now = .now()
        var healthy = true
        while healthy, context.channel.isWritable, session.wantsToWrite {
            var buffer = context.channel.allocator.buffer(capacity: Self.flushBufferSize)
            healthy = session.drainOutput(limit: Self.flushBudget) { chunk in buffer.writeBytes(chunk) }
            guard buffer.readableBytes > 0 else { break }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: takeSentHooks(context.eventLoop))
        }
        runSentHooks()
        switch machine.flushEnded(healthy: healthy, sessionAlive: session.isAlive) {
        case .none: break
        case .closeWhenWritten(let lingering): closeWhenWritten(lingering: lingering)
        }
    }

    /// Bytes of frames generated per write while the socket keeps up.
    static let flushBudget = 256 * 1024
    /// The first allocation for a write: enough for a batch of small responses without regrowing.
    static let flushBufferSize = 4096
    /// How long a finished connection waits for its last bytes to go out and for the peer to close.
    static let lingerLimit = TimeAmount.seconds(10)

    /// Closes once everything written so far has reached the socket (an empty write completes after the
    /// writes before it). Closing at once would drop what the socket could not take yet, e.g. the end of
    /// a large response that finished during a graceful shutdown.
    ///
    /// Then only the output closes: the peer reads the rest, sees the end and closes its side, which closes
    /// the channel. Closing outright while the peer's WINDOW_UPDATEs or PINGs sit unread makes the kernel
    /// answer with a reset, and a reset destroys whatever the peer had not read yet (the end of a response).
    /// A peer that never closes is cut off after ``lingerLimit``. A peer that broke the protocol gets no such
    /// courtesy (`lingering: false`): the connection closes as soon as the GOAWAY is out.
    private func closeWhenWritten(lingering: Bool = true) {
        guard let context, machine.closeWhenWritten(lingering: lingering) else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            guard lingering else {
                bound.value.close(promise: nil)
                return
            }
            let promise = bound.value.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenFailure { _ in bound.value.close(promise: nil) }
            bound.value.close(mode: .output, promise: promise)
        }
        lingerTimer = context.eventLoop.scheduleTask(in: Self.lingerLimit) { bound.value.close(promise: nil) }
    }

    /// One timer per connection instead of one per request: every tick answers streams that took too long
    /// to arrive with 408 and closes a connection idle past its limit (or silent since it opened).
    private func startHousekeeping(_ loop: any EventLoop) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let tick = limits.housekeepingTick
        housekeeping = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            bound.value.tidy()
        }
    }

    private func tidy() {
        now = .now()
        let limit = limits.requestTimeout
        // A rejection flushes, which may close streams: each is answered only while it is still open.
        for stream in streams.values where stream.state.isOverdue(at: now) && streams[StreamKey(stream.streamID)] != nil {
            reject(stream, .timedOut)
        }
        // A streamed body has no deadline as a whole (the handler sets the pace); the client may only keep
        // the handler waiting for the request timeout.
        for stream in streams.values {
            _ = stream.streamedBody?.watchClient(limit: limit)
        }
        cancelStalledStreams(now)
        switch machine.tick(at: now, streamsOpen: !streams.isEmpty) {
        case .none:
            break
        case .goawayAndClose:
            session?.submitGoaway()
            flush()
            closeWhenWritten()
        }
    }

    /// A response that has had bytes waiting for the idle timeout without any going out belongs to a client
    /// that stopped reading (or stopped granting flow-control window): its stream is reset, so the producer's
    /// `write` throws. When the socket itself is stuck, no RST_STREAM could go out: the connection closes.
    private func cancelStalledStreams(_ now: NIODeadline) {
        let limit = responder.timeouts.idle
        let stalled = streams.values.filter { $0.state.isStalled(at: now, limit: limit, buffered: $0.buffered) }
        guard !stalled.isEmpty, let context else { return }
        responder.logger.notice("cancelling responses whose client stopped reading", metadata: [
            "http.streams": "\(stalled.count)", "http.idle_timeout": "\(limits.idleTimeout)",
        ])
        guard context.channel.isWritable else {
            context.close(promise: nil)
            return
        }
        for stream in stalled {
            stream.state.progressed(at: now)
            session?.resetStream(stream.streamID, errorCode: NGHTTP2Session.cancel)
        }
        flush()
    }

    /// A graceful shutdown, GOAWAY in two steps: a shutdown notice now, the final GOAWAY one round trip
    /// later, naming the last stream we will serve.
    private func beginShutdown() {
        guard let loop = context?.eventLoop else { return }
        switch machine.quiesce() {
        case .none:
            return
        case .cancelStreamedResponses:
            cancelStreamedResponses()
        case .sendShutdownNotice:
            session?.submitShutdownNotice()
            flush()
            cancelStreamedResponses()
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.scheduleTask(in: .milliseconds(100)) { bound.value.sendFinalGoaway() }
        }
    }

    /// Streamed responses (server-sent events) end cleanly rather than hold the shutdown open.
    private func cancelStreamedResponses() {
        for stream in streams.values where stream.state.hasResponded { stream.task?.cancel() }
    }

    private func sendFinalGoaway() {
        switch machine.shutdownNoticeElapsed() {
        case .none:
            break
        case .sendGoaway:
            session?.submitGoaway()
            flush()
            if machine.finalGoawayFlushed(streamsOpen: !streams.isEmpty) { closeWhenWritten() }
        }
    }

    /// A promise that runs the pending ``sentHooks`` when its write completes; nil when none are pending.
    private func takeSentHooks(_ loop: any EventLoop) -> EventLoopPromise<Void>? {
        guard !sentHooks.isEmpty else { return nil }
        let hooks = sentHooks
        sentHooks = []
        let promise = loop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in for hook in hooks { hook() } }
        return promise
    }

    /// Runs hooks whose streams closed with nothing left to write (or whose connection ended).
    private func runSentHooks() {
        guard !sentHooks.isEmpty else { return }
        let hooks = sentHooks
        sentHooks = []
        for hook in hooks { hook() }
    }

    private func tearDown() {
        for stream in streams.values {
            if let whenSent = stream.whenSent { sentHooks.append(whenSent) }
            stream.whenSent = nil
        }
        runSentHooks()
        housekeeping?.cancel()
        housekeeping = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        for stream in streams.values {
            stream.streamedBody?.fail(.connectionClosed)
            stream.task?.cancel()
            stream.waiters.failAll()
        }
        streams.removeAll()
        recent = nil
    }
}

/// A stream id as a dictionary key, hashed with one multiplication instead of SipHash: every request inserts
/// and removes its stream once. Flooding needs no keyed hash here: ids must increase, and a connection has
/// at most its concurrent-stream limit of them open, so no client can build a long collision chain.
struct StreamKey: Hashable {
    let id: Int32

    init(_ id: Int32) { self.id = id }

    func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// What `Dictionary` calls to place a key (the standard library's hook for a custom hash); high and low
    /// bits mixed, so ids that differ only in high bits land apart.
    func _rawHashValue(seed: Int) -> Int {
        let product = UInt64(UInt32(bitPattern: id)) &* 0x9E37_79B9_7F4A_7C15
        return Int(bitPattern: UInt(product ^ (product >> 29))) ^ seed
    }
}
