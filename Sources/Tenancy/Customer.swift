/// Who a tool call runs for, and the only way a tool reaches platform credentials.
///
/// A single-user daemon has one caller, ``singleUser``, whose credentials come from environment variables.
/// A multi-customer daemon resolves every request to the customer behind its API key or OAuth token;
/// ``credential(for:)`` then opens that customer's sealed credential and nobody else's (the vault binds each
/// envelope to its customer and platform).
package struct Customer: Sendable, Hashable, CustomStringConvertible {
    /// How the caller is known to the daemon.
    package enum Kind: String, Sendable, Hashable {
        /// The one user of a single-user daemon (a static API key).
        case singleUser = "single-user"
        /// A customer of a multi-tenant daemon.
        case customer
    }

    /// Stable identifier; prefixes every key this customer owns in the store.
    package var id: String { storage.id }
    package var kind: Kind { storage.kind }
    /// The plan's name (limits and billing hang off it).
    package var plan: String { storage.plan }
    /// A name to show people, when there is one.
    package var displayName: String? { storage.displayName }
    /// Where this caller's platform credentials come from.
    package var credentials: any CredentialSource { storage.credentials }

    /// One reference: a customer is copied into its session, tool call and invocation
    /// (docs/adr/0015-per-request-values-as-one-reference.md).
    private let storage: Storage

    private final class Storage: Sendable {
        let id: String
        let kind: Kind
        let plan: String
        let displayName: String?
        let credentials: any CredentialSource

        init(id: String, kind: Kind, plan: String, displayName: String?, credentials: any CredentialSource) {
            self.id = id
            self.kind = kind
            self.plan = plan
            self.displayName = displayName
            self.credentials = credentials
        }
    }

    package init(id: String, kind: Kind, plan: String, displayName: String? = nil, credentials: any CredentialSource = NoCredentials()) {
        storage = Storage(id: id, kind: kind, plan: plan, displayName: displayName, credentials: credentials)
    }

    /// The caller of a single-user daemon, without platform credentials.
    package static let singleUser = Customer(id: "single-user", kind: .singleUser, plan: "single-user", displayName: "single user")

    /// This caller's credential for `platform` (a token or a JSON blob of secrets), or nil if none is set.
    package func credential(for platform: String) throws -> [UInt8]? {
        try credentials.credential(customerID: id, platform: platform)
    }

    /// The platforms this caller has credentials for.
    package func connectedPlatforms() throws -> [String] {
        try credentials.platforms(customerID: id)
    }

    package var description: String { "\(kind.rawValue):\(id)" }

    package static func == (lhs: Customer, rhs: Customer) -> Bool {
        if lhs.storage === rhs.storage { return true }
        return lhs.id == rhs.id && lhs.kind == rhs.kind && lhs.plan == rhs.plan && lhs.displayName == rhs.displayName
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(kind)
    }
}

/// Reads platform credentials for a customer.
package protocol CredentialSource: Sendable {
    func credential(customerID: String, platform: String) throws -> [UInt8]?
    func platforms(customerID: String) throws -> [String]
}

/// No credentials at all (tests, and a single-user daemon whose environment names none).
package struct NoCredentials: CredentialSource {
    package init() {}
    package func credential(customerID: String, platform: String) throws -> [UInt8]? { nil }
    package func platforms(customerID: String) throws -> [String] { [] }
}

/// Single-user mode: credentials from environment variables, one per platform.
package struct EnvironmentCredentials: CredentialSource {
    /// The variable each platform's credential is read from.
    package static let variables: [(platform: String, variable: String)] = [
        ("whatsapp", "WHATSAPP_ACCESS_TOKEN"), ("instagram", "INSTAGRAM_ACCESS_TOKEN"), ("linkedin", "LINKEDIN_ACCESS_TOKEN"),
        ("telegram", "TELEGRAM_BOT_TOKEN"), ("discord", "DISCORD_BOT_TOKEN"), ("x", "X_ACCESS_TOKEN"), ("obsidian", "OBSIDIAN_VAULT_PATH"),
    ]

    private let values: [String: [UInt8]]

    package init(_ environment: [String: String]) {
        var values: [String: [UInt8]] = [:]
        for (platform, variable) in Self.variables {
            if let value = environment[variable], !value.isEmpty { values[platform] = Array(value.utf8) }
        }
        self.values = values
    }

    package func credential(customerID: String, platform: String) throws -> [UInt8]? { values[platform] }
    package func platforms(customerID: String) throws -> [String] { values.keys.sorted() }
}
