package import HTTP2
import ToolRuntime
package import Tenancy

/// The auth step of the daemon: API keys of customers, OAuth access tokens, and, while no customer
/// exists, the single user's `MCP_API_KEY`.
///
/// - `x-api-key: hk_…` or `Authorization: Bearer hk_…`: a customer API key (hash lookup).
/// - `Authorization: Bearer <token>`: an OAuth access token, whose audience must be the resource of the
///   path (the MCP resource for `/mcp`, `/sse`, `/messages`; the bare origin for `/api`).
/// - Missing or invalid: 401 with `WWW-Authenticate: Bearer resource_metadata="…"` so OAuth clients can
///   discover the authorization server. A disabled customer: 403. Over the plan's request rate: 429.
///
/// While the `customers` keyspace is empty, the daemon is single-user: ``StaticAPIKeyAuthenticator``
/// decides, with credentials from the environment. Creating the first customer switches every request to
/// customer keys and tokens, without a restart.
package struct TenantAuthenticator: CallerAuthenticator {
    let directory: CustomerDirectory
    let meter: UsageMeter
    let tokens: (any AccessTokenVerifier)?
    let singleUser: StaticAPIKeyAuthenticator
    let resource: ProtectedResource
    let credentials: any CredentialSource

    package init(
        directory: CustomerDirectory, meter: UsageMeter, tokens: (any AccessTokenVerifier)?, singleUser: StaticAPIKeyAuthenticator,
        resource: ProtectedResource, credentials: any CredentialSource
    ) {
        self.directory = directory
        self.meter = meter
        self.tokens = tokens
        self.singleUser = singleUser
        self.resource = resource
        self.credentials = credentials
    }

    package func authenticate(_ request: HTTPRequest) async -> AuthenticationOutcome {
        let presented = StaticAPIKeyAuthenticator.presentedKey(request)
        let record: CustomerRecord
        do {
            // Customer keys and tokens first: on the hot path no other lookup is needed. Whether the daemon
            // is still single-user is only asked when the credential is not a customer's.
            switch try customer(presenting: presented, path: request.path) {
            case .found(let found):
                record = found
            case .refused(let outcome):
                return outcome
            case .notACustomerCredential:
                guard try directory.hasCustomers() else { return singleUser.authenticate(presented: presented) }
                guard presented != nil else {
                    return .refused(
                        challenge: challenge(request.path, error: nil),
                        message: "authentication required: send a customer API key ('x-api-key: hk_…' or 'Authorization: Bearer hk_…') or an OAuth access token ('Authorization: Bearer …')"
                    )
                }
                let message = presented.flatMap { tokens?.isAccessTokenShaped($0) } == true
                    ? "the access token is not valid: it is unknown, expired or revoked; refresh it or sign in again"
                    : "the credential is neither a customer API key (hk_…) nor an access token of this server; check what the client sends"
                return .refused(challenge: challenge(request.path, error: "invalid_token"), message: message)
            }
        } catch let error as DisabledCustomerError {
            return .forbidden(customerID: error.customerID, message: "\(error); contact the operator of this server")
        } catch {
            return .refused(challenge: challenge(request.path, error: nil), message: "the server cannot check credentials right now; retry shortly")
        }
        if case .refused(let exceeded) = meter.admitRequest(customerID: record.id, plan: record.limits) {
            return .limited(customerID: record.id, exceeded)
        }
        return .authenticated(Customer(id: record.id, kind: .customer, plan: record.plan, displayName: record.email, credentials: credentials))
    }

    private enum Lookup {
        case found(CustomerRecord)
        case refused(AuthenticationOutcome)
        /// No customer owns the credential (or none was sent); the single user's key may still match.
        case notACustomerCredential
    }

    private func customer(presenting presented: String?, path: String) throws -> Lookup {
        guard let presented else { return .notACustomerCredential }
        if presented.hasPrefix(CustomerDirectory.apiKeyPrefix) {
            switch try directory.authenticate(apiKey: presented) {
            case .valid(let found): return .found(found)
            case .disabled(let found): return .refused(Self.disabled(found))
            case .unknown:
                guard try directory.hasCustomers() else { return .notACustomerCredential }
                return .refused(.refused(challenge: challenge(path, error: "invalid_token"), message: "the API key is not valid: it was never issued, was rotated or revoked, or has expired; ask the operator for a new one"))
            }
        }
        guard let grant = try tokens?.verifyAccessToken(presented) else { return .notACustomerCredential }
        guard resource.accepts(audience: grant.resource, on: path) else {
            return .refused(.refused(
                challenge: challenge(path, error: "invalid_token"),
                message: "the access token was issued for another resource (\(grant.resource ?? "none")); request a token with resource=\(resource.resource(for: path))"
            ))
        }
        guard let found = try grant.customer ?? directory.customer(id: grant.customerID) else {
            return .refused(.refused(challenge: challenge(path, error: "invalid_token"), message: "the access token's customer no longer exists; sign in again"))
        }
        guard found.active else { return .refused(Self.disabled(found)) }
        return .found(found)
    }

    private static func disabled(_ record: CustomerRecord) -> AuthenticationOutcome {
        .forbidden(customerID: record.id, message: "the customer account \(record.id) is disabled; contact the operator of this server")
    }

    /// `Bearer resource_metadata="…"`, with `error="…"` when a credential was presented and refused.
    func challenge(_ path: String, error: String?) -> String {
        var challenge = "Bearer resource_metadata=\"\(resource.metadataURL(for: path))\""
        if let error { challenge += ", error=\"\(error)\"" }
        return challenge
    }
}

/// Meters `tools/call` against the caller's monthly quota; single-user callers are not metered.
package struct MeteredToolCalls: ToolCallAdmission {
    let meter: UsageMeter

    package init(meter: UsageMeter) {
        self.meter = meter
    }

    package func admit(tool: String, customer: Customer) -> LimitDecision {
        guard customer.kind == .customer else { return .allowed }
        do {
            return try meter.admitToolCall(customerID: customer.id, plan: Plan.limits(for: customer.plan), tool: tool)
        } catch {
            // Counting failed (the store could not be read): let the call run rather than fail the customer.
            return .allowed
        }
    }
}
