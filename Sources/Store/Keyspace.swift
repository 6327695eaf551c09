/// A named LMDB database inside the store's environment.
///
/// Every keyspace is listed in ``KeyspaceName/all`` and opened when the store opens. The `tag` is a
/// stable one-byte number used in the expiry index; never reuse or renumber one.
public struct KeyspaceName: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    let tag: UInt8
    /// How the keyspace's expiring entries are laid out on disk and found by the sweeper.
    public let expiryLayout: ExpiryLayout

    private init(_ name: String, tag: UInt8, expiryLayout: ExpiryLayout = .indexed) {
        self.name = name
        self.tag = tag
        self.expiryLayout = expiryLayout
    }

    public var description: String { name }

    /// Sealed platform credentials, `{cid}:{platform}` → envelope (was Redis `creds:*`).
    public static let creds = KeyspaceName("creds", tag: 1)
    /// WhatsApp phone-number id → customer id (was Redis `wa_phone_id:*`).
    public static let waPhoneID = KeyspaceName("wa_phone_id", tag: 2)
    /// API-key hash → customer id; never the key itself (was Redis `customer:apikey:*`).
    public static let apikey = KeyspaceName("apikey", tag: 3)
    /// Audit records, `{cid}:{yyyy-mm-dd}:{seq}` → JSON (was Redis `logs:*`).
    public static let logs = KeyspaceName("logs", tag: 4)
    /// Customer id → customer record (was MySQL `customers`).
    public static let customers = KeyspaceName("customers", tag: 5)
    /// OAuth client id → registration (was MySQL `oauth_clients`).
    public static let oauthClients = KeyspaceName("oauth_clients", tag: 6)
    /// Authorization-code hash → grant (was MySQL `oauth_codes`).
    public static let oauthCodes = KeyspaceName("oauth_codes", tag: 7, expiryLayout: .generations(bucket: .seconds(60)))
    /// Token hash → token record (was MySQL `oauth_tokens`).
    public static let oauthTokens = KeyspaceName("oauth_tokens", tag: 8, expiryLayout: .generations(bucket: .seconds(60)))
    /// Usage counters per customer, month and tool.
    public static let usage = KeyspaceName("usage", tag: 9)
    /// Inbound webhook events, persisted before the webhook is answered.
    public static let events = KeyspaceName("events", tag: 10)
    /// Delivery ids already seen, so a redelivered event is processed once.
    public static let dedupe = KeyspaceName("dedupe", tag: 11, expiryLayout: .generations(bucket: .seconds(60)))
    /// Events that could not be processed after retries.
    public static let deadLetters = KeyspaceName("dead_letters", tag: 12)
    /// Protocol sessions that outlive one connection.
    public static let sessions = KeyspaceName("sessions", tag: 13, expiryLayout: .generations(bucket: .seconds(60)))
    /// Store metadata: schema version, key-rotation progress.
    public static let meta = KeyspaceName("meta", tag: 14)
    /// Sandbox outbox for offline integration tests.
    public static let sandbox = KeyspaceName("sandbox", tag: 15)
    /// Customer email (lower-cased) → customer id, so creating a customer does not scan them all.
    public static let customerEmails = KeyspaceName("customer_emails", tag: 16)

    /// Every keyspace the store opens.
    public static let all: [KeyspaceName] = [
        creds, waPhoneID, apikey, logs, customers, oauthClients, oauthCodes, oauthTokens,
        usage, events, dedupe, deadLetters, sessions, meta, sandbox, customerEmails,
    ]

    /// The expiry index, keyed by (deadline, keyspace tag, key); internal to the store.
    static let expiryIndex = KeyspaceName("_expiry", tag: 0)
}

/// Where a keyspace keeps the deadlines of its expiring entries, which decides what sweeping costs.
public enum ExpiryLayout: Hashable, Sendable {
    /// Entries are stored under their own key; each expiring entry also has an entry in the store-wide
    /// expiry index, which the sweeper walks in deadline order. Right for keys that sort in deadline order
    /// (audit logs, events) and for keyspaces that are scanned by prefix.
    case indexed
    /// Entries grouped into expiry generations (stored key: the generation's end, 4 bytes, then the key), dropped
    /// whole by the sweeper; for random keys looked up by exact key. `bucket` (whole seconds, ≥ 1) is the narrowest
    /// generation; lookups probe every live generation. See docs/adr/0012-store-expiry-generations.md.
    case generations(bucket: Duration)
}

/// A keyspace together with the types of its keys and values.
///
/// ```swift
/// let creds = Keyspace<CredentialKey, [UInt8]>.creds
/// try store.read { try $0.get(creds, CredentialKey(customerID: "c1", platform: "telegram")) }
/// ```
public struct Keyspace<Key: StoreKey, Value: StoreValue>: Sendable {
    public let name: KeyspaceName

    public init(_ name: KeyspaceName) {
        self.name = name
    }
}

extension Keyspace where Key == CredentialKey, Value == [UInt8] {
    /// Sealed credential envelopes.
    public static var creds: Self { Self(.creds) }
}

extension Keyspace where Key == SequencedKey, Value == [UInt8] {
    /// Audit log records, appended per customer and day.
    public static var logs: Self { Self(.logs) }
    /// Inbound events, appended per source.
    public static var events: Self { Self(.events) }
}

extension Keyspace where Key == String, Value == String {
    /// WhatsApp phone-number id → customer id.
    public static var waPhoneID: Self { Self(.waPhoneID) }
    /// Store metadata.
    public static var meta: Self { Self(.meta) }
}

extension Keyspace where Key == [UInt8], Value == String {
    /// API-key hash → customer id.
    public static var apikey: Self { Self(.apikey) }
}

extension KeyspaceName {
    /// Keyspaces by tag, for decoding the expiry index.
    static let byTag: [UInt8: KeyspaceName] = Dictionary(uniqueKeysWithValues: all.map { ($0.tag, $0) })

    /// The narrowest generation in seconds, or nil for an indexed keyspace.
    var generationBucketSeconds: Int64? {
        guard case .generations(let bucket) = expiryLayout else { return nil }
        return max(1, bucket.components.seconds)
    }

    /// Keyspaces laid out in expiry generations.
    static let generational: [KeyspaceName] = all.filter { $0.generationBucketSeconds != nil }

    /// The longest key, in bytes, this keyspace accepts (with or without an expiry): a write with a longer
    /// key fails with ``StoreError/Code/invalidArgument``, which callers can check before a batch.
    public func maximumKeyBytes(expiring: Bool) -> Int {
        if generationBucketSeconds != nil { return Generation.maximumKeySize }
        return expiring ? TransactionHandle.maximumExpiringKeySize : Environment.maximumKeySize
    }
}
