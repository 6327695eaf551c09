package import Store

/// What a verified OAuth access token grants.
package struct AccessGrant: Sendable, Equatable {
    package var customerID: String
    package var clientID: String
    package var scope: [String]
    /// The audience (RFC 8707 `resource`) the token was issued for; checked against the resource being
    /// accessed on every request.
    package var resource: String?
    package var expiresAt: Timestamp
    /// The customer's record as the verifier read it, when it did (saves the auth step a second lookup).
    package var customer: CustomerRecord?

    package init(customerID: String, clientID: String, scope: [String], resource: String?, expiresAt: Timestamp, customer: CustomerRecord? = nil) {
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
package protocol AccessTokenVerifier: Sendable {
    /// The grant behind `token`, or nil when it is unknown, expired or revoked.
    ///
    /// - Throws: ``DisabledCustomerError`` when the token is otherwise valid but its customer is disabled.
    func verifyAccessToken(_ token: String) throws -> AccessGrant?

    /// Whether `token` has the shape of the access tokens this verifier issues (so a refusal can say
    /// "expired or revoked" rather than "not a credential of this server").
    func isAccessTokenShaped(_ token: String) -> Bool
}

/// A credential that is otherwise valid belongs to a disabled customer (answered with 403).
package struct DisabledCustomerError: Error, Sendable, Equatable, CustomStringConvertible {
    package var customerID: String

    package init(customerID: String) {
        self.customerID = customerID
    }

    package var description: String {
        "the account \(customerID) is disabled; its credentials stop working until it is enabled again"
    }
}
