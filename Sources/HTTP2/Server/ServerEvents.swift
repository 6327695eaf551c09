import NIOCore

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
        header = TimeAmount(limits.headerTimeout)
        request = TimeAmount(limits.requestTimeout)
        idle = TimeAmount(limits.idleTimeout)
    }
}

extension SocketAddress {
    /// "ip:port" for logs and requests.
    var displayString: String {
        guard let ip = ipAddress else { return description }
        return port.map { "\(ip):\($0)" } ?? ip
    }
}
