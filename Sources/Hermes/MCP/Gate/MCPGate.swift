public import HTTP2
public import Logging

/// The customer the gate authenticated for the request being handled (a task-local set by ``MCPGate``
/// around the route's handler; nil outside it, and handlers then refuse the request).
public enum AuthenticatedCaller {
    @TaskLocal public static var current: Customer?
}

/// The step in front of `/mcp`, `/sse` and `/messages`: checks the `Origin` (403 for one not allowed),
/// answers CORS preflights, authenticates the caller (401 with `WWW-Authenticate`), runs the handler
/// with ``AuthenticatedCaller/current`` set, and adds CORS headers for allowed browser origins.
public struct MCPGate: HTTPMiddleware {
    let origins: OriginPolicy
    let authenticator: any CallerAuthenticator
    let logger: Logger

    public init(allowedOrigins: [String], authenticator: any CallerAuthenticator, logger: Logger) {
        origins = OriginPolicy(allowedOrigins: allowedOrigins)
        self.authenticator = authenticator
        self.logger = logger
    }

    public func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
        let origin = request.headers["origin"]
        if let origin, !origins.allows(origin) {
            logger.notice("mcp request refused: origin not allowed", metadata: ["request.id": "\(request.id)", "http.origin": "\(origin.prefix(200))"])
            return MCPHTTP.jsonRPCError(
                status: 403, code: JSONRPCErrorCode.invalidRequest,
                "requests from the origin \(origin.prefix(200)) are not allowed; the server operator can add it to MCP_ALLOWED_ORIGINS"
            )
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
            logger.info("mcp request refused: not authenticated", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
            response = .error(401, message, headers: ["www-authenticate": challenge])
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
}
