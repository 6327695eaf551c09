import Logging
import NIOCore
import Synchronization

/// Runs requests through the responder (the router) for both protocol handlers: fills in the request id, turns thrown
/// errors into responses, and writes the access log line.
final class Responder: Sendable {
    let responder: any HTTPResponder
    let limits: HTTPServerConfiguration.Limits
    let timeouts: TimeoutAmounts
    let logger: Logger
    private let sequence = Atomic<UInt64>(0)
    /// A random base-36 prefix, so ids from different runs do not collide in aggregated logs.
    private let prefix: [UInt8]

    let trustedProxies: TrustedProxies
    /// Whether finished requests are logged (the connection then notes when each started). Worked out once:
    /// asking the logger copies its handler, on every request.
    let logsAccess: Bool

    init(responder: any HTTPResponder, limits: HTTPServerConfiguration.Limits, logger: Logger, trustedProxies: TrustedProxies = .none) {
        self.responder = responder
        self.limits = limits
        timeouts = TimeoutAmounts(limits)
        self.logger = logger
        self.trustedProxies = trustedProxies
        logsAccess = logger.logLevel <= .info
        prefix = Array(String(UInt64.random(in: 0..<(1 << 32)), radix: 36).utf8)
    }

    /// `<prefix>-<sequence>`, both base 36; short enough (under 16 bytes for the first 78 billion requests) to
    /// stay a small string, so minting one allocates nothing.
    func nextRequestID() -> String {
        var number = sequence.wrappingAdd(1, ordering: .relaxed).newValue
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 24 ASCII digits, in reverse
        var count = 0
        withUnsafeMutableBytes(of: &digits) { digits in
            repeat {
                digits[count] = Self.base36[Int(number % 36)]
                number /= 36
                count += 1
            } while number > 0
        }
        return String(unsafeUninitializedCapacity: prefix.count + 1 + count) { buffer in
            var index = 0
            for byte in prefix {
                buffer[index] = byte
                index += 1
            }
            buffer[index] = UInt8(ascii: "-")
            index += 1
            withUnsafeBytes(of: &digits) { digits in
                for offset in stride(from: count - 1, through: 0, by: -1) {
                    buffer[index] = digits[offset]
                    index += 1
                }
            }
            return index
        }
    }

    private static let base36: [UInt8] = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    /// The route for a request head, looked up once per request.
    func lookup(_ method: HTTPMethod, _ path: String) -> RouteLookup {
        responder.lookup(method, path)
    }

    func bodyPlan(_ lookup: RouteLookup) -> (limit: Int, streamed: Bool) {
        lookup.bodyPlan(default: limits.defaultBodyBytes)
    }

    /// The response for a request; never throws. The connection adds the request id (`x-request-id`) when
    /// it writes the head: responses a handler keeps and hands out again are not copied to add it.
    func respond(to request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await responder.respond(to: request)
        } catch {
            return errorResponse(error, request)
        }
    }

    /// The response of an immediate route, answered without a task; nil when the request needs ``respond(to:)``.
    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        do {
            return try request.route?.respondImmediately(request)
        } catch {
            return errorResponse(error, request)
        }
    }

    private func errorResponse(_ error: any Error, _ request: HTTPRequest) -> HTTPResponse {
        switch error {
        case let error as HTTPError:
            return .error(error.status, error.message, headers: error.headers)
        case let error as RequestBodyError:
            // Too large or too slow is the client's to fix; a body cut short has nobody left to answer.
            let status = error == .tooLarge ? 413 : error == .timedOut ? 408 : 400
            logger.notice("request body failed", metadata: ["request.id": "\(request.id)", "http.status": "\(status)", "error": "\(error)"])
            return .error(status, error.description)
        case is CancellationError:
            return .error(503, "the request was cancelled")
        default:
            logger.error("handler failed", metadata: ["request.id": "\(request.id)", "error": "\(type(of: error))"])
            return .error(500, "the server failed to handle this request; its id is \(request.id)")
        }
    }

    /// One line per finished request. Only the path is logged: queries and headers may carry secrets.
    /// `startedAt` is nil when access logging was off as the request began (see ``logsAccess``).
    /// `startedAt` is a NIO deadline: `ContinuousClock.Instant` is resilient, handled through run-time metadata.
    func logAccess(_ request: HTTPRequest, status: Int, bytes: Int, startedAt: NIODeadline?) {
        logAccess(request, status: status, bytes: bytes, requestBytes: request.streamedBody?.receivedBytes ?? request.body.count, startedAt: startedAt)
    }

    /// `requestBytes`: body bytes received (for a streamed body, those that had arrived when the exchange ended).
    func logAccess(_ request: HTTPRequest, status: Int, bytes: Int, requestBytes: Int, startedAt: NIODeadline?) {
        guard logsAccess, let startedAt else { return }
        let micros = (NIODeadline.now() - startedAt).nanoseconds / 1000
        // Values as they are, not interpolated: this runs once per request, and the line is formatted once anyway.
        logger.info("request", metadata: [
            "request.id": .string(request.id),
            "http.method": .string(request.method.rawValue),
            "http.path": .string(request.path),
            "http.status": .stringConvertible(status),
            "http.bytes": .stringConvertible(bytes),
            "http.request_bytes": .stringConvertible(requestBytes),
            "http.duration_us": .stringConvertible(micros),
            "http.protocol": .string(request.protocolVersion.rawValue),
        ])
    }

    /// The answer the server itself gives to a request it refuses (limits, malformed input): an error body
    /// with the message, a request id in `x-request-id`, and one log line with the id, status and bytes.
    func rejection(_ status: Int, _ message: String, method: String, path: String, protocolVersion: HTTPProtocolVersion) -> HTTPResponse {
        var response = HTTPResponse.error(status, message)
        let id = nextRequestID()
        response.headers.setLowercased("x-request-id", id)
        let bytes = if case .bytes(let body) = response.body { body.count } else { 0 }
        logger.notice("request rejected", metadata: [
            "request.id": "\(id)",
            "http.method": "\(method)",
            "http.path": "\(path)",
            "http.status": "\(status)",
            "http.bytes": "\(bytes)",
            "http.protocol": "\(protocolVersion.rawValue)",
            "reason": "\(message)",
        ])
        return response
    }
}

/// A connection's last route lookup, reused while requests name the same method and path: clients call the
/// same endpoint over and over, and the server's routes do not change while it serves.
struct RecentRoute {
    private var last: RouteLookup?

    mutating func lookup(_ method: HTTPMethod, _ path: String, in responder: Responder) -> RouteLookup {
        if last?.method == method, last?.path == path, let last { return last }
        let route = responder.lookup(method, path)
        last = route
        return route
    }
}
