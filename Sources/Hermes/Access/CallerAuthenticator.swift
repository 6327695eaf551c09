import ASCIIText
import Crypto
package import HTTP2
package import Tenancy

/// Decides who is calling from a request's credentials: the auth step every MCP request passes.
///
/// Single-user mode uses ``StaticAPIKeyAuthenticator``; the tenancy work adds customers' API keys and
/// OAuth bearer tokens behind this same protocol.
package protocol CallerAuthenticator: Sendable {
    func authenticate(_ request: HTTPRequest) async -> AuthenticationOutcome
}

/// The result of authenticating a request.
package enum AuthenticationOutcome: Sendable {
    case authenticated(Customer)
    /// Refused: answered with 401, `WWW-Authenticate: <challenge>` and `message`.
    case refused(challenge: String, message: String)
    /// Known but not allowed (a disabled customer): answered with 403 and `message`.
    case forbidden(customerID: String, message: String)
    /// Over a rate limit: answered with 429, `Retry-After` and the limit's message.
    case limited(customerID: String, LimitExceeded)
}

/// Single-user mode: one static key (`MCP_API_KEY`), sent as `Authorization: Bearer <key>` or
/// `x-api-key: <key>`, compared in constant time. Without a configured key every request is refused,
/// so an unconfigured daemon never serves MCP openly.
package struct StaticAPIKeyAuthenticator: CallerAuthenticator {
    private let key: [UInt8]?
    package let customer: Customer

    /// `apiKey` nil or empty refuses every request.
    package init(apiKey: String?, customer: Customer = .singleUser) {
        key = apiKey.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.customer = customer
    }

    /// Reads `MCP_API_KEY` from `variables`.
    package static func fromEnvironment(_ variables: [String: String]) -> StaticAPIKeyAuthenticator {
        StaticAPIKeyAuthenticator(apiKey: variables["MCP_API_KEY"])
    }

    package var isConfigured: Bool { key != nil }

    package func authenticate(_ request: HTTPRequest) async -> AuthenticationOutcome {
        authenticate(presented: Self.presentedKey(request))
    }

    /// Decides on a key ``presentedKey(_:)`` already read from the request.
    func authenticate(presented: String?) -> AuthenticationOutcome {
        let challenge = "Bearer realm=\"hermes\""
        guard let key else {
            return .refused(challenge: challenge, message: "MCP is not available: the server has no MCP_API_KEY configured; set it and restart")
        }
        guard let presented else {
            return .refused(challenge: challenge, message: "authentication required: send the API key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
        }
        guard ConstantTime.equals(utf8: presented, key) else {
            return .refused(challenge: challenge + ", error=\"invalid_token\"", message: "the API key is not valid; check MCP_API_KEY on the server and the key your client sends")
        }
        return .authenticated(customer)
    }

    /// The key from `Authorization: Bearer …` (scheme case-insensitive) or `x-api-key`, without the
    /// spaces and tabs around it.
    static func presentedKey(_ request: HTTPRequest) -> String? {
        if let authorization = request.headers["authorization"], let credential = bearerCredential(authorization) {
            return String(credential)
        }
        if let key = request.headers["x-api-key"], !key.isEmpty { return String(key.trimmingHTTPWhitespace) }
        return nil
    }

    /// What follows `Bearer` in an `Authorization` value: leading spaces are skipped, the scheme ends at
    /// the next space, and the rest, trimmed, is the credential (empty when only spaces follow). Nil
    /// for another scheme or when nothing follows the scheme.
    static func bearerCredential(_ authorization: String) -> Substring? {
        let bytes = authorization.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") { bytes.formIndex(after: &index) }
        let schemeStart = index
        while index < bytes.endIndex, bytes[index] != UInt8(ascii: " ") { bytes.formIndex(after: &index) }
        guard index < bytes.endIndex, Substring(bytes[schemeStart..<index]).utf8.equalsASCII(ignoringCase: "bearer") else { return nil }
        bytes.formIndex(after: &index)
        guard index < bytes.endIndex else { return nil }
        return Substring(bytes[index...]).trimmingHTTPWhitespace
    }
}
