import CSodium

/// An AES-256 key and its expanded AES-256-GCM state (round keys and GHASH powers), in guarded memory.
///
/// The state is computed once with `crypto_aead_aes256gcm_beforenm`, so sealing and opening
/// (`crypto_aead_aes256gcm_encrypt_afternm` / `decrypt_afternm`) skip the key schedule on every call.
///
/// Layout of the `sodium_malloc` region: the 512-byte state first (it must be 16-byte aligned, and the
/// region's size is a multiple of 16, which makes its start 16-byte aligned), then the 32 key bytes.
/// The region is read-only once set up.
///
/// `@unchecked Sendable`: everything is written in `init`, before the object is shared, and is read-only
/// afterwards (enforced by `mprotect`); libsodium's `*_afternm` functions only read the state.
final class AES256GCMKey: @unchecked Sendable {
    static let keyByteCount = 32
    static let nonceByteCount = 12
    static let tagByteCount = 16

    private let memory: SecureBuffer
    private let state: UnsafePointer<crypto_aead_aes256gcm_state>
    private let keyOffset: Int

    /// Copies 32 key bytes into guarded memory and expands them.
    init(copying key: UnsafeBufferPointer<UInt8>) throws(CryptoError) {
        precondition(key.count == Self.keyByteCount, "an AES-256 key is 32 bytes")
        try Sodium.requireAES256GCM()

        let alignment = max(16, MemoryLayout<crypto_aead_aes256gcm_state>.alignment)
        let stateSize = max(crypto_aead_aes256gcm_statebytes(), MemoryLayout<crypto_aead_aes256gcm_state>.size)
        let stateStride = (stateSize + alignment - 1) / alignment * alignment
        let memory = try SecureBuffer(count: stateStride + Self.keyByteCount)
        guard Int(bitPattern: memory.base) % alignment == 0 else {
            // sodium_malloc's placement makes this impossible; refuse rather than fault inside AES-NI code.
            throw .secureMemoryUnavailable()
        }

        let keyBytes = memory.bytes + stateStride
        keyBytes.update(from: key.baseAddress!, count: Self.keyByteCount)
        let state = memory.base.bindMemory(to: crypto_aead_aes256gcm_state.self, capacity: 1)
        _ = crypto_aead_aes256gcm_beforenm(state, keyBytes)
        memory.makeReadOnly()

        self.memory = memory
        self.state = UnsafePointer(state)
        self.keyOffset = stateStride
    }

    /// The raw key bytes, for deriving the key id, comparing keys, and exporting a key on request.
    func withKeyBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        body(UnsafeBufferPointer(start: memory.bytes + keyOffset, count: Self.keyByteCount))
    }

    /// Encrypts `plaintext` and writes ciphertext followed by the 16-byte tag to `output`, which must
    /// hold `plaintext.count + 16` bytes and must not overlap the inputs.
    func seal(
        _ plaintext: UnsafeBufferPointer<UInt8>,
        nonce: UnsafePointer<UInt8>,
        associatedData: UnsafeBufferPointer<UInt8>,
        into output: UnsafeMutablePointer<UInt8>
    ) {
        var written: UInt64 = 0
        _ = crypto_aead_aes256gcm_encrypt_afternm(
            output, &written,
            plaintext.baseAddress, UInt64(plaintext.count),
            associatedData.baseAddress, UInt64(associatedData.count),
            nil, nonce, state
        )
        assert(written == UInt64(plaintext.count + Self.tagByteCount))
    }

    /// Verifies the tag at the end of `sealed` and decrypts into `output` (`sealed.count - 16` bytes).
    /// Returns `false`, with `output` zeroed by libsodium, when the tag does not match.
    func open(
        _ sealed: UnsafeBufferPointer<UInt8>,
        nonce: UnsafePointer<UInt8>,
        associatedData: UnsafeBufferPointer<UInt8>,
        into output: UnsafeMutablePointer<UInt8>?
    ) -> Bool {
        guard let sealedBase = sealed.baseAddress, sealed.count >= Self.tagByteCount else { return false }
        var written: UInt64 = 0
        let status = crypto_aead_aes256gcm_decrypt_afternm(
            output, &written, nil,
            sealedBase, UInt64(sealed.count),
            associatedData.baseAddress, UInt64(associatedData.count),
            nonce, state
        )
        return status == 0
    }
}

/// Plain AES-256-GCM with a caller-chosen nonce: for known-answer tests against published vectors.
///
/// Hermes itself never chooses nonces; it seals through ``KeyRing``, which draws a random nonce.
enum AES256GCM {
    /// Returns ciphertext followed by the 16-byte tag.
    static func seal(
        _ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        precondition(nonce.count == AES256GCMKey.nonceByteCount)
        let aead = try key.withUnsafeBufferPointer { (key) throws(CryptoError) in try AES256GCMKey(copying: key) }
        return [UInt8](unsafeUninitializedCapacity: plaintext.count + AES256GCMKey.tagByteCount) { output, count in
            plaintext.withUnsafeBufferPointer { plaintext in
                nonce.withUnsafeBufferPointer { nonce in
                    associatedData.withUnsafeBufferPointer { associatedData in
                        aead.seal(plaintext, nonce: nonce.baseAddress!, associatedData: associatedData,
                                  into: output.baseAddress!)
                    }
                }
            }
            count = plaintext.count + AES256GCMKey.tagByteCount
        }
    }

    /// Returns the plaintext, or `nil` when authentication fails.
    static func open(
        _ sealed: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = []
    ) throws(CryptoError) -> [UInt8]? {
        precondition(nonce.count == AES256GCMKey.nonceByteCount)
        guard sealed.count >= AES256GCMKey.tagByteCount else { return nil }
        let aead = try key.withUnsafeBufferPointer { (key) throws(CryptoError) in try AES256GCMKey(copying: key) }
        let plaintextCount = sealed.count - AES256GCMKey.tagByteCount
        var authentic = false
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(plaintextCount, 1)) { output, count in
            authentic = sealed.withUnsafeBufferPointer { sealed in
                nonce.withUnsafeBufferPointer { nonce in
                    associatedData.withUnsafeBufferPointer { associatedData in
                        aead.open(sealed, nonce: nonce.baseAddress!, associatedData: associatedData,
                                  into: output.baseAddress!)
                    }
                }
            }
            count = authentic ? plaintextCount : 0
        }
        return authentic ? plaintext : nil
    }
}
