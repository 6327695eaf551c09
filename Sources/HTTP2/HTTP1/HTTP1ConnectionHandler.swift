import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection: parses its bytes (``HTTP1RequestParser``), collects each request up to its body limit,
/// runs it through the ``Responder`` in a task, and writes the response back as bytes (``HTTP1ResponseEncoder``),
/// streamed bodies respecting socket writability. Pipelined requests wait, in order, until the response
/// before them is out; while one waits, the connection reads no further.
///
/// A request whose route streams its body runs as soon as its head is decoded; its body goes to the handler
/// through a ``RequestBodyBuffer``, and while the handler is more than the streaming high watermark behind,
/// this handler holds back the channel's `read()` so the client waits in TCP flow control.
///
/// Everything here runs on the channel's event loop; tasks reach it through `NIOLoopBound` and `execute`.
final class HTTP1ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, StreamedBodySink {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for the next request head (the deadline says for how long: header or idle timeout).
        case idle
        case receiving(head: HTTP1RequestHead, route: RouteLookup, query: String?, body: [UInt8], limit: Int)
        /// A request whose body is being discarded because it was refused; the answer is already out.
        case discarding
        case responding
    }

    private let responder: Responder
    private let limits: HTTPServerConfiguration.Limits
    private let peer: Peer
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var recentRoute = RecentRoute()
    private var keepAlive = true
    private var shuttingDown = false
    /// The one timeout running: the head, the request body or the idle wait (see ``armTimer(_:)``).
    private var timer: ConnectionTimer
    /// Checks `deadline` every ``HTTPServerConfiguration/Limits/housekeepingTick``.
    private var housekeeping: RepeatedTask?
    /// Closes a connection whose refused request body is still being dropped.
    private var lingerTimer: Scheduled<Void>?
    private var waitingForBytes = true
    private var task: Task<Void, Never>?
    /// Requests dispatched and answered on this connection (one at a time; pipelined ones wait in `pipelined`).
    private var requestsDispatched = 0
    private var requestsAnswered = 0
    /// Whether `task` is a streamed body's producer (rather than the handler computing the response).
    private var producing = false
    private var writabilityWaiters = WriterWaiters()
    /// Responses whose last byte has not reached the socket yet, and the last one's completion: a client
    /// downloading slowly is not idle, and closing under it would cut its response short. A client that
    /// stops reading for the idle timeout while a response is going out is cut off by `stallTimer`.
    private var drain = ResponseDrain(now: .now())
    private var lastDrained: EventLoopFuture<Void>?
    /// Keep-alive responses were written since the last flush without a promise of their own.
    private var drainUnchecked = false
    private var stallTimer: Scheduled<Void>?
    /// The refusal (413, 431) of a request whose body is being dropped.
    private var refusal: EventLoopFuture<Void>?
    /// Closes a connection whose output is closed once the client has had time to read and close.
    private var closeTimer: Scheduled<Void>?
    private var closed = false
    private var executor: EventLoopTaskExecutor?
    /// The body of the request in flight whose route streams it, until its end arrives.
    private var inbound: RequestBodyBuffer?
    /// A `read()` held back while the handler of a streamed body is behind.
    private var readHeld = false
    /// Fails a streamed body whose client keeps the handler waiting for the request timeout.
    private var bodyWatch: Scheduled<Void>?
    /// `maxMessagesPerRead` to restore once a streamed body is over.
    private var savedReadBatch: UInt?
    /// Parts of the requests a client pipelined behind the one being answered, replayed once its response is out.
    private var pipelined = CircularBuffer<HTTP1RequestPart>()
    /// The current request's end has arrived: what comes next belongs to the next request.
    private var requestEnded = false
    /// A read burst's responses leave together at the end of the tick; one finished later at once.
    private var flushes = FlushSchedule(afterReads: .endOfTick, otherwise: .now)
    /// The version the current request came in with (an HTTP/1.0 client gets no chunked body).
    private var requestMinorVersion = 1
    /// How the streamed response going out frames its body, and whether it is a HEAD's (head only).
    private var streamFraming = HTTP1ResponseEncoder.Framing.chunked
    private var streamHeadOnly = false
    private let parser = HTTP1RequestParser()
    /// Whether `Upgrade: h2c` is honoured (cleartext connections only).
    private let acceptsH2C: Bool
    /// The current request asked to upgrade, so the parser stopped after it (see ``HTTP1Upgrade``).
    private var parserStopped = false
    /// The current request's `HTTP2-Settings`, when it asked for h2c and gets it once it has ended.
    private var h2cSettings: [UInt8]?

    init(responder: Responder, limits: HTTPServerConfiguration.Limits, peer: Peer, acceptsH2C: Bool = false) {
        self.responder = responder
        self.limits = limits
        self.peer = peer
        self.acceptsH2C = acceptsH2C
        timer = ConnectionTimer(responder.timeouts)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
        armTimer(.header)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let tick = limits.housekeepingTick
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            bound.value.checkDeadline()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        _ = flushes.readBegan()
        noteBytesArrived()
        deliver(parser.parse(unwrapInboundIn(data)))
    }

    /// Hands what the parser found to ``handle(_:)``, then answers the error that stopped it, if any.
    private func deliver(_ parsed: (parts: [HTTP1RequestPart], error: HTTPParserError?)) {
        for part in parsed.parts { handle(part) }
        if let error = parsed.error { refuseMalformed(error) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        perform(flushes.readEnded(), context)
        context.fireChannelReadComplete()
    }

    private func perform(_ action: FlushSchedule.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .none: break
        case .flush: flush(context)
        case .scheduleFlush: flushAtEndOfTick(context)
        }
    }

    /// Flushes once the event loop has handled every connection that became readable with this one, as
    /// Netty's `FlushConsolidationHandler` does. Responses written back to back find their clients awake:
    /// a response flushed at once wakes a client that went back to sleep after the previous one, and with
    /// many busy keep-alive connections those wake-ups cost more than the requests themselves (measured
    /// in docs/benchmarks.md). A lone request pays only for the queued task, a few µs of its round trip.
    private func flushAtEndOfTick(_ context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().execute { [self] in
            flushes.scheduledFlushRan()
            if let context = self.context { flush(context) }
        }
    }

    /// Flushes now, or once the read batch or the replay of pipelined requests in progress is over: the
    /// responses to requests that arrived together leave in one write.
    private func flushSoon() {
        guard let context else { return }
        perform(flushes.wrote(), context)
    }

    /// Flushes; then, when keep-alive responses went out since the last flush (they carry no promise, see
    /// ``endResponse(with:)``) and the socket did not take all of their bytes, tracks the rest with one
    /// empty write whose promise completes once everything before it is written.
    private func flush(_ context: ChannelHandlerContext) {
        context.flush()
        guard drainUnchecked else { return }
        drainUnchecked = false
        guard let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), buffered > 0 else { return }
        let marker = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: marker)
        trackDrain(marker.futureResult)
    }

    /// Whether request parts arriving now belong to a request pipelined behind the one being answered.
    private var holdsPipelined: Bool {
        if case .responding = state { requestEnded } else { false }
    }

    private func handle(_ part: HTTP1RequestPart) {
        guard let context else { return }
        if holdsPipelined || (!flushes.replaying && !pipelined.isEmpty) {
            pipelined.append(part)
            return
        }
        switch part {
        case .head(let head):
            guard case .idle = state else { return }
            requestEnded = false
            requestMinorVersion = head.minorVersion
            keepAlive = head.keepAlive && !shuttingDown
            if head.size > limits.maximumHeaderBytes {
                refuse(head, 431, LimitMessage.headersTooLarge(limits.maximumHeaderBytes))
                return
            }
            let (path, query) = HTTPRequest.split(target: head.target)
            let route = recentRoute.lookup(head.method, path, in: responder)
            let (limit, streamed) = responder.bodyPlan(route)
            if let length = head.headers["content-length"].flatMap(Int.init), length > limit {
                refuse(head, 413, LimitMessage.bodyTooLarge(limit))
                return
            }
            parserStopped = head.asksToUpgrade
            h2cSettings = acceptsH2C && parserStopped && keepAlive && !streamed ? HTTP1Upgrade.h2cSettings(head) : nil
            if head.headers.lists("100-continue", in: "expect") {
                // The client waits for this before sending its body (curl does so for a second).
                context.writeAndFlush(wrapOutboundOut(HTTP1ResponseEncoder.continueHead(allocator: context.channel.allocator)), promise: nil)
            }
            if streamed {
                startStreamedBody(head, route: route, query: query, limit: limit)
            } else {
                state = .receiving(head: head, route: route, query: query, body: [], limit: limit)
                armTimer(.request)
            }
        case .body(let chunk):
            if let inbound {
                if inbound.append(Array(chunk.readableBytesView)) == .overLimit {
                    // The handler answers 413; the rest of the body cannot be skipped reliably.
                    keepAlive = false
                    releaseHeldRead()
                }
                return
            }
            guard case .receiving(let head, let route, let query, var body, let limit) = state else { return }
            guard body.count + chunk.readableBytes <= limit else {
                refuse(head, 413, LimitMessage.bodyTooLarge(limit))
                return
            }
            state = .responding  // drop the reference so appending does not copy
            body.append(contentsOf: chunk.readableBytesView)
            state = .receiving(head: head, route: route, query: query, body: body, limit: limit)
        case .end:
            requestEnded = true
            if let inbound {
                inbound.finish()
                endStreamedBody()
                if case .discarding = state { closeAfter(refusal) }
                return
            }
            switch state {
            case .receiving(let head, let route, let query, let body, _):
                if let settings = h2cSettings.take() {
                    upgradeToHTTP2(head, settings: settings)
                } else {
                    dispatch(head, route, query, body)
                }
            case .discarding:
                closeAfter(refusal)  // the refused body is over
            default:
                break
            }
        }
    }

    /// Holds back reads while the handler of a streamed body has a high watermark's worth unread, while
    /// pipelined requests wait, and while the parser holds the bytes after an upgrade request: the socket's
    /// receive buffer fills and TCP makes the client wait.
    func read(context: ChannelHandlerContext) {
        if let inbound, inbound.bufferedBytes >= limits.streamingHighWatermark {
            readHeld = true
            return
        }
        if !pipelined.isEmpty || parser.isStopped {
            // A pipelined request waits for the response before it, and the bytes after an upgrade request
            // wait until it is answered: read no more meanwhile, so what waits is one read at most.
            readHeld = true
            return
        }
        context.read()
    }

    /// After a response on a connection that stays open: parsing resumes if the request asked to upgrade
    /// (and was answered over HTTP/1.1 instead), then the requests pipelined behind it.
    private func readyForNextRequest() {
        if parserStopped { resumeParsing() }
        replayPipelined()
    }

    /// The parser stopped after a request that asked to upgrade. It was answered over HTTP/1.1, so parsing
    /// goes on from a fresh start with the bytes held back, as a read of their own (flushed at its end).
    private func resumeParsing() {
        parserStopped = false
        let began = flushes.readBegan()
        deliver(parser.resume())
        if began, let context { perform(flushes.readEnded(), context) }
    }

    /// Answers `Upgrade: h2c` with 101 and hands the connection to an HTTP/2 session that answers the request
    /// on stream 1 (RFC 7540 §3.2). The bytes after the request (the client's connection preface, when it
    /// sent it right away) go to the new handler.
    private func upgradeToHTTP2(_ head: HTTP1RequestHead, settings: [UInt8]) {
        guard let context else { return }
        timer.disarm()
        state = .responding
        let http2 = HTTP2ConnectionHandler(
            responder: responder, limits: limits, peer: peer,
            upgradedFrom: .init(settings: settings, method: head.method.rawValue, target: head.target, headers: head.headers)
        )
        let pipeline = context.pipeline.syncOperations
        var switching = context.channel.allocator.buffer(capacity: 72)
        switching.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n")
        context.write(wrapOutboundOut(switching), promise: nil)
        do {
            try pipeline.addHandler(http2, position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        let channelPipeline = context.pipeline
        let remainder = parser.takeRemainder()
        pipeline.removeHandler(context: context, promise: nil)
        if let remainder, remainder.readableBytes > 0 { channelPipeline.fireChannelRead(remainder) }
        channelPipeline.fireChannelReadComplete()
        if readHeld {
            readHeld = false
            context.channel.read()
        }
    }

    /// Hands the parts of pipelined requests over, in order, until one of them is being answered.
    private func replayPipelined() {
        guard flushes.replayBegan() else { return }
        while !holdsPipelined, let part = pipelined.popFirst() {
            handle(part)
        }
        let action = flushes.replayEnded()
        if let context { perform(action, context) }
        if pipelined.isEmpty { releaseHeldRead() }
    }

    // MARK: Streamed request bodies

    private func startStreamedBody(_ head: HTTP1RequestHead, route: RouteLookup, query: String?, limit: Int) {
        guard let context else { return }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let inbound = RequestBodyBuffer(limit: limit) {
            loop.execute { bound.value.requestBodyConsumed() }
        }
        self.inbound = inbound
        // One socket read per event-loop turn, so what arrives between two looks at the buffer is one read
        // (64 KiB at most) rather than a whole batch of them.
        if let options = context.channel.syncOptions {
            savedReadBatch = try? options.getOption(.maxMessagesPerRead)
            try? options.setOption(.maxMessagesPerRead, value: 1)
        }
        armBodyWatch(after: limits.requestTimeout)
        dispatch(head, route, query, [], streamedBody: inbound)
    }

    /// The streamed body's last byte arrived (the handler may still be reading it).
    private func endStreamedBody() {
        inbound = nil
        bodyWatch?.cancel()
        bodyWatch = nil
        if let savedReadBatch, let options = context?.channel.syncOptions {
            try? options.setOption(.maxMessagesPerRead, value: savedReadBatch)
        }
        savedReadBatch = nil
        releaseHeldRead()
    }

    private func requestBodyConsumed() {
        guard let inbound else {
            releaseHeldRead()
            return
        }
        _ = inbound.takeConsumed()
        if inbound.bufferedBytes < limits.streamingHighWatermark / 2 { releaseHeldRead() }
    }

    private func releaseHeldRead() {
        guard readHeld, pipelined.isEmpty, !parser.isStopped, let context else { return }
        readHeld = false
        context.read()
    }

    /// The response is complete but the handler left part of the streamed body unread: drop the rest as
    /// it arrives, for a while, then close (the connection cannot be reused without reading it all).
    private func abandonStreamedBody(after written: EventLoopFuture<Void>?) {
        inbound?.discard()
        releaseHeldRead()
        state = .discarding
        refusal = written
        lingerThenClose(after: written)
    }

    /// Whether the request in flight streams a body that has not fully arrived.
    private var streamedBodyUnfinished: Bool { inbound.map { !$0.isComplete } ?? false }

    private func armBodyWatch(after delay: Duration) {
        guard let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        bodyWatch?.cancel()
        bodyWatch = loop.scheduleTask(in: TimeAmount(delay)) { bound.value.checkBodyStall() }
    }

    /// A streamed body has no deadline as a whole (the handler sets the pace); the client may only keep the
    /// handler waiting for the request timeout.
    private func checkBodyStall() {
        bodyWatch = nil
        guard let inbound else { return }
        switch inbound.watchClient(limit: limits.requestTimeout) {
        case .over: break
        case .timedOut: keepAlive = false
        case .checkAgain(let delay): armBodyWatch(after: delay)
        }
    }

    /// Notes raw bytes arriving before the parser has a whole head (slow-header detection).
    private func noteBytesArrived() {
        guard case .idle = state, waitingForBytes else { return }
        waitingForBytes = false
        armTimer(.header)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            drain.progressed(at: .now())
            writabilityWaiters.resumeAll()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        shuttingDown = true
        keepAlive = false
        switch state {
        case .idle:
            // A response may still be on its way to a slow reader: close behind it (the server's grace
            // period bounds the wait).
            if drain.isDraining, let lastDrained { closeAfter(lastDrained, lingering: true) } else { context.close(promise: nil) }
        // A streamed body ends cleanly; a response still being computed is left to finish (cancelling
        // its handler would turn a request the server accepted into a 503).
        case .responding where producing: task?.cancel()
        default: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// A malformed request: answer 400 (431 for oversized headers) and close; never keep the connection.
    private func refuseMalformed(_ parserError: HTTPParserError) {
        guard let context else { return }
        let status = parserError == .headerOverflow ? 431 : 400
        let message = status == 431
            ? "the request's header block is too large; send fewer or smaller headers"
            : "the request is not valid HTTP/1.1 (\(parserError)); fix the request line and headers"
        let response = responder.rejection(status, message, method: "-", path: "-", protocolVersion: .http1_1)
        keepAlive = false
        switch state {
        case .idle, .receiving:
            state = .responding
            closeAfter(write(response, requestID: nil, method: .get))
        case .discarding, .responding:
            // A response is already out or on its way; a second one would be taken for the next request's.
            context.close(promise: nil)
        }
    }

    // MARK: Responding

    private func dispatch(_ head: HTTP1RequestHead, _ route: RouteLookup, _ query: String?, _ body: [UInt8], streamedBody: RequestBodyBuffer? = nil) {
        guard let loop = context?.eventLoop else { return }
        timer.disarm()
        state = .responding
        let request = HTTPRequest(
            method: route.method, path: route.path, query: query, headers: head.headers, body: body, remoteAddress: peer.clientAddress(head.headers),
            protocolVersion: .http1_1, id: responder.nextRequestID(), streamedBody: streamedBody, route: route
        )
        let started: NIODeadline? = responder.logsAccess ? .now() : nil
        requestsDispatched += 1
        let number = requestsDispatched
        if let response = responder.respondImmediately(to: request) {
            send(response, for: request, method: head.method, startedAt: started)
            return
        }
        let responder = self.responder
        let bound = NIOLoopBound(self, eventLoop: loop)
        // Started right here, on the event loop: a handler that never suspends answers within this call,
        // with no job enqueued and no hop; one that suspends resumes on the loop (the executor preference).
        let handling = Task.immediate(executorPreference: executor) {
            let response = await responder.respond(to: request)
            if loop.inEventLoop {
                bound.value.send(response, for: request, method: head.method, startedAt: started)
            } else {
                loop.execute { bound.value.send(response, for: request, method: head.method, startedAt: started) }
            }
        }
        // Answered already: `task` is now a producer's, or the next pipelined request's.
        if requestsAnswered < number { task = handling }
    }

    private func send(_ response: HTTPResponse, for request: HTTPRequest, method: HTTPMethod, startedAt: NIODeadline?) {
        guard let context, !closed else {
            response.whenSent?()
            return
        }
        requestsAnswered += 1
        switch response.body {
        case .bytes(let bytes):
            responder.logAccess(request, status: response.status, bytes: bytes.count, startedAt: startedAt)
            let abandoned = streamedBodyUnfinished
            if abandoned { keepAlive = false }
            let written = write(response, requestID: request.id, method: method, reportingWrite: response.whenSent != nil)
            if let whenSent = response.whenSent {
                if let written { written.whenComplete { _ in whenSent() } } else { whenSent() }
            }
            if abandoned {
                abandonStreamedBody(after: written)
            } else if !keepAlive {
                closeAfter(written, lingering: true)
            } else {
                readyForNextRequest()
            }
        case .stream(let produce):
            producing = true
            let bodyAllowed = HTTP1ResponseEncoder.allowsBody(response.status)
            // HTTP/1.0 has no chunked coding: the body ends with the connection.
            if requestMinorVersion == 0 && bodyAllowed && method != .head { keepAlive = false }
            streamFraming = !bodyAllowed ? .none : requestMinorVersion == 0 ? .untilClose : .chunked
            streamHeadOnly = method == .head || !bodyAllowed
            let head = HTTP1ResponseEncoder.head(
                response, requestID: request.id, framing: streamFraming, persistence: persistence, allocator: context.channel.allocator,
                dropped: droppedField
            )
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            let writer = StreamedBodyWriter(sink: bound, eventLoop: loop, stream: 0)
            let counter = ByteCounter()
            task = Task(executorPreference: executor) {
                try? await produce(CountingWriter(inner: writer, counter: counter))
                loop.execute {
                    let handler = bound.value
                    guard !handler.closed else { return }
                    handler.responder.logAccess(request, status: response.status, bytes: counter.total, startedAt: startedAt)
                    // The producer may have been reading the request body (full duplex); now nobody will.
                    let abandoned = handler.streamedBodyUnfinished
                    if abandoned { handler.keepAlive = false }
                    let written = handler.endResponse()
                    if abandoned {
                        handler.abandonStreamedBody(after: written)
                    } else if !handler.keepAlive {
                        handler.closeAfter(written, lingering: true)
                    } else {
                        handler.readyForNextRequest()
                    }
                }
            }
        }
    }

    private func refuse(_ head: HTTP1RequestHead, _ status: Int, _ message: String) {
        timer.disarm()
        let response = responder.rejection(status, message, method: head.method.rawValue, path: HTTPRequest.split(target: head.target).path, protocolVersion: .http1_1)
        // The unread body cannot be skipped reliably, so the connection closes after the answer.
        keepAlive = false
        state = .discarding
        refusal = write(response, requestID: nil, method: head.method)
        lingerThenClose(after: refusal)
    }

    /// How long a refused request's body is still read (and dropped) before the connection closes.
    static let refusedBodyLinger = TimeAmount.seconds(2)

    /// Half-closes once the refusal is written, then goes on reading and dropping the body the client may
    /// still be sending, until it ends or for ``refusedBodyLinger``. Closing at once, with unread bytes,
    /// makes the kernel reset the connection, and a client still sending (curl without
    /// `Expect: 100-continue`) then fails with "connection reset" and never sees the 413.
    private func lingerThenClose(after written: EventLoopFuture<Void>?) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        if let written {
            written.whenComplete { _ in bound.value.context?.close(mode: .output, promise: nil) }
        } else {
            context.close(mode: .output, promise: nil)
        }
        timer.disarm()
        lingerTimer?.cancel()
        lingerTimer = context.eventLoop.scheduleTask(in: Self.refusedBodyLinger) { bound.value.context?.close(promise: nil) }
    }

    /// What the `connection` field says: close when the connection ends after this response; keep-alive
    /// only to an HTTP/1.0 client (HTTP/1.1 persists unless told otherwise).
    private var persistence: HTTP1ResponseEncoder.Persistence {
        !keepAlive ? .close : requestMinorVersion == 0 ? .keepAlive : .unsaid
    }

    /// A field a handler set that cannot go on the wire (it would end the head early or smuggle a field).
    private func droppedField(_ name: String) {
        responder.logger.error("left out a response field that is not valid HTTP", metadata: ["http.field": "\(name.utf8.count <= 64 ? name : String(name.prefix(64)))"])
    }

    /// Writes a whole response; returns when its last byte is written (nil when nothing was). `requestID`
    /// goes out as `x-request-id` (the server's own refusals carry theirs in `response`).
    @discardableResult
    private func write(_ response: HTTPResponse, requestID: String?, method: HTTPMethod, reportingWrite: Bool = false) -> EventLoopFuture<Void>? {
        guard let context, case .bytes(let bytes) = response.body else { return nil }
        let bodyAllowed = HTTP1ResponseEncoder.allowsBody(response.status)
        let sendsBody = bodyAllowed && method != .head && !bytes.isEmpty
        let inline = sendsBody && bytes.count <= Self.progressSlice
        var head = HTTP1ResponseEncoder.head(
            response, requestID: requestID, framing: bodyAllowed ? .length(bytes.count) : .none, persistence: persistence,
            allocator: context.channel.allocator, bodyCapacity: inline ? bytes.count : 0, dropped: droppedField
        )
        guard sendsBody else { return endResponse(with: head, reportingWrite: reportingWrite) }
        if inline {
            head.writeBytes(bytes)
            return endResponse(with: head, reportingWrite: reportingWrite)
        }
        context.write(wrapOutboundOut(head), promise: nil)
        // Large bodies go out in slices, each reporting when it reached the socket, so a slow but steady
        // reader counts as progress rather than as a stalled one.
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        var offset = 0
        while true {
            let end = bytes.count - offset > Self.progressSlice ? offset + Self.progressSlice : bytes.count
            var buffer = context.channel.allocator.buffer(capacity: end - offset)
            buffer.writeBytes(bytes[offset..<end])
            if end == bytes.count { return endResponse(with: buffer, reportingWrite: reportingWrite) }
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenSuccess { bound.value.drain.progressed(at: .now()) }
            context.write(wrapOutboundOut(buffer), promise: promise)
            offset = end
        }
    }

    /// Ends the current response with `last` (its last bytes, or for a streamed body the end of its framing);
    /// on a keep-alive connection readies it for the next request. Returns when `last` is written, except on a
    /// connection that stays open, where nobody waits for that (nil).
    @discardableResult
    /// Returns the write's future when the connection closes after it or `reportingWrite` asks for it.
    private func endResponse(with last: ByteBuffer? = nil, reportingWrite: Bool = false) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        task = nil
        producing = false
        if keepAlive, case .responding = state {
            state = .idle
            waitingForBytes = true
            armTimer(.idle)
        }
        let bytes = last ?? (streamHeadOnly ? context.channel.allocator.buffer(capacity: 0) : HTTP1ResponseEncoder.end(streamFraming, allocator: context.channel.allocator))
        if keepAlive && !reportingWrite {
            // Nothing waits on this write: the flush checks what the socket did not take (see flush(_:)).
            // A promise and its callback for every response cost about 5 % of a small request.
            context.write(wrapOutboundOut(bytes), promise: nil)
            drainUnchecked = true
            flushSoon()
            return nil
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(bytes), promise: promise)
        flushSoon()
        if keepAlive { drainUnchecked = true } else { trackDrain(promise.futureResult) }
        return promise.futureResult
    }

    /// Bytes per body slice when writing a large response.
    static let progressSlice = 64 * 1024

    /// Counts a response as draining until `written` completes, watching for a client that stops reading.
    private func trackDrain(_ written: EventLoopFuture<Void>) {
        guard let loop = context?.eventLoop else { return }
        drain.began(at: .now())
        lastDrained = written
        let bound = NIOLoopBound(self, eventLoop: loop)
        written.whenComplete { _ in bound.value.drain.completed(at: .now()) }
        if drain.isDraining { armStallWatch() }
    }

    /// Starts checking, every idle timeout, that a response going out still makes progress.
    private func armStallWatch() {
        guard stallTimer == nil, let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        stallTimer = loop.scheduleTask(in: responder.timeouts.idle) { bound.value.checkStall() }
    }

    private func checkStall() {
        stallTimer = nil
        guard let context, drain.isDraining || !writabilityWaiters.isEmpty else { return }
        if case .quiet(let remaining) = drain.watch.verdict(at: .now(), limit: responder.timeouts.idle) {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            stallTimer = context.eventLoop.scheduleTask(in: remaining) { bound.value.checkStall() }
            return
        }
        responder.logger.notice("closing a connection whose client stopped reading its response", metadata: [
            "http.idle_timeout": "\(limits.idleTimeout)",
        ])
        context.close(promise: nil)
    }

    func enqueueChunk(_ bytes: [UInt8], stream: Int32, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let context, !closed else {
            continuation.resume(throwing: ResponseStreamClosed())
            return
        }
        if !streamHeadOnly, !bytes.isEmpty {
            context.writeAndFlush(wrapOutboundOut(HTTP1ResponseEncoder.chunk(bytes, framing: streamFraming, allocator: context.channel.allocator)), promise: nil)
        }
        if context.channel.isWritable {
            continuation.resume()
        } else {
            writabilityWaiters.add(continuation)
            armStallWatch()
        }
    }

    // MARK: Timers

    /// Replaces the running timeout; it fires at the first housekeeping tick past its limit.
    private func armTimer(_ reason: ConnectionTimer.Reason) {
        timer.arm(reason, at: .now())
    }

    private func checkDeadline() {
        guard let reason = timer.expire(at: .now()) else { return }
        timerFired(reason, limit: limits.timeout(reason))
    }

    private func timerFired(_ reason: ConnectionTimer.Reason, limit: Duration) {
        guard let context else { return }
        switch (reason, state) {
        case (.idle, .idle) where waitingForBytes:
            // Idle means nothing left to send either; a stalled reader is the stall watch's business.
            if drain.isDraining {
                armTimer(.idle)
            } else {
                context.close(promise: nil)
            }
        case (.header, .idle), (.idle, .idle):
            let message = "the request head was not received within \(limit); send it faster"
            let response = responder.rejection(408, message, method: "-", path: "-", protocolVersion: .http1_1)
            keepAlive = false
            state = .responding
            closeAfter(write(response, requestID: nil, method: .get))
        case (.request, .receiving):
            let message = "the request body was not received within \(limit); send it faster"
            let response = responder.rejection(408, message, method: "-", path: "-", protocolVersion: .http1_1)
            keepAlive = false
            state = .responding
            closeAfter(write(response, requestID: nil, method: .get))
        default:
            break
        }
    }

    /// Closes the connection once `written` (the last response) has reached the socket.
    ///
    /// When `lingering` (a well-behaved client at the end of its exchange), only the output closes: the client
    /// reads the rest, sees the end and closes, which closes the channel. Closing outright with client bytes unread (a pipelined request, say) makes the kernel answer
    /// with a reset, which destroys whatever the client had not read yet. A client that never closes is
    /// cut off after the idle timeout.
    private func closeAfter(_ written: EventLoopFuture<Void>?, lingering: Bool = false) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        guard lingering else {
            if let written { written.whenComplete { _ in bound.value.context?.close(promise: nil) } } else { context.close(promise: nil) }
            return
        }
        let closeOutput: @Sendable () -> Void = {
            guard let context = bound.value.context else { return }
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenFailure { _ in bound.value.context?.close(promise: nil) }
            context.close(mode: .output, promise: promise)
        }
        if let written { written.whenComplete { _ in closeOutput() } } else { closeOutput() }
        closeTimer?.cancel()
        closeTimer = context.eventLoop.scheduleTask(in: responder.timeouts.idle) { bound.value.context?.close(promise: nil) }
    }

    private func tearDown() {
        closed = true
        inbound?.fail(.connectionClosed)
        bodyWatch?.cancel()
        bodyWatch = nil
        timer.disarm()
        housekeeping?.cancel()
        housekeeping = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        stallTimer?.cancel()
        stallTimer = nil
        closeTimer?.cancel()
        closeTimer = nil
        task?.cancel()
        writabilityWaiters.failAll()
    }
}

/// Counts the bytes of a streamed body for the access log.
final class ByteCounter: @unchecked Sendable {
    // `@unchecked Sendable`: written only by the single producer task, read after it finished.
    var total = 0
}

struct CountingWriter: ResponseBodyWriter {
    let inner: any ResponseBodyWriter
    let counter: ByteCounter

    func write(_ bytes: [UInt8]) async throws {
        try await inner.write(bytes)
        counter.total += bytes.count
    }
}
