public import HTTP2
import OAuth
public import Tenancy

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
public struct TenantAuthenticator: CallerAuthenticator {
    let directory: CustomerDirectory
    let meter: UsageMeter
    let tokens: (any AccessTokenVerifier)?
    let singleUser: StaticAPIKeyAuthenticator
    let resource: ProtectedResource
    let credentials: any CredentialSource

    public init(
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

    public func authenticate(_ request: HTTPRequest) async -> AuthenticationOutcome {
        let hasCustomers: Bool
        do {
            hasCustomers = try directory.hasCustomers()
        } catch {
            return .refused(challenge: challenge(request.path, error: nil), message: "the server cannot read its customer records right now; retry shortly")
        }
        guard hasCustomers else { return await singleUser.authenticate(request) }
        guard let presented = StaticAPIKeyAuthenticator.presentedKey(request) else {
            return .refused(
                challenge: challenge(request.path, error: nil),
                message: "authentication required: send a customer API key ('x-api-key: hk_…' or 'Authorization: Bearer hk_…') or an OAuth access token ('Authorization: Bearer …')"
            )
        }
        let record: CustomerRecord
        do {
            if presented.hasPrefix(CustomerDirectory.apiKeyPrefix) {
                switch try directory.authenticate(apiKey: presented) {
                case .valid(let found): record = found
                case .disabled(let found): return Self.disabled(found)
                case .unknown:
                    return .refused(challenge: challenge(request.path, error: "invalid_token"), message: "the API key is not valid: it was never issued, was rotated or revoked, or has expired; ask the operator for a new one")
                }
            } else {
                guard let grant = try tokens?.verifyAccessToken(presented) else {
                    return .refused(challenge: challenge(request.path, error: "invalid_token"), message: "the access token is not valid: it is unknown, expired or revoked; refresh it or sign in again")
                }
                guard resource.accepts(audience: grant.resource, on: request.path) else {
                    return .refused(
                        challenge: challenge(request.path, error: "invalid_token"),
                        message: "the access token was issued for another resource (\(grant.resource ?? "none")); request a token with resource=\(resource.resource(for: request.path))"
                    )
                }
                guard let found = try directory.customer(id: grant.customerID) else {
                    return .refused(challenge: challenge(request.path, error: "invalid_token"), message: "the access token's customer no longer exists; sign in again")
                }
                guard found.active else { return Self.disabled(found) }
                record = found
            }
        } catch let error as OAuthError where error.code == .customerDisabled {
            return .forbidden(customerID: "-", message: "\(error); contact the operator of this server")
        } catch {
            return .refused(challenge: challenge(request.path, error: nil), message: "the server cannot check credentials right now; retry shortly")
        }
        if case .refused(let exceeded) = meter.admitRequest(customerID: record.id, plan: record.limits) {
            return .limited(customerID: record.id, exceeded)
        }
        return .authenticated(Customer(id: record.id, kind: .customer, plan: record.plan, displayName: record.email, credentials: credentials))
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
public struct MeteredToolCalls: ToolCallAdmission {
    let meter: UsageMeter

    public init(meter: UsageMeter) {
        self.meter = meter
    }

    public func admit(tool: String, customer: Customer) -> LimitDecision {
        guard customer.kind == .customer else { return .allowed }
        do {
            return try meter.admitToolCall(customerID: customer.id, plan: Plan.limits(for: customer.plan), tool: tool)
        } catch {
            // Counting failed (the store could not be read): let the call run rather than fail the customer.
            return .allowed
        }
    }
}
