public import Store

/// What a verified OAuth access token grants.
public struct AccessGrant: Sendable, Equatable {
    public var customerID: String
    public var clientID: String
    public var scope: [String]
    /// The audience (RFC 8707 `resource`) the token was issued for; checked against the resource being
    /// accessed on every request.
    public var resource: String?
    public var expiresAt: Timestamp
    /// The customer's record as the verifier read it, when it did (saves the auth step a second lookup).
    public var customer: CustomerRecord?

    public init(customerID: String, clientID: String, scope: [String], resource: String?, expiresAt: Timestamp, customer: CustomerRecord? = nil) {
        self.customerID = customerID
        self.clientID = clientID
        self.scope = scope
        self.resource = resource
        self.expiresAt = expiresAt
        self.customer = customer
    }
}

/// Verifies OAuth access tokens (implemented by the authorization server). The auth step calls it for
/// every bearer token that is not a customer API key.
public protocol AccessTokenVerifier: Sendable {
    /// The grant behind `token`, or nil when it is unknown, expired or revoked.
    func verifyAccessToken(_ token: String) throws -> AccessGrant?
}
