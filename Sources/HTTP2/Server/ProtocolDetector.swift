import NIOCore
import NIOHTTP1

/// Reads a connection's first bytes and installs the matching protocol: the HTTP/2 connection preface
/// (`PRI * HTTP/2.0…`, prior knowledge or after ALPN `h2`) gets nghttp2, anything else HTTP/1.1.
final class ProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Enough of the preface to tell: the PRI method exists only to start the HTTP/2 preface (RFC 9113
    /// §11.6), so whatever follows it goes to nghttp2, which answers a wrong preface with GOAWAY
    /// PROTOCOL_ERROR (§3.4) instead of an HTTP/1.1 parser answering 400 or waiting for a request.
    private static let prefacePrefix = Array("PRI ".utf8)

    private let responder: Responder
    private let limits: HTTPServerConfiguration.Limits
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?

    /// Whether the connection is TLS (`Upgrade: h2c` is for cleartext connections only).
    private let secure: Bool

    init(responder: Responder, limits: HTTPServerConfiguration.Limits, secure: Bool) {
        self.responder = responder
        self.limits = limits
        self.secure = secure
    }

    /// A connection that sends nothing (or never finishes its TLS handshake) is closed after the header
    /// timeout: until a protocol is chosen no other handler keeps time.
    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: TimeAmount(limits.headerTimeout)) {
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    /// Nothing was requested yet, so a graceful shutdown simply closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        let bytes = buffered!.readableBytesView
        let compared = min(bytes.count, Self.prefacePrefix.count)
        let matches = bytes.prefix(compared).elementsEqual(Self.prefacePrefix.prefix(compared))
        if matches && compared < Self.prefacePrefix.count { return }
        do {
            try install(http2: matches, context: context)
        } catch {
            context.close(promise: nil)
            return
        }
        let pending = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(pending))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func install(http2: Bool, context: ChannelHandlerContext) throws {
        let pipeline = context.pipeline.syncOperations
        let remote = context.channel.remoteAddress?.displayString
        let peer = Peer(address: remote, proxies: responder.trustedProxies.trusts(context.channel.remoteAddress) ? responder.trustedProxies : nil)
        if http2 {
            try pipeline.addHandler(HTTP2ConnectionHandler(responder: responder, limits: limits, peer: peer))
        } else {
            // The connection handler parses requests itself (HTTP1RequestParser), writes responses as bytes
            // (HTTP1ResponseEncoder) and keeps pipelined requests in order. After an accepted upgrade the bytes
            // after the request go on to the handler that replaces it (see HTTP1Upgrade).
            try pipeline.addHandler(HTTP1ConnectionHandler(responder: responder, limits: limits, peer: peer, acceptsH2C: !secure))
        }
    }
}

/// Who is at the other end of a connection: its address, and when it is a trusted proxy, the proxies
/// to see past in its `X-Forwarded-For` (see ``TrustedProxies``).
struct Peer {
    let address: String?
    let proxies: TrustedProxies?

    /// The address a request that arrived with `headers` comes from.
    func clientAddress(_ headers: HTTPHeaders) -> String? {
        guard let proxies else { return address }
        return proxies.client(forwardedFor: headers.values("x-forwarded-for")) ?? address
    }
}
