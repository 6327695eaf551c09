import NIOCore

/// Sent down every connection's pipeline when the server begins a graceful shutdown.
struct GracefulShutdownEvent: Sendable {}

/// Thrown to a streamed body's producer once its client is gone or the server is shutting down.
public struct ResponseStreamClosed: Error, Sendable, CustomStringConvertible {
    public var description: String { "the response stream was closed (client gone or server shutting down)" }
}

/// The limits' timeouts as NIO time amounts, converted once per server: a `Duration` converts through
/// 128-bit arithmetic, and connections arm these on every request.
struct TimeoutAmounts: Sendable {
    let header: TimeAmount
    let request: TimeAmount
    let idle: TimeAmount

    init(_ limits: HTTPServerConfiguration.Limits) {
        header = limits.headerTimeout.timeAmount
        request = limits.requestTimeout.timeAmount
        idle = limits.idleTimeout.timeAmount
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let components = self.components
        return .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}

extension SocketAddress {
    /// "ip:port" for logs and requests.
    var displayString: String {
        guard let ip = ipAddress else { return description }
        return port.map { "\(ip):\($0)" } ?? ip
    }
}
