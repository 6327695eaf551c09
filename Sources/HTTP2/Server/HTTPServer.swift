public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The HTTP server: HTTP/2 (nghttp2) and HTTP/1.1 on one port, optionally over TLS with ALPN.
///
/// ```swift
/// var router = Router()
/// router.get("/healthz") { _ in .text("ok") }
/// let server = HTTPServer(configuration: .init(port: 8080), router: router, logger: logger)
/// try await server.start()
/// // ... on SIGTERM:
/// await server.shutdown()
/// ```
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let responder: Mutex<Responder?>
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
        var refused = 0
    }

    /// `router` answers every request: usually a `Routing.Router`.
    public convenience init(configuration: HTTPServerConfiguration, router: any HTTPResponder, logger: Logger) {
        self.init(configuration: configuration, logger: logger)
        responder.withLock { $0 = Responder(responder: router, limits: configuration.limits, logger: logger, trustedProxies: configuration.trustedProxies) }
    }

    /// A server whose routes are given later, to ``start(router:)``, once ``bind()`` has told the port
    /// (for routes that must name the server's own URL when it listens on port 0).
    public init(configuration: HTTPServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        responder = Mutex(nil)
        if let threads = configuration.eventLoopThreads {
            group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        } else {
            group = MultiThreadedEventLoopGroup.singleton
        }
    }

    /// The port actually bound (useful with port 0).
    public var localPort: Int? {
        state.withLock { $0.serverChannel?.localAddress?.port }
    }

    /// Connections currently open.
    public var connectionCount: Int {
        state.withLock { $0.connections.count }
    }

    /// Binds and starts accepting connections.
    public func start() async throws {
        _ = try await bind()
        try await accept()
    }

    /// Starts accepting connections with `router`, after ``bind()``.
    public func start(router: any HTTPResponder) async throws {
        responder.withLock { $0 = Responder(responder: router, limits: configuration.limits, logger: logger, trustedProxies: configuration.trustedProxies) }
        try await accept()
    }

    /// Binds the listening socket without accepting connections yet (they wait in the backlog); returns the
    /// bound port. Idempotent.
    @discardableResult
    public func bind() async throws -> Int {
        if let port = localPort { return port }
        let tls = try configuration.tls.map(Self.makeTLSContext)
        let limits = configuration.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.autoRead, value: false)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                guard self.admit(channel) else {
                    return channel.close()
                }
                guard let responder = self.responder.withLock({ $0 }) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                    try pipeline.addHandler(ProtocolDetector(responder: responder, limits: limits, secure: tls != nil))
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        state.withLock { $0.serverChannel = channel }
        return channel.localAddress?.port ?? configuration.port
    }

    private func accept() async throws {
        guard let channel = state.withLock({ $0.serverChannel }) else { return }
        try await channel.setOption(.autoRead, value: true).get()
        logger.info("http server listening", metadata: [
            "http.address": "\(configuration.host):\(channel.localAddress?.port ?? configuration.port)",
            "http.tls": "\(configuration.tls != nil)",
        ])
    }

    /// Counts a new connection, refusing it over the cap or during shutdown.
    private func admit(_ channel: any Channel) -> Bool {
        let admitted = state.withLock { state -> Bool in
            guard !state.shuttingDown, state.connections.count < configuration.limits.maximumConnections else {
                state.refused += 1
                return false
            }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        } else {
            logger.warning("connection refused: at the connection limit or shutting down", metadata: ["http.max_connections": "\(configuration.limits.maximumConnections)"])
        }
        return admitted
    }

    /// Stops accepting, asks every connection to finish (HTTP/2: GOAWAY in two steps; HTTP/1.1: close
    /// after the current response; streamed bodies end cleanly), waits up to the grace period, then
    /// closes whatever is left.
    public func shutdown() async {
        let (server, connections) = state.withLock { state in
            state.shuttingDown = true
            return (state.serverChannel, Array(state.connections.values))
        }
        logger.info("http server shutting down", metadata: ["http.open_connections": "\(connections.count)"])
        try? await server?.close()
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = state.withLock { Array($0.connections.values) }
        if !left.isEmpty {
            logger.warning("closing connections still open after the grace period", metadata: ["http.open_connections": "\(left.count)"])
            for connection in left { try? await connection.close() }
        }
        if configuration.eventLoopThreads != nil {
            try? await group.shutdownGracefully()
        }
        logger.info("http server stopped")
    }

    private static func makeTLSContext(_ tls: HTTPServerConfiguration.TLS) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChainPath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}
