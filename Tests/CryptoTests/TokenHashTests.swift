import Foundation
import Testing

@testable import Crypto

@Suite("Tokens, hashes, comparisons and start-up")
struct TokenHashTests {
    @Test("ConstantTime.equals compares contents and lengths")
    func constantTimeEquals() {
        let a: [UInt8] = [1, 2, 3, 4, 5]
        #expect(ConstantTime.equals(a, [1, 2, 3, 4, 5]))
        #expect(!ConstantTime.equals(a, [1, 2, 3, 4, 6]))
        #expect(!ConstantTime.equals(a, [0, 2, 3, 4, 5]))
        #expect(!ConstantTime.equals(a, [1, 2, 3, 4]))
        #expect(!ConstantTime.equals(a, a + [0]))
        #expect(!ConstantTime.equals(a, []))
        #expect(!ConstantTime.equals([], a))
        #expect(ConstantTime.equals(utf8: "key-é", Array("key-é".utf8)))
        #expect(ConstantTime.equals(utf8: String(repeating: "k", count: 64), Array(repeating: UInt8(ascii: "k"), count: 64)))
        #expect(!ConstantTime.equals(utf8: "key-e", Array("key-é".utf8)))
        #expect(!ConstantTime.equals(utf8: "key", Array("kez".utf8)))
        #expect(!ConstantTime.equals(utf8: "key", []))
        #expect(ConstantTime.equals(utf8: "", []))
        #expect(ConstantTime.equals([], []))
    }

    @Test("urlSafe tokens are 43 base64url characters for 32 bytes, and decode back to 32 bytes")
    func tokenFormat() throws {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for _ in 0..<100 {
            let token = RandomToken.urlSafe()
            #expect(token.count == 43)
            #expect(token.allSatisfy(allowed.contains))
            // Decode with Foundation (independent implementation): restore the standard alphabet and padding.
            let standard = token.replacingOccurrences(of: "-", with: "+")
                .replacingOccurrences(of: "_", with: "/") + "="
            #expect(try #require(Data(base64Encoded: standard)).count == 32)
        }
        #expect(RandomToken.urlSafe(byteCount: 16).count == 22)
        #expect(RandomToken.urlSafe(byteCount: 1).count == 2)
        #expect(RandomToken.urlSafe(byteCount: 0) == "")
    }

    @Test("tokens and random bytes do not repeat")
    func tokenUniqueness() {
        let tokens = (0..<2000).map { _ in RandomToken.urlSafe() }
        #expect(Set(tokens).count == tokens.count)
        let short = (0..<200).map { _ in RandomToken.bytes(count: 16) }
        #expect(Set(short).count == short.count)
        #expect(RandomToken.bytes(count: 64).count == 64)
        #expect(RandomToken.bytes(count: 0).isEmpty)
        // 4 KiB of random bytes hit every byte value (a stuck or zero generator would not).
        #expect(Set(RandomToken.bytes(count: 4096)).count == 256)
    }

    @Test("APIKeyHash is keyed BLAKE2b-256 under hermes.apikey.v1: stable, distinct, 32 bytes")
    func apiKeyHash() {
        // Expected values from Python: hashlib.blake2b(data, key=b"hermes.apikey.v1", digest_size=32).
        #expect(
            APIKeyHash.hexDigest(of: "hk_live_example-key")
                == "002d5cbb58db71618fe5f68f1fcd81017dfcbb76d1193eaaf4b25587baae42db"
        )
        #expect(
            APIKeyHash.hexDigest(of: "") == "87ef65e5f4aac134014235fa8932b77f5e8cb38df0e67c105a1273e2b8d99f25"
        )
        let key = RandomToken.urlSafe()
        #expect(APIKeyHash.digest(of: key) == APIKeyHash.digest(of: key))
        #expect(APIKeyHash.digest(of: key).count == 32)
        #expect(APIKeyHash.digest(of: key) != APIKeyHash.digest(of: key + "x"))
        #expect(APIKeyHash.hexDigest(of: key) == hex(APIKeyHash.digest(of: key)))
        #expect(APIKeyHash.digest(of: key) == SecretHash.apiKey.digest(of: utf8(key)))
    }

    @Test("SecretHash domains separate uses")
    func domainSeparation() {
        let token = RandomToken.urlSafe()
        let oauth = SecretHash(domain: "hermes.oauth-token.v1")
        #expect(oauth.digest(of: token) != APIKeyHash.digest(of: token))
        #expect(oauth.digest(of: token) == oauth.digest(of: token))
        #expect(oauth.hexDigest(of: token).count == 64)
    }

    @Test("initialize succeeds on this machine and is idempotent; version is libsodium's")
    func library() throws {
        try CryptoLibrary.initialize()
        try CryptoLibrary.initialize()
        #expect(CryptoLibrary.isAES256GCMAvailable)
        #expect(CryptoLibrary.version.split(separator: ".").count == 3)
    }

    @Test("initialize from many tasks at once")
    func concurrentInitialize() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask { try CryptoLibrary.initialize() }
            }
            try await group.waitForAll()
        }
    }

    @Test("errors compare by code and carry an actionable message")
    func errors() {
        #expect(CryptoError.aesUnavailable() == CryptoError.aesUnavailable())
        #expect(CryptoError.unknownKeyID(1) == CryptoError.unknownKeyID(2))
        #expect(CryptoError.unknownKeyID(1) != CryptoError.authenticationFailed())
        #expect(
            CryptoError.aesUnavailable().description.hasPrefix(
                "this CPU lacks AES-NI/PCLMUL; "
                    + "Hermes seals credentials with AES-256-GCM and refuses to start without it"
            )
        )
        #expect(CryptoError.unknownKeyID(0xabc).description.contains("id 0x00000abc"))
        #expect(CryptoError.Code.truncatedEnvelope.description == "truncatedEnvelope")
    }

    @Test("a ring seals and opens from many tasks at once")
    func concurrentSealing() async throws {
        let ring = try KeyRing.generate()
        let binding = SealBinding(customerID: "cus_concurrent", platform: "telegram")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<200 {
                        let plaintext = utf8("task \(task) credential \(index)")
                        let envelope = try ring.seal(plaintext, for: binding)
                        #expect(try ring.open(envelope, for: binding) == plaintext)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
