import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection behind NIO's decoder, encoder and pipelining handler (which keeps
/// pipelined responses in request order): collects each request up to its body limit, runs it through the
/// ``Responder`` in a task, and writes the response back, streamed bodies respecting socket writability.
///
/// Everything here runs on the channel's event loop; tasks reach it through `NIOLoopBound` and `execute`.
final class HTTP1ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for the next request head; `since` is when the wait began, `bytesSeen` whether a head has started arriving.
        case idle
        case receiving(head: HTTPRequestHead, body: [UInt8], limit: Int)
        /// A request whose body is being discarded because it was refused; the answer is already out.
        case discarding
        case responding
    }

    private let responder: Responder
    private let limits: HTTPServerConfiguration.Limits
    private let remoteAddress: String?
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var keepAlive = true
    private var shuttingDown = false
    private var timer: Scheduled<Void>?
    private var waitingForBytes = true
    private var task: Task<Void, Never>?
    private var writabilityWaiters: [CheckedContinuation<Void, any Error>] = []
    private var closed = false
    private var executor: EventLoopTaskExecutor?
    /// Writes below the codec (set by the ``ProtocolDetector`` that installs both).
    var rawOutput: HTTP1ActivityObserver?

    init(responder: Responder, limits: HTTPServerConfiguration.Limits, remoteAddress: String?) {
        self.responder = responder
        self.limits = limits
        self.remoteAddress = remoteAddress
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
        armTimer(limits.headerTimeout, reason: .header)
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
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            let headerBytes = head.headers.reduce(head.uri.utf8.count) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
            keepAlive = head.isKeepAlive && !shuttingDown
            if headerBytes > limits.maximumHeaderBytes {
                refuse(head, 431, "the request's header fields exceed \(limits.maximumHeaderBytes) bytes; send fewer or smaller headers")
                return
            }
            let path = HTTPRequest.split(target: head.uri).path
            let limit = responder.bodyLimit(HTTPMethod(head.method.rawValue), path)
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit {
                refuse(head, 413, Self.tooLarge(limit))
                return
            }
            state = .receiving(head: head, body: [], limit: limit)
            armTimer(limits.requestTimeout, reason: .request)
        case .body(let chunk):
            guard case .receiving(let head, var body, let limit) = state else { return }
            guard body.count + chunk.readableBytes <= limit else {
                refuse(head, 413, Self.tooLarge(limit))
                return
            }
            state = .responding  // drop the reference so appending does not copy
            body.append(contentsOf: chunk.readableBytesView)
            state = .receiving(head: head, body: body, limit: limit)
        case .end:
            switch state {
            case .receiving(let head, let body, _):
                dispatch(head, body)
            case .discarding:
                context.close(promise: nil)
            default:
                break
            }
        }
    }

    /// Notes raw bytes arriving before the decoder sees a whole head (slow-header detection).
    func noteBytesArrived() {
        guard case .idle = state, waitingForBytes else { return }
        waitingForBytes = false
        armTimer(limits.headerTimeout, reason: .header)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { resumeWriters() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is GracefulShutdownEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        shuttingDown = true
        keepAlive = false
        switch state {
        case .idle: context.close(promise: nil)
        case .responding: task?.cancel()  // a streamed body ends cleanly; a computed one finishes
        default: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // A malformed request: answer 400 (431 for oversized headers) and close; never keep the connection.
        let status = parserError == .headerOverflow ? 431 : 400
        let message = status == 431
            ? "the request's header block is too large; send fewer or smaller headers"
            : "the request is not valid HTTP/1.1 (\(parserError)); fix the request line and headers"
        responder.logRejected(method: "-", path: "-", status: status, protocolVersion: .http1_1, reason: message)
        keepAlive = false
        switch state {
        case .idle, .receiving:
            state = .responding
            closeAfter(write(HTTPResponse.error(status, message), requestID: nil, method: .GET))
        case .discarding, .responding:
            // A response is already out or on its way; a second one would break the codec's order.
            context.close(promise: nil)
        }
    }

    // MARK: Responding

    private func dispatch(_ head: HTTPRequestHead, _ body: [UInt8]) {
        guard let loop = context?.eventLoop else { return }
        timer?.cancel()
        timer = nil
        state = .responding
        let (path, query) = HTTPRequest.split(target: head.uri)
        var headers = HTTPHeaders()
        for (name, value) in head.headers { headers.add(name, value) }
        let request = HTTPRequest(
            method: HTTPMethod(head.method.rawValue), path: path, query: query, headers: headers, body: body,
            remoteAddress: remoteAddress, protocolVersion: .http1_1, id: responder.nextRequestID()
        )
        let started = ContinuousClock.now
        if let response = responder.respondImmediately(to: request) {
            send(response, for: request, method: head.method, startedAt: started)
            return
        }
        let responder = self.responder
        let bound = NIOLoopBound(self, eventLoop: loop)
        task = Task(executorPreference: executor) {
            let response = await responder.respond(to: request)
            if loop.inEventLoop {
                bound.value.send(response, for: request, method: head.method, startedAt: started)
            } else {
                loop.execute { bound.value.send(response, for: request, method: head.method, startedAt: started) }
            }
        }
    }

    private func send(_ response: HTTPResponse, for request: HTTPRequest, method: NIOHTTP1.HTTPMethod, startedAt: ContinuousClock.Instant) {
        guard let context, !closed else { return }
        switch response.body {
        case .bytes(let bytes):
            responder.logAccess(request, status: response.status, bytes: bytes.count, startedAt: startedAt)
            let written = write(response, requestID: request.id, method: method)
            if !keepAlive { closeAfter(written) }
        case .stream(let produce):
            writeHead(response, streaming: true)
            context.flush()
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            let writer = BodyWriter(handler: bound, eventLoop: loop)
            let counter = ByteCounter()
            task = Task(executorPreference: executor) {
                try? await produce(CountingWriter(inner: writer, counter: counter))
                loop.execute {
                    let handler = bound.value
                    guard !handler.closed else { return }
                    handler.responder.logAccess(request, status: response.status, bytes: counter.total, startedAt: startedAt)
                    let written = handler.endResponse()
                    if !handler.keepAlive { handler.closeAfter(written) }
                }
            }
        }
    }

    private func refuse(_ head: HTTPRequestHead, _ status: Int, _ message: String) {
        timer?.cancel()
        responder.logRejected(method: head.method.rawValue, path: HTTPRequest.split(target: head.uri).path, status: status, protocolVersion: .http1_1, reason: message)
        // The unread body cannot be skipped reliably, so the connection closes after the answer.
        keepAlive = false
        write(HTTPResponse.error(status, message), requestID: nil, method: head.method)
        state = .discarding
        context?.flush()
        context?.close(mode: .all, promise: nil)
    }

    private func writeHead(_ response: HTTPResponse, streaming: Bool) {
        guard let context else { return }
        var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status))
        for (name, value) in response.headers { head.headers.add(name: name, value: value) }
        if streaming { head.headers.remove(name: "content-length") }
        if !keepAlive { head.headers.replaceOrAdd(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    /// Writes a whole response; returns when its last part is written (nil when nothing was).
    @discardableResult
    private func write(_ response: HTTPResponse, requestID: String?, method: NIOHTTP1.HTTPMethod) -> EventLoopFuture<Void>? {
        guard let context, case .bytes(let bytes) = response.body else { return nil }
        var response = response
        response.headers.setLowercased("content-length", String(bytes.count))
        if let requestID { response.headers.setLowercased("x-request-id", requestID) }
        writeHead(response, streaming: false)
        if !bytes.isEmpty && method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        return endResponse()
    }

    /// Ends the current response; on a keep-alive connection readies it for the next request first.
    ///
    /// The state changes before `.end` is written: writing it lets the pipelining handler hand over the
    /// next pipelined request at once, re-entering ``channelRead(context:data:)``. Returns when `.end` is written.
    @discardableResult
    private func endResponse() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        task = nil
        if keepAlive, case .responding = state {
            state = .idle
            waitingForBytes = true
            armTimer(limits.idleTimeout, reason: .idle)
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        return promise.futureResult
    }

    fileprivate func writeChunk(_ bytes: [UInt8], _ continuation: CheckedContinuation<Void, any Error>) {
        guard let context, !closed else {
            continuation.resume(throwing: ResponseStreamClosed())
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if context.channel.isWritable {
            continuation.resume()
        } else {
            writabilityWaiters.append(continuation)
        }
    }

    private func resumeWriters() {
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Timers

    private enum TimerReason { case header, request, idle }

    private func armTimer(_ duration: Duration, reason: TimerReason) {
        timer?.cancel()
        guard let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let limit = duration
        timer = loop.scheduleTask(in: duration.timeAmount) {
            bound.value.timerFired(reason, limit: limit)
        }
    }

    private func timerFired(_ reason: TimerReason, limit: Duration) {
        guard let context else { return }
        switch (reason, state) {
        case (.idle, .idle) where waitingForBytes:
            context.close(promise: nil)
        case (.header, .idle), (.idle, .idle):
            // No head was decoded, so the codec has no request to answer (NIO's pipelining handler traps on a
            // response without one): the 408 goes out below the codec, as raw bytes.
            let message = "the request head was not received within \(limit); send it faster"
            responder.logRejected(method: "-", path: "-", status: 408, protocolVersion: .http1_1, reason: message)
            keepAlive = false
            state = .responding
            if let written = rawOutput?.writeRaw(Self.serialized(HTTPResponse.error(408, message))) {
                closeAfter(written)
            } else {
                context.close(promise: nil)
            }
        case (.request, .receiving):
            let message = "the request body was not received within \(limit); send it faster"
            responder.logRejected(method: "-", path: "-", status: 408, protocolVersion: .http1_1, reason: message)
            keepAlive = false
            state = .responding
            closeAfter(write(HTTPResponse.error(408, message), requestID: nil, method: .GET))
        default:
            break
        }
    }

    /// Closes the connection once `written` (the last response) has reached the socket.
    private func closeAfter(_ written: EventLoopFuture<Void>?) {
        guard let context else { return }
        guard let written else {
            context.close(promise: nil)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        written.whenComplete { _ in bound.value.context?.close(promise: nil) }
    }

    /// A complete HTTP/1.1 response with `connection: close`, for writing below the codec.
    static func serialized(_ response: HTTPResponse) -> [UInt8] {
        guard case .bytes(let body) = response.body else { return [] }
        let reason = HTTPResponseStatus(statusCode: response.status).reasonPhrase
        var head = "HTTP/1.1 \(response.status) \(reason)\r\n"
        for (name, value) in response.headers where name != "content-length" && name != "connection" {
            head += "\(name): \(value)\r\n"
        }
        head += "content-length: \(body.count)\r\nconnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    private func tearDown() {
        closed = true
        timer?.cancel()
        timer = nil
        task?.cancel()
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: ResponseStreamClosed()) }
    }

    private static func tooLarge(_ limit: Int) -> String {
        "the request body exceeds the limit of \(limit) bytes for this endpoint; send a smaller body"
    }

    struct BodyWriter: ResponseBodyWriter {
        let handler: NIOLoopBound<HTTP1ConnectionHandler>
        let eventLoop: any EventLoop

        func write(_ bytes: [UInt8]) async throws {
            guard !Task.isCancelled else { throw ResponseStreamClosed() }
            try await withCheckedThrowingContinuation { continuation in
                eventLoop.execute { handler.value.writeChunk(bytes, continuation) }
            }
        }
    }
}

/// Notices bytes before the HTTP/1 decoder has a whole head, so a slow header can be timed out.
/// Also writes raw bytes below the codec for answers to requests that never got a decoded head.
final class HTTP1ActivityObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer
    weak var connection: HTTP1ConnectionHandler?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.noteBytesArrived()
        context.fireChannelRead(data)
    }

    /// Writes and flushes `bytes` straight to the transport (TLS included), bypassing the HTTP codec.
    func writeRaw(_ bytes: [UInt8]) -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        return promise.futureResult
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
