import NIOCore

/// Where and how the server listens, and the limits that keep one client from hurting the others.
public struct HTTPServerConfiguration: Sendable {
    /// PEM files for TLS; with them the server speaks TLS and negotiates `h2` or `http/1.1` by ALPN.
    public struct TLS: Sendable, Equatable {
        public var certificateChainPath: String
        public var privateKeyPath: String

        public init(certificateChainPath: String, privateKeyPath: String) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
        }
    }

    /// Limits, each answered with a clear error while the server keeps serving everyone else.
    public struct Limits: Sendable, Equatable {
        /// Bytes of request header fields (names plus values); more gets 431.
        public var maximumHeaderBytes = 16 * 1024
        /// Request-body bytes for routes that set no limit of their own; more gets 413.
        public var defaultBodyBytes = 1 << 20
        /// Time to receive a whole request once its first byte arrived; longer gets 408. A streamed body has no
        /// deadline as a whole (its handler sets the pace): the client may only keep the handler waiting this long
        /// for the next bytes, after which the body fails with ``RequestBodyError/timedOut`` (408).
        public var requestTimeout: Duration = .seconds(30)
        /// Time to receive a request's header block (slowloris); longer gets 408 and the connection closes.
        public var headerTimeout: Duration = .seconds(10)
        /// A connection with no request in flight and no traffic for this long is closed.
        public var idleTimeout: Duration = .seconds(75)
        /// HTTP/2 streams a client may have open at once on one connection.
        public var maximumConcurrentStreams = 100
        /// Connections open at once; further ones are closed at accept.
        public var maximumConnections = 10_000
        /// HTTP/2 rapid-reset protection: RST_STREAM frames allowed in a burst, and refilled per second.
        public var streamResetBurst: UInt64 = 1000
        public var streamResetRatePerSecond: UInt64 = 33
        /// Bytes of a streamed response buffered per request before the producer waits for the client; also the
        /// unread bytes of a streamed request body (HTTP/1.1) past which the server stops reading from the
        /// client. (HTTP/2 request bodies are bounded by the stream's flow-control window, 1 MiB.)
        public var streamingHighWatermark = 64 * 1024

        public init() {}

        /// How often a connection checks its deadlines: a quarter of the shortest timeout, between 50 ms and
        /// 1 s. One repeating check per connection is cheaper than a timer armed and cancelled per request,
        /// at the price of a timeout firing up to one tick late.
        var housekeepingTick: TimeAmount {
            let shortest = min(requestTimeout, headerTimeout, idleTimeout)
            return min(max(TimeAmount(shortest / 4), .milliseconds(50)), .seconds(1))
        }
    }

    public var host: String
    public var port: Int
    public var tls: TLS?
    public var limits: Limits
    /// How long in-flight requests may take to finish at shutdown before connections are closed anyway.
    public var shutdownGracePeriod: Duration
    /// Threads for the event loops; defaults to the number of cores.
    public var eventLoopThreads: Int?
    /// Reverse proxies whose `X-Forwarded-For` names the client (``HTTPRequest/remoteAddress``); none by default.
    public var trustedProxies: TrustedProxies

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        tls: TLS? = nil,
        limits: Limits = Limits(),
        shutdownGracePeriod: Duration = .seconds(10),
        eventLoopThreads: Int? = nil,
        trustedProxies: TrustedProxies = .none
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.shutdownGracePeriod = shutdownGracePeriod
        self.eventLoopThreads = eventLoopThreads
        self.trustedProxies = trustedProxies
    }
}

/// The messages both protocol handlers send when a request breaks a limit, so HTTP/1.1 and HTTP/2
/// clients read the same words.
enum LimitMessage {
    static func headersTooLarge(_ limit: Int) -> String {
        "the request's header fields exceed \(limit) bytes; send fewer or smaller headers"
    }

    static func bodyTooLarge(_ limit: Int) -> String {
        "the request body exceeds the limit of \(limit) bytes for this endpoint; send a smaller body"
    }
}
