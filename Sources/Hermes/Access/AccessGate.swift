public import HTTP2
public import Logging
import Tenancy

/// The customer the gate authenticated for the request being handled (a task-local set by ``AccessGate``
/// around the route's handler; nil outside it, and handlers then refuse the request).
public enum AuthenticatedCaller {
    @TaskLocal public static var current: Customer?
}

/// The one step in front of `/mcp`, `/sse`, `/messages` and `/api/*`: checks the `Origin` (403 for one not
/// allowed), answers CORS preflights, authenticates the caller (401 with `WWW-Authenticate`, 403 for a
/// disabled customer), applies the request rate (429 with `Retry-After`), runs the handler with
/// ``AuthenticatedCaller/current`` set, and adds CORS headers for allowed browser origins.
public struct AccessGate: HTTPMiddleware {
    /// How refusals are written: MCP clients read JSON-RPC errors, REST clients plain JSON errors.
    public enum ErrorStyle: Sendable {
        case jsonRPC
        case plain
    }

    let origins: OriginPolicy
    let authenticator: any CallerAuthenticator
    let style: ErrorStyle
    let logger: Logger

    public init(allowedOrigins: [String], authenticator: any CallerAuthenticator, style: ErrorStyle, logger: Logger) {
        origins = OriginPolicy(allowedOrigins: allowedOrigins)
        self.authenticator = authenticator
        self.style = style
        self.logger = logger
    }

    public func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
        let origin = request.headers["origin"]
        if let origin, !origins.allows(origin) {
            logger.notice("request refused: origin not allowed", metadata: ["request.id": "\(request.id)", "http.origin": "\(origin.prefix(200))"])
            return refusal(403, "requests from the origin \(origin.prefix(200)) are not allowed; the server operator can add it to MCP_ALLOWED_ORIGINS")
        }
        if request.method == .options {
            var response = HTTPResponse(status: 204)
            if let origin {
                OriginPolicy.corsHeaders(origin: origin, into: &response.headers)
                response.headers.set("access-control-allow-methods", OriginPolicy.allowedMethods)
                response.headers.set("access-control-allow-headers", OriginPolicy.allowedHeaders)
                response.headers.set("access-control-max-age", "86400")
            }
            response.headers.set("allow", OriginPolicy.allowedMethods)
            return response
        }
        var response: HTTPResponse
        switch await authenticator.authenticate(request) {
        case .refused(let challenge, let message):
            logger.info("request refused: not authenticated", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            response = refusal(401, message, headers: ["www-authenticate": challenge])
        case .forbidden(let customerID, let message):
            logger.info("request refused: customer disabled", metadata: ["request.id": "\(request.id)", "customer.id": "\(customerID)"])
            response = refusal(403, message)
        case .limited(let customerID, let exceeded):
            logger.info("request refused: limit reached", metadata: ["request.id": "\(request.id)", "customer.id": "\(customerID)", "limit": "\(exceeded.limit.rawValue)"])
            response = refusal(429, exceeded.message, headers: ["retry-after": "\(exceeded.retryAfterSeconds)"])
        case .authenticated(let customer):
            do {
                response = try await AuthenticatedCaller.$current.withValue(customer) { try await next(request) }
            } catch let error as HTTPError {
                response = .error(error.status, error.message, headers: error.headers)
            }
        }
        if let origin { OriginPolicy.corsHeaders(origin: origin, into: &response.headers) }
        return response
    }

    private func refusal(_ status: Int, _ message: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        switch style {
        case .plain:
            return .error(status, message, headers: headers)
        case .jsonRPC:
            let code = status == 429 ? JSONRPCErrorCode.limitExceeded : JSONRPCErrorCode.invalidRequest
            return MCPHTTP.jsonRPCError(status: status, code: code, message, headers: headers)
        }
    }
}
