import Crypto
import Foundation
import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Store
import Testing

func temporaryStore(_ name: String = #function) throws -> Store {
    let path = FileManager.default.temporaryDirectory.path + "/hermes-tests/\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
    return try Store(StoreConfiguration(location: .directory(path), mapSize: 64 << 20))
}

@Suite("Credential vault")
struct CredentialVaultTests {
    init() throws { try CryptoLibrary.initialize() }

    @Test func savesSealedAndResolvesOpened() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        let vault = CredentialVault(store: store, keyRing: try KeyRing.generate())
        let secret = Array("bot-token-123:ABC".utf8)
        try await vault.save(secret, customerID: "cus_a", platform: "telegram")
        #expect(try vault.resolve(customerID: "cus_a", platform: "telegram") == secret)
        #expect(try vault.resolve(customerID: "cus_b", platform: "telegram") == nil)
        // What is stored is the envelope, never the secret.
        let stored = try #require(try store.get(.creds, CredentialKey(customerID: "cus_a", platform: "telegram")))
        #expect(stored != secret)
        #expect(!String(decoding: stored, as: UTF8.self).contains("bot-token"))
        #expect(try vault.platforms(customerID: "cus_a") == ["telegram"])
        #expect(try await vault.remove(customerID: "cus_a", platform: "telegram"))
        #expect(try vault.resolve(customerID: "cus_a", platform: "telegram") == nil)
    }

    @Test func anEnvelopeCopiedToAnotherCustomerDoesNotOpen() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        let vault = CredentialVault(store: store, keyRing: try KeyRing.generate())
        try await vault.save(Array("secret-of-a".utf8), customerID: "cus_a", platform: "discord")
        let envelope = try #require(try store.get(.creds, CredentialKey(customerID: "cus_a", platform: "discord")))
        try await store.put(.creds, CredentialKey(customerID: "cus_b", platform: "discord"), envelope)
        try await store.put(.creds, CredentialKey(customerID: "cus_a", platform: "x"), envelope)
        #expect { try vault.resolve(customerID: "cus_b", platform: "discord") } throws: { ($0 as? CryptoError)?.code == .authenticationFailed }
        #expect { try vault.resolve(customerID: "cus_a", platform: "x") } throws: { ($0 as? CryptoError)?.code == .authenticationFailed }
    }

    @Test func aWrongKeyGivesAClearErrorNeverGarbage() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        try await CredentialVault(store: store, keyRing: try KeyRing.generate()).save([1, 2, 3], customerID: "c", platform: "x")
        let other = CredentialVault(store: store, keyRing: try KeyRing.generate())
        #expect { try other.resolve(customerID: "c", platform: "x") } throws: { error in
            guard let error = error as? CryptoError else { return false }
            return error.code == .unknownKeyID && error.description.contains("CREDENTIAL_ENCRYPTION_KEY")
        }
    }
}

@Suite("Key rotation")
struct KeyRotationTests {
    init() throws { try CryptoLibrary.initialize() }

    @Test func rotationResealsEveryCredentialUnderTheNewestKey() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        let old = try MasterKey.generate()
        let new = try MasterKey.generate()
        let before = CredentialVault(store: store, keyRing: KeyRing(old))
        for index in 0..<700 {
            try await before.save(Array("secret-\(index)".utf8), customerID: "cus_\(index % 37)", platform: "p\(index)")
        }
        let both = CredentialVault(store: store, keyRing: try KeyRing(keys: [new, old]))
        let report = try await both.rotate(batchSize: 64)
        #expect(report == RotationReport(resealed: 700, alreadyCurrent: 0, finished: true))

        let onlyNew = CredentialVault(store: store, keyRing: KeyRing(new))
        for index in 0..<700 {
            #expect(try onlyNew.resolve(customerID: "cus_\(index % 37)", platform: "p\(index)") == Array("secret-\(index)".utf8))
        }
        let again = try await both.rotate(batchSize: 64)
        #expect(again == RotationReport(resealed: 0, alreadyCurrent: 700, finished: true))
    }

    @Test func anInterruptedRotationResumesWhereItStopped() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        let old = try MasterKey.generate()
        let new = try MasterKey.generate()
        let before = CredentialVault(store: store, keyRing: KeyRing(old))
        for index in 0..<500 {
            try await before.save(Array("s\(index)".utf8), customerID: "c\(index)", platform: "telegram")
        }
        let both = CredentialVault(store: store, keyRing: try KeyRing(keys: [new, old]))
        // Stop after three batches, as a process killed between batches would.
        let partial = try await both.rotate(batchSize: 50, maximumBatches: 3)
        #expect(partial == RotationReport(resealed: 150, alreadyCurrent: 0, finished: false))
        #expect(try store.get(.meta, "rotation.cursor") != nil)
        let resealedSoFar = try store.read { txn in
            try txn.scan(.creds).filter { both.keyRing.isSealedWithNewestKey($0.value) }.count
        }
        #expect(resealedSoFar == 150)

        let rest = try await both.rotate(batchSize: 50)
        // It continued after the saved cursor: nothing already re-sealed was visited again.
        #expect(rest == RotationReport(resealed: 350, alreadyCurrent: 0, finished: true))
        #expect(try store.get(.meta, "rotation.cursor") == nil)
        let onlyNew = CredentialVault(store: store, keyRing: KeyRing(new))
        for index in 0..<500 {
            #expect(try onlyNew.resolve(customerID: "c\(index)", platform: "telegram") == Array("s\(index)".utf8))
        }
    }

    @Test func aCredentialSealedWithAnUnloadedKeyStopsRotationWithoutLoss() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        let lost = try MasterKey.generate()
        try await CredentialVault(store: store, keyRing: KeyRing(lost)).save([7], customerID: "c1", platform: "x")
        let ring = try KeyRing(keys: [try MasterKey.generate(), try MasterKey.generate()])
        await #expect { try await CredentialVault(store: store, keyRing: ring).rotate() } throws: { error in
            guard let error = error as? RotationError else { return false }
            return error.customerID == "c1" && error.platform == "x"
        }
        #expect(try CredentialVault(store: store, keyRing: KeyRing(lost)).resolve(customerID: "c1", platform: "x") == [7])
    }
}
