import CSodium

/// libsodium's Ed25519 (`crypto_sign_*`).
extension Sodium {
    /// Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`
    /// (`crypto_sign_verify_detached`, which also rejects non-canonical signatures and small-order keys).
    /// Arguments of the wrong length give `false`.
    static func ed25519IsValidSignature(
        _ signature: some Collection<UInt8>, message: some Collection<UInt8>, publicKey: some Collection<UInt8>
    ) -> Bool {
        ensureInitialized()
        return signature.withContiguousBytes { signature in
            message.withContiguousBytes { message in
                publicKey.withContiguousBytes { publicKey in
                    guard signature.count == Int(crypto_sign_BYTES), publicKey.count == Int(crypto_sign_PUBLICKEYBYTES)
                    else { return false }
                    return crypto_sign_verify_detached(
                        signature.baseAddress!, message.baseAddress, UInt64(message.count), publicKey.baseAddress!
                    ) == 0
                }
            }
        }
    }
}

/// An Ed25519 secret key in libsodium's form (seed and public key), in guarded memory, read-only once
/// derived.
final class Ed25519SecretKey: Sendable {
    private let memory: SecureBuffer
    /// The 32-byte public key.
    let publicKey: [UInt8]

    /// Derives the key pair from a 32-byte seed.
    init(seed: some Collection<UInt8>) throws(CryptoError) {
        precondition(seed.count == Int(crypto_sign_SEEDBYTES), "an Ed25519 seed is 32 bytes")
        let memory = try SecureBuffer(count: Int(crypto_sign_secretkeybytes()))
        var publicKey = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        seed.withContiguousBytes { seed in
            _ = crypto_sign_seed_keypair(&publicKey, memory.bytes, seed.baseAddress!)
        }
        memory.makeReadOnly()
        self.memory = memory
        self.publicKey = publicKey
    }

    /// The 64-byte signature of `message` (`crypto_sign_detached`).
    func signature(for message: some Collection<UInt8>) -> [UInt8] {
        let byteCount = Int(crypto_sign_BYTES)
        return message.withContiguousBytes { message in
            [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
                _ = crypto_sign_detached(
                    output.baseAddress!, nil, message.baseAddress, UInt64(message.count), memory.bytes
                )
                initialized = byteCount
            }
        }
    }
}
