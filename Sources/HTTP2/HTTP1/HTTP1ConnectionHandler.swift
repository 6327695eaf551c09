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
/// Every decision is ``HTTP1ConnectionStateMachine``'s: this handler tells it what happened and performs
/// the action it returns. What it keeps itself is what a value cannot hold: the channel, the parser, the
/// request being collected, tasks, timers and futures.
///
/// Everything here runs on the channel's event loop; tasks reach it through `NIOLoopBound` and `execute`.
final class HTTP1ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, StreamedBodySink {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The request whose body is being collected.
    private struct Collected {
        let head: HTTP1RequestHead
        let route: RouteLookup
        let query: String?
        let limit: Int
        var body: [UInt8] = []
    }

    private let responder: Responder
    private let limits: HTTPServerConfiguration.Limits
    private let peer: Peer
    private var machine: HTTP1ConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var recentRoute = RecentRoute()
    private var collected: Collected?
    /// Checks the machine's timer every ``HTTPServerConfiguration/Limits/housekeepingTick``.
    private var housekeeping: RepeatedTask?
    /// Closes a connection whose refused request body is still being dropped.
    private var lingerTimer: Scheduled<Void>?
    private var task: Task<Void, Never>?
    private var writabilityWaiters = WriterWaiters()
    /// The last awaited response write: a shutdown closes behind it.
    private var lastDrained: EventLoopFuture<Void>?
    /// Cuts off a client that stops reading a response for the idle timeout.
    private var stallTimer: Scheduled<Void>?
    /// The refusal (413, 431) of a request whose body is being dropped.
    private var refusal: EventLoopFuture<Void>?
    /// Closes a connection whose output is closed once the client has had time to read and close.
    private var closeTimer: Scheduled<Void>?
    private var executor: EventLoopTaskExecutor?
    /// The body of the request in flight whose route streams it, until its end arrives.
    private var inbound: RequestBodyBuffer?
    /// Fails a streamed body whose client keeps the handler waiting for the request timeout.
    private var bodyWatch: Scheduled<Void>?
    /// `maxMessagesPerRead` to restore once a streamed body is over.
    private var savedReadBatch: UInt?
    /// Parts of the requests a client pipelined behind the one being answered, replayed once its response is out.
    private var pipelined = CircularBuffer<HTTP1RequestPart>()
    private let parser = HTTP1RequestParser()
    /// The current request's `HTTP2-Settings`, when it asked for h2c and gets it once it has ended.
    private var h2cSettings: [UInt8]?

    init(responder: Responder, limits: HTTPServerConfiguration.Limits, peer: Peer, acceptsH2C: Bool = false) {
        self.responder = responder
        self.limits = limits
        self.peer = peer
        machine = HTTP1ConnectionStateMachine(
            maximumHeaderBytes: limits.maximumHeaderBytes, acceptsH2C: acceptsH2C, timeouts: responder.timeouts, now: .now()
        )
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
        machine.started(at: .now())
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let tick = limits.housekeepingTick
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            bound.value.timerTick()
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
        machine.bytesArrived(at: .now())
        deliver(parser.parse(unwrapInboundIn(data)))
    }

    /// Hands what the parser found to ``handle(_:)``, then answers the error that stopped it, if any.
    private func deliver(_ parsed: (parts: [HTTP1RequestPart], error: HTTPParserError?)) {
        for part in parsed.parts { handle(part) }
        if let error = parsed.error { refuseMalformed(error) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        perform(machine.readEnded(), context)
        context.fireChannelReadComplete()
    }

    private func perform(_ action: FlushSchedule.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .none: break
        case .flush: flush(context)
        case .scheduleFlush: flushAtEndOfTick(context)
        }
    }

    /// Flushes once the event loop has handled every connection readable in this tick (Netty's
    /// `FlushConsolidationHandler`), so responses find their clients awake (docs/adr/0004-http1-flush-at-end-of-tick.md).
    private func flushAtEndOfTick(_ context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().execute { [self] in
            machine.scheduledFlushRan()
            if let context = self.context { flush(context) }
        }
    }

    /// Flushes now, or once the read batch or the replay of pipelined requests in progress is over: the
    /// responses to requests that arrived together leave in one write.
    private func flushSoon() {
        guard let context else { return }
        perform(machine.wrote(), context)
    }

    /// Flushes; then, when keep-alive responses went out since the last flush (they carry no promise, see
    /// ``endResponse(with:reportingWrite:)``) and the socket did not take all of their bytes, tracks the rest
    /// with one empty write whose promise completes once everything before it is written.
    private func flush(_ context: ChannelHandlerContext) {
        context.flush()
        guard machine.flushed() else { return }
        guard let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), buffered > 0 else { return }
        let marker = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: marker)
        trackDrain(marker.futureResult)
    }

    private func handle(_ part: HTTP1RequestPart) {
        guard let context else { return }
        guard machine.partArrived() else {
            pipelined.append(part)
            return
        }
        switch part {
        case .head(let head):
            receive(head, context)
        case .body(let chunk):
            if let inbound {
                if inbound.append(Array(chunk.readableBytesView)) == .overLimit {
                    // The handler answers 413; the rest of the body cannot be skipped reliably.
                    machine.closeAfterResponse()
                    releaseHeldRead()
                }
                return
            }
            switch machine.body(chunk.readableBytes) {
            case .ignore: break
            case .append: collected?.body.append(contentsOf: chunk.readableBytesView)
            case .refuse(let refusal):
                guard let request = collected.take() else { return }
                refuse(refusal, request.head, limit: request.limit)
            }
        case .end:
            switch machine.end(streamedBody: inbound != nil) {
            case .none:
                break
            case .finishStreamedBody(let closeAfterRefusal):
                inbound?.finish()
                endStreamedBody()
                if closeAfterRefusal { closeAfter(refusal) }
            case .dispatch:
                guard let request = collected.take() else { return }
                dispatch(request.head, request.route, request.query, request.body)
            case .upgrade:
                guard let request = collected.take(), let settings = h2cSettings.take() else { return }
                upgradeToHTTP2(request.head, settings: settings)
            case .closeAfterRefusal:
                closeAfter(refusal)  // the refused body is over
            }
        }
    }

    private func receive(_ head: HTTP1RequestHead, _ context: ChannelHandlerContext) {
        guard case .idle = machine.state else { return }
        let (path, query) = HTTPRequest.split(target: head.target)
        let route = recentRoute.lookup(head.method, path, in: responder)
        let (limit, streamed) = responder.bodyPlan(route)
        h2cSettings = machine.acceptsH2C && head.asksToUpgrade && !streamed ? HTTP1Upgrade.h2cSettings(head) : nil
        let facts = HTTP1ConnectionStateMachine.Head(
            // After a CONNECT the parser hands the bytes to a tunnel this server never opens: answer, then
            // close, rather than read them as the next request.
            keepAlive: head.keepAlive && head.method != .connect, minorVersion: head.minorVersion, size: head.size,
            contentLength: head.headers["content-length"].flatMap(Int.init), bodyLimit: limit, streamsBody: streamed,
            asksToUpgrade: head.asksToUpgrade, offersH2C: h2cSettings != nil
        )
        let action = machine.head(facts, at: .now())
        switch action {
        case .ignore:
            return
        case .refuse(let refusal):
            refuse(refusal, head, limit: limit)
            return
        case .collectBody, .dispatchStreamingBody:
            break
        }
        if head.headers.lists("100-continue", in: "expect") {
            // The client waits for this before sending its body (curl does so for a second).
            context.writeAndFlush(wrapOutboundOut(HTTP1ResponseEncoder.continueHead(allocator: context.channel.allocator)), promise: nil)
        }
        if action == .dispatchStreamingBody {
            startStreamedBody(head, route: route, query: query, limit: limit)
        } else {
            collected = Collected(head: head, route: route, query: query, limit: limit)
        }
    }

    /// Holds back reads while the handler of a streamed body has a high watermark's worth unread, while
    /// pipelined requests wait, and while the parser holds the bytes after an upgrade request: the socket's
    /// receive buffer fills and TCP makes the client wait.
    func read(context: ChannelHandlerContext) {
        let backlogged = inbound.map { $0.bufferedBytes >= limits.streamingHighWatermark } ?? false
        // A pipelined request waits for the response before it, and the bytes after an upgrade request
        // wait until it is answered: read no more meanwhile, so what waits is one read at most.
        if machine.read(bodyBacklogged: backlogged, parserHolds: parser.isStopped) { context.read() }
    }

    /// The parser stopped after a request that asked to upgrade. It was answered over HTTP/1.1, so parsing
    /// goes on from a fresh start with the bytes held back, as a read of their own (flushed at its end).
    private func resumeParsing() {
        let began = machine.resumeBegan()
        deliver(parser.resume())
        if began, let context { perform(machine.readEnded(), context) }
    }

    /// Answers `Upgrade: h2c` with 101 and hands the connection to an HTTP/2 session that answers the request
    /// on stream 1 (RFC 7540 §3.2). The bytes after the request (the client's connection preface, when it
    /// sent it right away) go to the new handler.
    private func upgradeToHTTP2(_ head: HTTP1RequestHead, settings: [UInt8]) {
        guard let context else { return }
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
        if machine.takeHeldRead() { context.channel.read() }
    }

    /// Hands the parts of pipelined requests over, in order, until one of them is being answered.
    private func replayPipelined() {
        guard machine.replayBegan() else { return }
        while machine.nextHeldPart(), let part = pipelined.popFirst() {
            handle(part)
        }
        let action = machine.replayEnded()
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
        guard let context, machine.releaseRead(parserHolds: parser.isStopped) else { return }
        context.read()
    }

    /// The response is complete but the handler left part of the streamed body unread: drop the rest as
    /// it arrives, for a while, then close (the connection cannot be reused without reading it all).
    private func abandonStreamedBody(after written: EventLoopFuture<Void>?) {
        inbound?.discard()
        releaseHeldRead()
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

    private func checkBodyStall() {
        bodyWatch = nil
        guard let inbound else { return }
        switch inbound.watchClient(limit: limits.requestTimeout) {
        case .over: break
        case .timedOut: machine.closeAfterResponse()
        case .checkAgain(let delay): armBodyWatch(after: delay)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            machine.responseProgressed(at: .now())
            writabilityWaiters.resumeAll()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch machine.quiesce() {
        case .none:
            break
        case .close:
            context.close(promise: nil)
        case .closeAfterDrain:
            // A response may still be on its way to a slow reader: close behind it (the server's grace
            // period bounds the wait).
            if let lastDrained { closeAfter(lastDrained, lingering: true) } else { context.close(promise: nil) }
        case .cancelProducer:
            // A streamed body ends cleanly.
            task?.cancel()
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
        switch machine.malformed() {
        case .answerAndClose:
            closeAfter(write(response, requestID: nil, method: .get))
        case .close:
            context.close(promise: nil)
        }
    }

    // MARK: Responding

    /// Runs a request the machine has dispatched.
    private func dispatch(_ head: HTTP1RequestHead, _ route: RouteLookup, _ query: String?, _ body: [UInt8], streamedBody: RequestBodyBuffer? = nil) {
        guard let loop = context?.eventLoop else { return }
        let request = HTTPRequest(
            method: route.method, path: route.path, query: query, headers: head.headers, body: body, remoteAddress: peer.clientAddress(head.headers),
            protocolVersion: .http1_1, id: responder.nextRequestID(), streamedBody: streamedBody, route: route
        )
        let started: NIODeadline? = responder.logsAccess ? .now() : nil
        let number = machine.dispatched
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
        if machine.stillAnswering(number) { task = handling }
    }

    private func send(_ response: HTTPResponse, for request: HTTPRequest, method: HTTPMethod, startedAt: NIODeadline?) {
        guard let context, machine.responseReady() else {
            response.whenSent?()
            return
        }
        switch response.body {
        case .bytes(let bytes):
            responder.logAccess(request, status: response.status, bytes: bytes.count, startedAt: startedAt)
            let abandoned = streamedBodyUnfinished
            if abandoned { machine.closeAfterResponse() }
            let written = write(response, requestID: request.id, method: method, reportingWrite: response.whenSent != nil)
            if let whenSent = response.whenSent {
                if let written { written.whenComplete { _ in whenSent() } } else { whenSent() }
            }
            finishResponse(written: written, abandonedBody: abandoned)
        case .stream(let produce):
            let bodyAllowed = HTTP1ResponseEncoder.allowsBody(response.status)
            let plan = machine.streamStarts(bodyAllowed: bodyAllowed, isHead: method == .head)
            let head = HTTP1ResponseEncoder.head(
                response, requestID: request.id, framing: plan.framing, persistence: machine.persistence, allocator: context.channel.allocator,
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
                    guard !handler.machine.isClosed else { return }
                    handler.responder.logAccess(request, status: response.status, bytes: counter.total, startedAt: startedAt)
                    // The producer may have been reading the request body (full duplex); now nobody will.
                    let abandoned = handler.streamedBodyUnfinished
                    if abandoned { handler.machine.closeAfterResponse() }
                    handler.finishResponse(written: handler.endResponse(), abandonedBody: abandoned)
                }
            }
        }
    }

    /// After a response's last bytes: drop the rest of an abandoned body, close, or go on to the next request.
    private func finishResponse(written: EventLoopFuture<Void>?, abandonedBody: Bool) {
        switch machine.responseEnded(abandonedBody: abandonedBody) {
        case .discardRestOfBody:
            abandonStreamedBody(after: written)
        case .closeLingering:
            closeAfter(written, lingering: true)
        case .nextRequest(let resume):
            // Parsing resumes if the request asked to upgrade (and was answered over HTTP/1.1 instead),
            // then the requests pipelined behind it are handed on.
            if resume { resumeParsing() }
            replayPipelined()
        }
    }

    /// Answers a request the server refuses itself (431, 413); the connection closes after the answer.
    private func refuse(_ refusal: HTTP1ConnectionStateMachine.Refusal, _ head: HTTP1RequestHead, limit: Int) {
        let (status, message) = switch refusal {
        case .headersTooLarge: (431, LimitMessage.headersTooLarge(limits.maximumHeaderBytes))
        case .bodyTooLarge: (413, LimitMessage.bodyTooLarge(limit))
        }
        let response = responder.rejection(status, message, method: head.method.rawValue, path: HTTPRequest.split(target: head.target).path, protocolVersion: .http1_1)
        self.refusal = write(response, requestID: nil, method: head.method)
        lingerThenClose(after: self.refusal)
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
        lingerTimer?.cancel()
        lingerTimer = context.eventLoop.scheduleTask(in: Self.refusedBodyLinger) { bound.value.context?.close(promise: nil) }
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
            response, requestID: requestID, framing: bodyAllowed ? .length(bytes.count) : .none, persistence: machine.persistence,
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
            promise.futureResult.whenSuccess { bound.value.machine.responseProgressed(at: .now()) }
            context.write(wrapOutboundOut(buffer), promise: promise)
            offset = end
        }
    }

    /// Ends the current response with `last` (its last bytes, or for a streamed body the end of its framing);
    /// on a keep-alive connection readies it for the next request. Returns the write's future when the
    /// connection closes after it or `reportingWrite` asks for it; nil on a connection that stays open, where
    /// nobody waits for it.
    @discardableResult
    private func endResponse(with last: ByteBuffer? = nil, reportingWrite: Bool = false) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        task = nil
        let keepAlive = machine.responseEnding(at: .now())
        let framing = machine.streamedResponse
        let bytes = last ?? (framing.headOnly ? context.channel.allocator.buffer(capacity: 0) : HTTP1ResponseEncoder.end(framing.framing, allocator: context.channel.allocator))
        if keepAlive && !reportingWrite {
            // Nothing waits on this write: the flush checks what the socket did not take (see flush(_:)).
            // No promise per response: docs/adr/0002-http1-responses-written-by-the-server.md.
            context.write(wrapOutboundOut(bytes), promise: nil)
            machine.wroteUntracked()
            flushSoon()
            return nil
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(bytes), promise: promise)
        flushSoon()
        if keepAlive { machine.wroteUntracked() } else { trackDrain(promise.futureResult) }
        return promise.futureResult
    }

    /// Bytes per body slice when writing a large response.
    static let progressSlice = 64 * 1024

    /// Counts a response as draining until `written` completes, watching for a client that stops reading.
    private func trackDrain(_ written: EventLoopFuture<Void>) {
        guard let loop = context?.eventLoop else { return }
        machine.drainBegan(at: .now())
        lastDrained = written
        let bound = NIOLoopBound(self, eventLoop: loop)
        written.whenComplete { _ in bound.value.machine.drainCompleted(at: .now()) }
        armStallWatch()
    }

    /// Starts checking, every idle timeout, that a response going out still makes progress.
    private func armStallWatch() {
        guard stallTimer == nil, let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        stallTimer = loop.scheduleTask(in: responder.timeouts.idle) { bound.value.checkStall() }
    }

    private func checkStall() {
        stallTimer = nil
        guard let context else { return }
        switch machine.stallCheck(at: .now(), limit: responder.timeouts.idle, writersWaiting: !writabilityWaiters.isEmpty) {
        case .none:
            break
        case .checkAgain(let remaining):
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            stallTimer = context.eventLoop.scheduleTask(in: remaining) { bound.value.checkStall() }
        case .close:
            responder.logger.notice("closing a connection whose client stopped reading its response", metadata: [
                "http.idle_timeout": "\(limits.idleTimeout)",
            ])
            context.close(promise: nil)
        }
    }

    func enqueueChunk(_ bytes: [UInt8], stream: Int32, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let context, !machine.isClosed else {
            continuation.resume(throwing: ResponseStreamClosed())
            return
        }
        let framing = machine.streamedResponse
        if !framing.headOnly, !bytes.isEmpty {
            context.writeAndFlush(wrapOutboundOut(HTTP1ResponseEncoder.chunk(bytes, framing: framing.framing, allocator: context.channel.allocator)), promise: nil)
        }
        if context.channel.isWritable {
            continuation.resume()
        } else {
            writabilityWaiters.add(continuation)
            armStallWatch()
        }
    }

    // MARK: Timers

    private func timerTick() {
        guard let context else { return }
        switch machine.tick(at: .now()) {
        case .none:
            break
        case .close:
            context.close(promise: nil)
        case .answerTimeout(let reason):
            let what = reason == .request ? "request body" : "request head"
            let message = "the \(what) was not received within \(limits.timeout(reason)); send it faster"
            let response = responder.rejection(408, message, method: "-", path: "-", protocolVersion: .http1_1)
            closeAfter(write(response, requestID: nil, method: .get))
        }
    }

    /// Closes the connection once `written` (the last response) has reached the socket.
    ///
    /// When `lingering` (a well-behaved client at the end of its exchange), only the output closes: the client
    /// reads the rest, sees the end and closes, which closes the channel. Closing outright with client bytes
    /// unread (a pipelined request, say) makes the kernel answer with a reset, which destroys whatever the
    /// client had not read yet. A client that never closes is cut off after the idle timeout.
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
        machine.closed()
        inbound?.fail(.connectionClosed)
        bodyWatch?.cancel()
        bodyWatch = nil
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
