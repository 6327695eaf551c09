/// How the authorization server behaves: its public identity, lifetimes and limits.
package struct OAuthConfiguration: Sendable {
    /// The issuer: the daemon's public base URL (`serve --public-url`, `HERMES_PUBLIC_URL`), an origin such
    /// as `https://hermes.example.com` with no path and no trailing slash (one is removed). Endpoint URLs
    /// in the metadata are built from it, and the protected MCP resource is `<issuer>/mcp`.
    package var issuer: String
    /// Scopes clients may ask for. `offline_access` is always included.
    package var scopes: [String]
    /// Granted when a request names no scope.
    package var defaultScopes: [String]
    /// How long an authorization code may be redeemed (RFC 6749 recommends at most 10 minutes).
    package var codeLifetime: Duration
    /// How long an access token works.
    package var accessTokenLifetime: Duration
    /// How long a refresh token works if unused; each refresh starts this afresh for the new one.
    package var refreshTokenLifetime: Duration
    /// How long a consent page (its CSRF token) stays valid.
    package var consentLifetime: Duration
    /// Consent pages open at once; more are refused until some finish or expire (bounds memory).
    package var maximumPendingConsents: Int
    /// Consent pages open at once for one remote address (the client behind trusted proxies); more from it
    /// get 429 until some finish or expire, so one address cannot take every place.
    package var maximumPendingConsentsPerAddress: Int
    /// Wrong API keys allowed on one consent page before the client has to start again.
    package var maximumSignInAttempts: Int
    /// Dynamically registered clients that have never completed a sign-in are deleted after this.
    package var unusedClientLifetime: Duration
    /// At most this many never-used registered clients exist at once (registration answers 429 beyond).
    package var maximumUnusedClients: Int
    /// Registrations allowed per remote address per hour.
    package var registrationsPerAddressPerHour: Int
    /// Client ID Metadata Documents (an https `client_id` whose document is fetched).
    package var clientMetadataDocuments: ClientMetadataDocuments

    /// Settings for fetching Client ID Metadata Documents.
    package struct ClientMetadataDocuments: Sendable {
        /// Whether https `client_id`s are accepted (and advertised in the metadata).
        package var enabled: Bool
        /// How long a fetched document is trusted before it is fetched again.
        package var cacheLifetime: Duration
        /// The longest a fetch may take.
        package var timeout: Duration
        /// The largest document accepted.
        package var maximumBytes: Int
        /// A PEM bundle of CA certificates to trust instead of the system's (tests, private CAs).
        package var caBundlePath: String?
        /// Whether documents may be fetched from private, loopback or link-local addresses. Off: a
        /// `client_id` is a URL anyone can send, and it must not make this server reach into its own network.
        package var allowsPrivateAddresses: Bool
        /// Fetches at once, running or waiting for one of the fetcher's slots; more are refused (503).
        package var maximumPendingFetches: Int
        /// Fetches at once for requests from one remote address; more from it get 429, so one address
        /// cannot hold every slot (with slow or unanswering servers) while everyone else's sign-in waits.
        package var maximumFetchesPerAddress: Int

        package init(
            enabled: Bool = true, cacheLifetime: Duration = .seconds(3600), timeout: Duration = .seconds(5), maximumBytes: Int = 64 * 1024,
            caBundlePath: String? = nil, allowsPrivateAddresses: Bool = false, maximumPendingFetches: Int = 64, maximumFetchesPerAddress: Int = 2
        ) {
            self.enabled = enabled
            self.cacheLifetime = cacheLifetime
            self.timeout = timeout
            self.maximumBytes = maximumBytes
            self.caBundlePath = caBundlePath
            self.allowsPrivateAddresses = allowsPrivateAddresses
            self.maximumPendingFetches = maximumPendingFetches
            self.maximumFetchesPerAddress = maximumFetchesPerAddress
        }
    }

    package init(
        issuer: String,
        scopes: [String] = ["mcp"],
        defaultScopes: [String] = ["mcp"],
        codeLifetime: Duration = .seconds(300),
        accessTokenLifetime: Duration = .seconds(3600),
        refreshTokenLifetime: Duration = .seconds(30 * 86_400),
        consentLifetime: Duration = .seconds(600),
        maximumPendingConsents: Int = 10_000,
        maximumPendingConsentsPerAddress: Int = 20,
        maximumSignInAttempts: Int = 5,
        unusedClientLifetime: Duration = .seconds(86_400),
        maximumUnusedClients: Int = 10_000,
        registrationsPerAddressPerHour: Int = 60,
        clientMetadataDocuments: ClientMetadataDocuments = ClientMetadataDocuments()
    ) {
        self.issuer = issuer
        self.scopes = scopes
        self.defaultScopes = defaultScopes
        self.codeLifetime = codeLifetime
        self.accessTokenLifetime = accessTokenLifetime
        self.refreshTokenLifetime = refreshTokenLifetime
        self.consentLifetime = consentLifetime
        self.maximumPendingConsents = maximumPendingConsents
        self.maximumPendingConsentsPerAddress = maximumPendingConsentsPerAddress
        self.maximumSignInAttempts = maximumSignInAttempts
        self.unusedClientLifetime = unusedClientLifetime
        self.maximumUnusedClients = maximumUnusedClients
        self.registrationsPerAddressPerHour = registrationsPerAddressPerHour
        self.clientMetadataDocuments = clientMetadataDocuments
    }
}

extension Duration {
    /// Whole milliseconds, for timestamps.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole seconds, for `expires_in`.
    var wholeSeconds: Int64 { components.seconds }
}
