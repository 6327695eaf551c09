package import HTTP2
package import Logging
package import Tenancy

/// Who one request runs for, handed to a guarded route's handler by the gate in front of it.
package struct CallContext: Sendable {
    /// The authenticated caller: a customer, or the single user.
    package let caller: Customer
    /// The request's id, as in the access log and `x-request-id`.
    package let requestID: String
    private let baseLogger: Logger

    package init(caller: Customer, requestID: String, logger: Logger) {
        self.caller = caller
        self.requestID = requestID
        baseLogger = logger
    }

    /// A logger whose lines carry the request id and the caller; made on use, so requests that log
    /// nothing pay nothing for it.
    package var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request.id"] = .string(requestID)
        logger[metadataKey: "customer.id"] = .string(caller.id)
        return logger
    }
}

/// A handler that runs for an authenticated caller.
package typealias GuardedHandler = @Sendable (HTTPRequest, CallContext) async throws -> HTTPResponse

/// Decides who a request is for, in front of the routes that act for a caller (MCP, the REST API).
package protocol CallerGate: Sendable {
    /// A route handler that authenticates the request and runs `handler` with its caller, or answers the
    /// request itself when the caller is unknown (401), not allowed (403) or over a rate limit (429).
    func guarded(_ handler: @escaping GuardedHandler) -> HTTPHandler
}
