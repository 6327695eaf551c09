package import HTTP2
package import Routing
package import Logging
package import MCP
import Tenancy

/// The gate in front of `/mcp`, `/sse`, `/messages` and `/api/*`. As middleware it checks the `Origin` (403
/// for one not allowed), answers CORS preflights and adds CORS headers for allowed browser origins; as the
/// ``CallerGate`` of those routes it authenticates the caller (401 with `WWW-Authenticate`, 403 for a
/// disabled customer), applies the request rate (429 with `Retry-After`) and hands the handler its caller.
///
/// A class: middleware is called through an existential, which copied a struct's fields on every call
/// (docs/adr/0015-per-request-values-as-one-reference.md).
package final class AccessGate: HTTPMiddleware, CallerGate {
    /// How refusals are written: MCP clients read JSON-RPC errors, REST clients plain JSON errors.
    package enum ErrorStyle: Sendable {
        case jsonRPC
        case plain
    }

    let origins: OriginPolicy
    let authenticator: any CallerAuthenticator
    let style: ErrorStyle
    let logger: Logger

    package init(allowedOrigins: [String], authenticator: any CallerAuthenticator, style: ErrorStyle, logger: Logger) {
        origins = OriginPolicy(allowedOrigins: allowedOrigins)
        self.authenticator = authenticator
        self.style = style
        self.logger = logger
    }

    // Checks and refusals stay out of line so this async frame stays small (docs/adr/0016-small-async-frames.md).
    package func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
        let origin = request.headers["origin"]
        if let answered = answerBeforeAuthentication(request, origin: origin) { return answered }
        var response = try await next(request)
        if let origin { OriginPolicy.corsHeaders(origin: origin, into: &response.headers) }
        return response
    }

    package func guarded(_ handler: @escaping GuardedHandler) -> HTTPHandler {
        { request in
            switch await self.authenticator.authenticate(request) {
            case .authenticated(let customer):
                return try await handler(request, CallContext(caller: customer, requestID: request.id, logger: self.logger))
            case .refused(let challenge, let message):
                return self.notAuthenticated(request, challenge: challenge, message: message)
            case .forbidden(let customerID, let message):
                return self.forbidden(request, customerID: customerID, message: message)
            case .limited(let customerID, let exceeded):
                return self.limited(request, customerID: customerID, exceeded: exceeded)
            }
        }
    }

    /// 403 for an origin that is not allowed, or the answer to a CORS preflight; nil when the request goes on.
    @inline(never)
    private func answerBeforeAuthentication(_ request: HTTPRequest, origin: String?) -> HTTPResponse? {
        if let origin, !origins.allows(origin) {
            logger.notice("request refused: origin not allowed", metadata: ["request.id": "\(request.id)", "http.origin": "\(origin.prefix(200))"])
            return refusal(403, "requests from the origin \(origin.prefix(200)) are not allowed; the server operator can add it to MCP_ALLOWED_ORIGINS")
        }
        guard request.method == .options else { return nil }
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

    @inline(never)
    private func notAuthenticated(_ request: HTTPRequest, challenge: String, message: String) -> HTTPResponse {
        logger.info("request refused: not authenticated", metadata: ["request.id": "\(request.id)", "http.path": "\(request.path)"])
        return refusal(401, message, headers: ["www-authenticate": challenge])
    }

    @inline(never)
    private func forbidden(_ request: HTTPRequest, customerID: String, message: String) -> HTTPResponse {
        logger.info("request refused: customer disabled", metadata: ["request.id": "\(request.id)", "customer.id": "\(customerID)"])
        return refusal(403, message)
    }

    @inline(never)
    private func limited(_ request: HTTPRequest, customerID: String, exceeded: LimitExceeded) -> HTTPResponse {
        logger.info("request refused: limit reached", metadata: ["request.id": "\(request.id)", "customer.id": "\(customerID)", "limit": "\(exceeded.limit.rawValue)"])
        return refusal(429, exceeded.message, headers: ["retry-after": "\(exceeded.retryAfterSeconds)"])
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

extension MCPEndpoint {
    /// Mounts the MCP routes behind their access gate: origin and CORS checks first, then authentication,
    /// with refusals written as JSON-RPC errors.
    package func register(in router: inout Router, authenticator: any CallerAuthenticator, logger: Logger) {
        let gate = AccessGate(allowedOrigins: configuration.allowedOrigins, authenticator: authenticator, style: .jsonRPC, logger: logger)
        router.use(gate, on: Self.paths)
        register(in: &router, gate: gate)
    }
}
