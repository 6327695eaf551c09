import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix

/// `hermes-bench nio-floor`: SwiftNIO's own HTTP/1.1 server pipeline (`configureHTTPServerPipeline`: NIO's
/// llhttp decoder, its response encoder, keep-alive handling) answering every request with the same 336-byte
/// JSON body hermes sends for the benchmark's `tools/call`, with no routing, no JSON and no MCP work.
///
/// It is the reference for the HTTP/1.1 rows of `scripts/bench-mcp.sh`: what a SwiftNIO server pays per
/// request on this machine before doing anything, under the same load from the same client.
struct NIOFloorServer {
    static let usage = """
        usage: hermes-bench nio-floor --port PORT [--threads N]

        Serves HTTP/1.1 on 127.0.0.1:PORT with NIO's own server pipeline, answering every request with a
        constant 200 application/json body of 336 bytes, until killed. --threads defaults to the core count.
        """

    var port = 0
    var threads = System.coreCount

    init(arguments: [String]) throws {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--port":
                guard let value = rest.popFirst().flatMap(Int.init), (1...65535).contains(value) else { throw BenchmarkUsageError("--port needs a port number") }
                port = value
            case "--threads":
                guard let value = rest.popFirst().flatMap(Int.init), value > 0 else { throw BenchmarkUsageError("--threads needs a positive number") }
                threads = value
            default: throw BenchmarkUsageError("unknown option \(argument)\n\n\(Self.usage)")
            }
        }
        guard port > 0 else { throw BenchmarkUsageError("--port is required\n\n\(Self.usage)") }
    }

    func run() async throws -> Int32 {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ConstantResponder())
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        Reporter(descriptor: 2).line("nio-floor: serving on 127.0.0.1:\(port) with \(threads) event loops")
        try await channel.closeFuture.get()
        return 0
    }
}

/// Answers each request, once its end arrives, with the constant body; flushes once per read batch.
private final class ConstantResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let body = #"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"customer\":\"single-user\",\"mode\":\"single-user\",\"plan\":\"single-user\",\"name\":\"single user\",\"platforms\":[]}"}],"structuredContent":{"customer":"single-user","mode":"single-user","plan":"single-user","name":"single user","platforms":[]},"isError":false}}"#

    private var keepAlive = true
    private let body = ByteBuffer(string: ConstantResponder.body)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "content-length", value: String(body.readableBytes))
            if !keepAlive { head.headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if keepAlive {
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}
