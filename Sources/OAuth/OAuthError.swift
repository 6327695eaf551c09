/// An error from the authorization server's public API: compare by ``code``; ``description`` says what
/// happened and what to do. Messages never hold a token, code, secret or API key.
package struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The configuration cannot work (for example, the issuer is not an origin).
        package static let invalidConfiguration = Code("invalidConfiguration")
        /// The store failed while checking a token.
        package static let storeFailed = Code("storeFailed")
        package var description: String { name }
    }

    package let code: Code
    private let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    package static func == (lhs: OAuthError, rhs: OAuthError) -> Bool { lhs.code == rhs.code }
}

/// An OAuth protocol error answered to a client (RFC 6749 section 5.2, RFC 7591 section 3.2.2):
/// `{"error": code, "error_description": …}`.
struct ProtocolError: Error {
    var code: String
    var description: String
    var status: Int = 400
    /// `WWW-Authenticate` for `invalid_client` after HTTP Basic (RFC 6749 section 5.2).
    var challenge: String? = nil
    /// `Retry-After`, for refusals that pass.
    var retryAfterSeconds: Int64? = nil

    static func invalidRequest(_ text: String) -> Self { Self(code: "invalid_request", description: text) }
    static func invalidGrant(_ text: String) -> Self { Self(code: "invalid_grant", description: text) }
    static func invalidTarget(_ text: String) -> Self { Self(code: "invalid_target", description: text) }
    static func invalidClient(_ text: String, basic: Bool = false) -> Self {
        Self(code: "invalid_client", description: text, status: 401, challenge: basic ? "Basic realm=\"hermes-oauth\"" : nil)
    }
    static func invalidClientMetadata(_ text: String) -> Self { Self(code: "invalid_client_metadata", description: text) }
    static func invalidRedirectURI(_ text: String) -> Self { Self(code: "invalid_redirect_uri", description: text) }
}
