public import Tenancy
public import Crypto
public import Store

/// Stores each customer's platform credentials sealed under the key ring, opens them on use, and
/// re-seals them when the master key rotates.
///
/// A credential is bound to its place: the envelope's associated data names the customer and the platform,
/// so an envelope copied to another customer or platform does not open.
public struct CredentialVault: Sendable {
    public let store: Store
    public let keyRing: KeyRing

    public init(store: Store, keyRing: KeyRing) {
        self.store = store
        self.keyRing = keyRing
    }

    /// Seals and stores a credential (an access token, a bot token, a JSON blob of several secrets).
    public func save(_ secret: [UInt8], customerID: String, platform: String) async throws {
        let key = CredentialKey(customerID: customerID, platform: platform)
        let envelope = try keyRing.seal(secret, for: SealBinding(customerID: customerID, platform: platform))
        try await store.put(.creds, key, envelope)
    }

    /// Reads and opens a credential; nil when the customer has none for the platform.
    public func resolve(customerID: String, platform: String) throws -> [UInt8]? {
        let key = CredentialKey(customerID: customerID, platform: platform)
        guard let envelope = try store.get(.creds, key) else { return nil }
        return try keyRing.open(envelope, for: SealBinding(customerID: customerID, platform: platform))
    }

    /// Deletes a credential; returns whether there was one.
    @discardableResult
    public func remove(customerID: String, platform: String) async throws -> Bool {
        try await store.delete(.creds, CredentialKey(customerID: customerID, platform: platform))
    }

    /// The platforms a customer has credentials for.
    public func platforms(customerID: String) throws -> [String] {
        try store.read { try $0.scan(.creds, prefix: CredentialKey.prefix(customerID: customerID)) }
            .map(\.key.platform)
    }
}

extension CredentialVault: CredentialSource {
    public func credential(customerID: String, platform: String) throws -> [UInt8]? {
        try resolve(customerID: customerID, platform: platform)
    }
}
