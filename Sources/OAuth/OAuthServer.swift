import HTTP2
package import Routing
package import Logging
package import Store
package import Tenancy
import Crypto
import JSON
import HTTPClient

/// The OAuth 2.1 authorization server: metadata (RFC 8414, RFC 9728), dynamic client registration
/// (RFC 7591), Client ID Metadata Documents, a consent page where customers sign in with their API key,
/// the token endpoint (authorization code with PKCE S256, rotating refresh tokens) and revocation (RFC 7009).
///
/// ```swift
/// let oauth = try OAuthServer(
///     configuration: OAuthConfiguration(issuer: publicURL), store: store,
///     directory: CustomerDirectory(store: store), audit: AuditLog(store: store), logger: logger
/// )
/// oauth.register(in: &router)
/// // in the auth step, for a bearer token that is not an API key:
/// if let grant = try oauth.verifyAccessToken(token), grant.resource == oauth.mcpResource { … }
/// ```
///
/// Codes and tokens are stored only as keyed hashes, with expiry, in `oauth_codes` and `oauth_tokens`;
/// clients in `oauth_clients`. Token formats: access `hat_…`, refresh `hrt_…`, code `hac_…`.
package final class OAuthServer: AccessTokenVerifier, Sendable {
    /// The configuration, with the issuer normalised (no trailing slash).
    package let configuration: OAuthConfiguration
    let store: Store
    let directory: CustomerDirectory
    let audit: AuditLog
    let logger: Logger
    let consents: PendingConsents
    let registrationLimiter: RegistrationLimiter
    let metadataFetches: FetchSlots
    let fetcher: HTTPClient
    /// Parsed token and family records by their stored bytes (the verifier runs on every request).
    let tokenRecords = DecodedRecordCache<TokenRecord>()
    let familyRecords = DecodedRecordCache<FamilyRecord>()

    /// Prefixes that tell tokens apart from API keys (`hk_`) and from each other.
    package static let accessTokenPrefix = "hat_"
    package static let refreshTokenPrefix = "hrt_"
    package static let codePrefix = "hac_"

    static let tokenHash = SecretHash(domain: "hermes.oauth-token.v1")
    static let codeHash = SecretHash(domain: "hermes.oauth-code.v1")
    static let clientSecretHash = SecretHash(domain: "hermes.oauth-client-secret.v1")

    /// Creates the server. Nothing is served until ``register(in:)``.
    ///
    /// - Throws: ``OAuthError`` with ``OAuthError/Code/invalidConfiguration`` when the issuer is not an
    ///   http(s) origin (a path, query or fragment is refused: the well-known documents live at the root).
    package init(configuration: OAuthConfiguration, store: Store, directory: CustomerDirectory, audit: AuditLog, logger: Logger) throws(OAuthError) {
        var configuration = configuration
        while configuration.issuer.hasSuffix("/") { configuration.issuer.removeLast() }
        guard let parts = URLParts(configuration.issuer), parts.scheme == "https" || parts.scheme == "http",
              parts.path.isEmpty, !parts.hasUserInfo
        else {
            throw OAuthError(.invalidConfiguration, "the public URL \"\(configuration.issuer)\" is not an http(s) origin such as https://hermes.example.com (no path, query or fragment); set serve --public-url or HERMES_PUBLIC_URL")
        }
        configuration.issuer = "\(parts.scheme)://\(parts.displayHost)"
        for scope in ["offline_access"] where !configuration.scopes.contains(scope) { configuration.scopes.append(scope) }
        configuration.defaultScopes = configuration.defaultScopes.filter { configuration.scopes.contains($0) }
        self.configuration = configuration
        self.store = store
        self.directory = directory
        self.audit = audit
        self.logger = logger
        consents = PendingConsents(capacity: configuration.maximumPendingConsents, perAddress: configuration.maximumPendingConsentsPerAddress)
        registrationLimiter = RegistrationLimiter(perHour: configuration.registrationsPerAddressPerHour)
        let documents = configuration.clientMetadataDocuments
        metadataFetches = FetchSlots(total: documents.maximumPendingFetches, perAddress: documents.maximumFetchesPerAddress)
        fetcher = HTTPClient(configuration: HTTPClient.Configuration(
            timeout: documents.timeout, connectTimeout: documents.timeout, maximumResponseBytes: documents.maximumBytes,
            allowsPlainHTTP: false, allowsPrivateAddresses: documents.allowsPrivateAddresses, maximumRedirects: 0, caBundlePath: documents.caBundlePath,
            userAgent: "hermes-appliance-oauth", maximumConcurrentTransfers: 8
        ))
    }

    /// The issuer (the public base URL, no trailing slash).
    package var issuer: String { configuration.issuer }

    /// The protected resource MCP clients get tokens for: `<issuer>/mcp`.
    package var mcpResource: String { issuer + "/mcp" }

    /// The RFC 9728 metadata URL of the MCP resource, for `WWW-Authenticate`.
    package var mcpResourceMetadataURL: String { issuer + "/.well-known/oauth-protected-resource/mcp" }

    /// The `WWW-Authenticate` value for a 401 from the MCP endpoints: `Bearer resource_metadata="…"`,
    /// with `error="invalid_token"` when a token was presented but refused (RFC 6750 section 3).
    package func bearerChallenge(invalidToken: Bool = false) -> String {
        var value = "Bearer resource_metadata=\"\(mcpResourceMetadataURL)\""
        if invalidToken { value += ", error=\"invalid_token\"" }
        return value
    }

    /// Adds every route: the well-known documents, `/oauth/register|authorize|token|revoke` and the root
    /// aliases `/register`, `/authorize`, `/token`.
    package func register(in router: inout Router) {
        registerMetadata(in: &router)
        for path in ["/oauth/register", "/register"] {
            router.post(path, bodyLimit: 64 * 1024) { [self] request in await handleRegistration(request) }
            addPreflight(path, methods: "POST", in: &router)
        }
        for path in ["/oauth/authorize", "/authorize"] {
            router.get(path) { [self] request in await handleAuthorizationRequest(request) }
            router.post(path, bodyLimit: 16 * 1024) { [self] request in await handleConsent(request) }
        }
        for path in ["/oauth/token", "/token"] {
            router.post(path, bodyLimit: 16 * 1024) { [self] request in await handleToken(request) }
            addPreflight(path, methods: "POST", in: &router)
        }
        for path in ["/oauth/revoke", "/revoke"] {
            router.post(path, bodyLimit: 16 * 1024) { [self] request in await handleRevocation(request) }
            addPreflight(path, methods: "POST", in: &router)
        }
    }

    // MARK: AccessTokenVerifier

    /// The grant behind an access token, or nil when it is unknown, malformed, expired, revoked (alone or
    /// with its family, or by the customer's grants being revoked since), or its customer no longer exists.
    ///
    /// - Throws: ``Tenancy/DisabledCustomerError`` when the token is otherwise valid but its customer is
    ///   disabled (answer 403), ``OAuthError`` with ``OAuthError/Code/storeFailed`` when the store fails.
    ///
    /// The caller checks ``Tenancy/AccessGrant/resource`` against the resource being accessed
    /// (``mcpResource`` for `/mcp` and `/sse`).
    package func isAccessTokenShaped(_ token: String) -> Bool {
        token.hasPrefix(Self.accessTokenPrefix)
    }

    package func verifyAccessToken(_ token: String) throws -> AccessGrant? {
        guard token.hasPrefix(Self.accessTokenPrefix), token.utf8.count <= 128 else { return nil }
        let key = OAuthKeys.access(Self.tokenHash.hexDigest(of: token))
        let found: (TokenRecord, FamilyRecord, CustomerRecord)?
        do {
            // One snapshot for the token, its family and its customer.
            found = try store.read { transaction -> (TokenRecord, FamilyRecord, CustomerRecord)? in
                guard let bytes = try transaction.get(OAuthKeys.tokens, key) else { return nil }
                let record = try tokenRecords.value(of: bytes) { bytes throws(RecordError) in try TokenRecord(json: bytes) }
                guard record.expiresAt > transaction.now,
                      let familyBytes = try transaction.get(OAuthKeys.tokens, OAuthKeys.family(record.familyID))
                else { return nil }
                let family = try familyRecords.value(of: familyBytes) { bytes throws(RecordError) in try FamilyRecord(json: bytes) }
                guard !family.revoked, let customer = try directory.customer(id: record.customerID, in: transaction) else { return nil }
                return (record, family, customer)
            }
        } catch {
            logger.error("checking an OAuth access token failed", metadata: ["error": "\(error)"])
            throw OAuthError(.storeFailed, "the token could not be checked because the store failed: \(error)")
        }
        guard let (record, family, customer) = found else { return nil }
        guard customer.active else {
            throw DisabledCustomerError(customerID: customer.id)
        }
        guard family.stands(for: customer) else { return nil }
        return AccessGrant(customerID: record.customerID, clientID: record.clientID, scope: record.scope, resource: record.resource, expiresAt: record.expiresAt, customer: customer)
    }

    // MARK: Shared helpers

    var now: Timestamp { store.clock.now() }

    /// The canonical form of an RFC 8707 `resource` this server protects (`<issuer>/mcp` or `<issuer>`),
    /// or nil for anything else.
    func canonicalResource(_ value: String) -> String? {
        var value = value
        while value.hasSuffix("/") { value.removeLast() }
        let lowered = value.lowercased()
        if lowered == mcpResource.lowercased() { return mcpResource }
        if lowered == issuer.lowercased() { return issuer }
        return nil
    }

    /// A JSON response that must not be cached (tokens, registrations, errors of those endpoints).
    static func noStoreJSON(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        var response = HTTPResponse.json(JSONWriter.encode(value), status: status)
        response.headers.set("cache-control", "no-store")
        response.headers.set("pragma", "no-cache")
        response.headers.set("access-control-allow-origin", "*")
        return response
    }

    static func errorResponse(_ error: ProtocolError) -> HTTPResponse {
        var response = noStoreJSON(["error": .string(error.code), "error_description": .string(error.description)], status: error.status)
        if let challenge = error.challenge { response.headers.set("www-authenticate", challenge) }
        if let wait = error.retryAfterSeconds { response.headers.set("retry-after", "\(wait)") }
        return response
    }

    private func addPreflight(_ path: String, methods: String, in router: inout Router) {
        router.add(.options, path) { _ in
            HTTPResponse(status: 204, headers: [
                "access-control-allow-origin": "*", "access-control-allow-methods": "\(methods), OPTIONS",
                "access-control-allow-headers": "authorization, content-type, mcp-protocol-version", "access-control-max-age": "86400",
            ])
        }
    }
}
