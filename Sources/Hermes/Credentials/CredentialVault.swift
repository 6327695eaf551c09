import Tenancy
package import Crypto
package import Store

/// Stores each customer's platform credentials sealed under the key ring, opens them on use, and
/// re-seals them when the master key rotates.
///
/// A credential is bound to its place: the envelope's associated data names the customer and the platform,
/// so an envelope copied to another customer or platform does not open.
package struct CredentialVault: Sendable {
    package let store: Store
    package let keyRing: KeyRing

    package init(store: Store, keyRing: KeyRing) {
        self.store = store
        self.keyRing = keyRing
    }

    /// Seals and stores a credential (an access token, a bot token, a JSON blob of several secrets).
    package func save(_ secret: [UInt8], customerID: String, platform: String) async throws {
        let key = CredentialKey(customerID: customerID, platform: platform)
        let envelope = try keyRing.seal(secret, for: SealBinding(customerID: customerID, platform: platform))
        try await store.put(.creds, key, envelope)
    }

    /// Reads and opens a credential; nil when the customer has none for the platform.
    package func resolve(customerID: String, platform: String) throws -> [UInt8]? {
        let key = CredentialKey(customerID: customerID, platform: platform)
        guard let envelope = try store.get(.creds, key) else { return nil }
        return try keyRing.open(envelope, for: SealBinding(customerID: customerID, platform: platform))
    }

    /// Deletes a credential; returns whether there was one.
    @discardableResult
    package func remove(customerID: String, platform: String) async throws -> Bool {
        try await store.delete(.creds, CredentialKey(customerID: customerID, platform: platform))
    }

    /// The platforms a customer has credentials for.
    package func platforms(customerID: String) throws -> [String] {
        try store.read { try $0.scan(.creds, prefix: CredentialKey.prefix(customerID: customerID)) }
            .map(\.key.platform)
    }
}

extension CredentialVault: CredentialSource {
    package func credential(customerID: String, platform: String) throws -> [UInt8]? {
        try resolve(customerID: customerID, platform: platform)
    }
}
