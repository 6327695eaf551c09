package import Store
import Crypto

/// What presenting an API key proved.
package enum APIKeyCheck: Sendable, Equatable {
    /// The key belongs to this active customer.
    case valid(CustomerRecord)
    /// The key belongs to this customer, who is disabled (answer 403, not 401).
    case disabled(CustomerRecord)
    /// No such key: never issued, revoked, rotated away or expired.
    case unknown
}

/// Customers and their API keys, in the `customers` and `apikey` keyspaces (was MySQL `customers` and the
/// Redis API-key cache).
///
/// API keys (`hk_` + 256 random bits, URL-safe) are returned once, at creation or rotation, and stored only
/// as keyed BLAKE2b hashes, so a stolen state directory yields no usable key. Every change is written
/// together with its audit record in one transaction.
package final class CustomerDirectory: Sendable {
    package let store: Store

    /// Prefix of every customer API key; OAuth tokens use other prefixes (`hat_`, `hrt_`).
    package static let apiKeyPrefix = "hk_"

    static let customers = Keyspace<String, [UInt8]>(.customers)
    static let emails = Keyspace<String, String>(.customerEmails)
    static let meta = Keyspace<String, String>(.meta)
    /// Set once every customer is in the email index: stores from before the index get it filled in the
    /// first `create` (in its transaction), and lookups scan until then.
    static let emailIndexMarker = "index.customer_emails"

    /// Parsed records by their stored bytes: the auth step reads the record on every request.
    private let records = DecodedRecordCache<CustomerRecord>()

    /// Whether any customer exists, asked on every single-user request: kept until the next commit of
    /// any process, so a customer the CLI creates ends single-user mode at the very next request.
    private let anyCustomer: SnapshotCache<Bool>

    package init(store: Store) {
        self.store = store
        anyCustomer = SnapshotCache(store)
    }

    /// `bytes` as a customer record, parsed once per distinct content.
    func decode(_ bytes: [UInt8]) throws(TenancyError) -> CustomerRecord {
        try records.value(of: bytes) { bytes throws(TenancyError) in try CustomerRecord(decoding: bytes) }
    }

    // MARK: Reading

    /// The customer with this id.
    package func customer(id: String) throws -> CustomerRecord? {
        do {
            return try store.get(Self.customers, id).map { bytes throws(TenancyError) in try decode(bytes) }
        } catch {
            throw TenancyError.store(error)
        }
    }

    /// The customer with this id, read in a transaction the caller already has open.
    package func customer(id: String, in transaction: some StoreReading) throws -> CustomerRecord? {
        try transaction.get(Self.customers, id).map { bytes throws(TenancyError) in try decode(bytes) }
    }

    /// The customer with this id or (case-insensitively) this email.
    package func customer(idOrEmail text: String) throws -> CustomerRecord? {
        if let found = try customer(id: text) { return found }
        let email = text.lowercased()
        do {
            let indexed: CustomerRecord?? = try store.read { transaction in
                guard try transaction.get(Self.meta, Self.emailIndexMarker) != nil else { return .none }
                return .some(try transaction.get(Self.emails, email).flatMap { id in try customer(id: id, in: transaction) })
            }
            if let indexed { return indexed }
        } catch {
            throw TenancyError.store(error)
        }
        return try list().first { $0.email == email }
    }

    /// Every customer, ordered by id.
    package func list() throws -> [CustomerRecord] {
        do {
            return try store.read { try $0.scan(Self.customers) }.map { entry throws(TenancyError) in try decode(entry.value) }
        } catch {
            throw TenancyError.store(error)
        }
    }

    /// Whether any customer exists; while none does the daemon runs in single-user mode.
    package func hasCustomers() throws -> Bool {
        do {
            // Customer records never expire, so the answer changes only with a commit.
            return try anyCustomer.value { try !$0.scan(Self.customers, limit: 1).isEmpty }
        } catch {
            throw TenancyError.store(error)
        }
    }

    /// Resolves an API key to its customer. The lookup is by the key's hash, so the comparison the key
    /// store makes is between hashes and leaks nothing usable about the key.
    package func authenticate(apiKey: String) throws -> APIKeyCheck {
        guard apiKey.hasPrefix(Self.apiKeyPrefix), apiKey.utf8.count <= 128 else { return .unknown }
        do {
            return try store.read { transaction in
                guard let customerID = try transaction.get(.apikey, APIKeyHash.digest(of: apiKey)),
                      let bytes = try transaction.get(Self.customers, customerID)
                else { return .unknown }
                let record = try decode(bytes)
                return record.active ? .valid(record) : .disabled(record)
            }
        } catch {
            throw TenancyError.store(error)
        }
    }

    // MARK: Changing

    /// Creates a customer with a first API key; returns the record and the key (shown once).
    package func create(email: String, plan: String, keyExpiresAt: Timestamp? = nil) async throws -> (CustomerRecord, apiKey: String) {
        let email = email.trimmingWhitespace.lowercased()
        guard Self.isPlausibleEmail(email) else {
            throw TenancyError(.invalidEmail, "'\(email.prefix(80))' is not an email address; give one like name@example.com")
        }
        guard Plan.named(plan) != nil else { throw TenancyError.unknownPlan(plan) }
        let id = "cus_" + RandomToken.urlSafe(byteCount: 9).replacingDashes
        let apiKey = Self.newAPIKey()
        let record: CustomerRecord
        do {
            // Once per store, in a transaction of its own, so the index stays even if this create is refused.
            if try store.read({ try $0.get(Self.meta, Self.emailIndexMarker) }) == nil {
                try await store.write { try self.fillEmailIndex(in: $0) }
            }
            record = try await store.write { transaction in
                if let existing = try transaction.get(Self.emails, email) {
                    throw TenancyError(.duplicateEmail, "a customer with the email \(email) exists already (\(existing)); use `hermes customers rotate-key \(existing)` for a new key")
                }
                try transaction.put(Self.emails, email, id)
                var record = CustomerRecord(id: id, email: email, plan: plan, active: true, created: transaction.now)
                let key = try Self.addKey(apiKey, expiresAt: keyExpiresAt, to: &record, in: transaction)
                try transaction.put(Self.customers, id, record.encoded)
                try AuditLog.append("customer.created", customerID: id, retentionDays: record.limits.auditRetentionDays, detail: ["plan": plan], in: transaction)
                try AuditLog.append("apikey.created", customerID: id, retentionDays: record.limits.auditRetentionDays, detail: Self.keyDetail(key), in: transaction)
                return record
            }
        } catch {
            throw TenancyError.store(error)
        }
        return (record, apiKey)
    }

    /// Puts every customer into the email index, once per store (customers created before the index existed);
    /// does nothing when another process got there first.
    private func fillEmailIndex(in transaction: WriteTransaction) throws {
        guard try transaction.get(Self.meta, Self.emailIndexMarker) == nil else { return }
        for entry in try transaction.scan(Self.customers) {
            guard let record = try? decode(entry.value) else { continue }
            try transaction.put(Self.emails, record.email, record.id)
        }
        try transaction.put(Self.meta, Self.emailIndexMarker, "1")
    }

    /// Enables or disables a customer. A disabled customer's keys and tokens get 403 until enabled again;
    /// disabling also revokes its OAuth grants, so after enabling its clients sign in again.
    @discardableResult
    package func setActive(_ active: Bool, customerID: String) async throws -> CustomerRecord {
        try await change(customerID, event: active ? "customer.enabled" : "customer.disabled") { record, _ in
            record.active = active
            return active ? [:] : Self.revokeGrants(&record)
        }
    }

    /// Moves a customer to another plan (limits apply from the next request).
    @discardableResult
    package func setPlan(_ plan: String, customerID: String) async throws -> CustomerRecord {
        guard Plan.named(plan) != nil else { throw TenancyError.unknownPlan(plan) }
        return try await change(customerID, event: "customer.plan_changed") { record, _ in
            let previous = record.plan
            record.plan = plan
            return ["from": previous, "to": plan]
        }
    }

    /// Replaces every API key of a customer with a new one (returned once); the old keys stop working at
    /// once, and so do the OAuth grants signed in with them.
    package func rotateKey(customerID: String, expiresAt: Timestamp? = nil) async throws -> (CustomerRecord, apiKey: String) {
        let apiKey = Self.newAPIKey()
        let record = try await change(customerID, event: "apikey.rotated") { record, transaction in
            let revoked = try Self.removeKeys(from: &record, in: transaction)
            let key = try Self.addKey(apiKey, expiresAt: expiresAt, to: &record, in: transaction)
            return Self.keyDetail(key).merging(["revoked": revoked.joined(separator: ",")]) { first, _ in first }.merging(Self.revokeGrants(&record)) { first, _ in first }
        }
        return (record, apiKey)
    }

    /// Revokes every API key of a customer, and its OAuth grants.
    @discardableResult
    package func revokeKeys(customerID: String) async throws -> CustomerRecord {
        try await change(customerID, event: "apikey.revoked") { record, transaction in
            ["revoked": try Self.removeKeys(from: &record, in: transaction).joined(separator: ",")].merging(Self.revokeGrants(&record)) { first, _ in first }
        }
    }

    /// Ends every OAuth grant of the customer (the authorization server checks the epoch on every use);
    /// returns the audit detail that says so.
    private static func revokeGrants(_ record: inout CustomerRecord) -> [String: String] {
        record.grantEpoch += 1
        return ["oauth_grants": "revoked"]
    }

    /// Reads, changes and writes one customer record with its audit event, in one transaction.
    private func change(
        _ customerID: String, event: String,
        _ body: @escaping @Sendable (inout CustomerRecord, WriteTransaction) throws -> [String: String]
    ) async throws -> CustomerRecord {
        do {
            return try await store.write { transaction in
                guard let bytes = try transaction.get(Self.customers, customerID) else { throw TenancyError.unknownCustomer(customerID) }
                var record = try CustomerRecord(decoding: bytes)
                let detail = try body(&record, transaction)
                try transaction.put(Self.customers, customerID, record.encoded)
                try AuditLog.append(event, customerID: customerID, retentionDays: record.limits.auditRetentionDays, detail: detail, in: transaction)
                return record
            }
        } catch {
            throw TenancyError.store(error)
        }
    }

    // MARK: Keys

    static func newAPIKey() -> String { apiKeyPrefix + RandomToken.urlSafe(byteCount: 32) }

    private static func addKey(_ apiKey: String, expiresAt: Timestamp?, to record: inout CustomerRecord, in transaction: WriteTransaction) throws -> APIKeyInfo {
        let hash = APIKeyHash.digest(of: apiKey)
        try transaction.put(.apikey, hash, record.id, expiresAt: expiresAt)
        let info = APIKeyInfo(hashHex: APIKeyHash.hexDigest(of: apiKey), created: transaction.now, expiresAt: expiresAt)
        record.apiKeys.append(info)
        return info
    }

    private static func removeKeys(from record: inout CustomerRecord, in transaction: WriteTransaction) throws -> [String] {
        var revoked: [String] = []
        for key in record.apiKeys {
            if let hash = Hex.decode(key.hashHex) { _ = try transaction.delete(Keyspace<[UInt8], String>.apikey, hash) }
            revoked.append(key.keyID)
        }
        record.apiKeys = []
        return revoked
    }

    private static func keyDetail(_ key: APIKeyInfo) -> [String: String] {
        var detail = ["key": key.keyID]
        if let expiresAt = key.expiresAt { detail["expires_ms"] = "\(expiresAt.millisecondsSince1970)" }
        return detail
    }

    static func isPlausibleEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return email.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !email.contains { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "\"" }
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }

    /// Customer ids stay in `[A-Za-z0-9_]` so they read well in CLI output and store keys.
    var replacingDashes: String { String(map { $0 == "-" ? "_" : $0 }) }
}
