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

    init(responder: Responder, limits: HTTPServerConfiguration.Limits, remoteAddress: String?) {
        self.responder = responder
        self.limits = limits
        self.remoteAddress = remoteAddress
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
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
                finishExchange()
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
        switch state {
        case .idle, .receiving, .discarding:
            keepAlive = false
            write(HTTPResponse.error(status, message), requestID: nil, method: .GET)
            state = .responding
        case .responding:
            break
        }
        context.flush()
        context.close(promise: nil)
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
        let responder = self.responder
        let bound = NIOLoopBound(self, eventLoop: loop)
        let started = ContinuousClock.now
        task = Task {
            let response = await responder.respond(to: request)
            loop.execute { bound.value.send(response, for: request, method: head.method, startedAt: started) }
        }
    }

    private func send(_ response: HTTPResponse, for request: HTTPRequest, method: NIOHTTP1.HTTPMethod, startedAt: ContinuousClock.Instant) {
        guard let context, !closed else { return }
        switch response.body {
        case .bytes(let bytes):
            write(response, requestID: request.id, method: method)
            responder.logAccess(request, status: response.status, bytes: bytes.count, startedAt: startedAt)
            finishExchange()
        case .stream(let produce):
            writeHead(response, streaming: true)
            context.flush()
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            let writer = BodyWriter(handler: bound, eventLoop: loop)
            let counter = ByteCounter()
            task = Task {
                try? await produce(CountingWriter(inner: writer, counter: counter))
                loop.execute {
                    let handler = bound.value
                    guard !handler.closed, let context = handler.context else { return }
                    context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                    handler.responder.logAccess(request, status: response.status, bytes: counter.total, startedAt: startedAt)
                    handler.finishExchange()
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

    private func write(_ response: HTTPResponse, requestID: String?, method: NIOHTTP1.HTTPMethod) {
        guard let context, case .bytes(let bytes) = response.body else { return }
        var response = response
        response.headers.set("content-length", String(bytes.count))
        if let requestID { response.headers.set("x-request-id", requestID) }
        writeHead(response, streaming: false)
        if !bytes.isEmpty && method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func finishExchange() {
        task = nil
        guard let context else { return }
        guard keepAlive else {
            context.close(promise: nil)
            return
        }
        state = .idle
        waitingForBytes = true
        armTimer(limits.idleTimeout, reason: .idle)
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
        case (.header, .idle), (.idle, .idle), (.request, .receiving):
            let message = reason == .request
                ? "the request body was not received within \(limit); send it faster"
                : "the request head was not received within \(limit); send it faster"
            responder.logRejected(method: "-", path: "-", status: 408, protocolVersion: .http1_1, reason: message)
            keepAlive = false
            write(HTTPResponse.error(408, message), requestID: nil, method: .GET)
            state = .responding
            context.close(promise: nil)
        default:
            break
        }
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
final class HTTP1ActivityObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    weak var connection: HTTP1ConnectionHandler?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.noteBytesArrived()
        context.fireChannelRead(data)
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
