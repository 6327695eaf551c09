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

    /// The longest plaintext AES-256-GCM can seal under one nonce (about 64 GiB).
    static var maximumPlaintextByteCount: UInt64 { UInt64(crypto_aead_aes256gcm_messagebytes_max()) }

    private let memory: SecureBuffer
    private let state: UnsafePointer<crypto_aead_aes256gcm_state>
    private let keyOffset: Int

    /// Copies 32 key bytes into guarded memory and expands them.
    convenience init(copying key: some Collection<UInt8>) throws(CryptoError) {
        precondition(key.count == Self.keyByteCount, "an AES-256 key is 32 bytes")
        try self.init { keyBytes in
            key.withContiguousBytes { key in keyBytes.update(from: key.baseAddress!, count: Self.keyByteCount) }
        }
    }

    /// A new key from the operating system's secure random source, drawn straight into guarded memory.
    static func random() throws(CryptoError) -> AES256GCMKey {
        try AES256GCMKey { keyBytes in Sodium.fillRandom(keyBytes, count: keyByteCount) }
    }

    /// Sets up the region, lets `writeKey` fill the 32 key bytes in place, and expands them.
    private init(writingKeyWith writeKey: (UnsafeMutablePointer<UInt8>) -> Void) throws(CryptoError) {
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
        writeKey(keyBytes)
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

    /// Encrypts `plaintext` under `nonce` (12 bytes) and writes the ciphertext followed by the 16-byte tag
    /// to `output`, from `offset` on (`plaintext.count + 16` bytes, which `output` must have room for).
    @inline(__always)
    func seal(
        _ plaintext: [UInt8],
        nonce: some Collection<UInt8>,
        associatedData: some Collection<UInt8>,
        into output: inout [UInt8],
        at offset: Int
    ) {
        precondition(nonce.count == Self.nonceByteCount, "an AES-256-GCM nonce is 12 bytes")
        nonce.withContiguousBytes { nonce in
            output.withUnsafeMutableBufferPointer { output in
                seal(plaintext, nonce: nonce.baseAddress!, associatedData: associatedData, into: output, at: offset)
            }
        }
    }

    /// Draws a fresh nonce from the secure random source into `output[nonceOffset ..< nonceOffset + 12]`,
    /// then seals like ``seal(_:nonce:associatedData:into:at:)`` into `output` from `ciphertextOffset` on.
    @inline(__always)
    func sealWithRandomNonce(
        _ plaintext: [UInt8],
        associatedData: some Collection<UInt8>,
        into output: inout [UInt8],
        nonceAt nonceOffset: Int,
        ciphertextAt ciphertextOffset: Int
    ) {
        output.withUnsafeMutableBufferPointer { output in
            precondition(nonceOffset >= 0 && nonceOffset + Self.nonceByteCount <= output.count)
            precondition(nonceOffset + Self.nonceByteCount <= ciphertextOffset, "the nonce overlaps the ciphertext")
            let nonce = output.baseAddress! + nonceOffset
            Sodium.fillRandom(nonce, count: Self.nonceByteCount)
            seal(plaintext, nonce: nonce, associatedData: associatedData, into: output, at: ciphertextOffset)
        }
    }

    @inline(__always)
    private func seal(
        _ plaintext: [UInt8],
        nonce: UnsafePointer<UInt8>,
        associatedData: some Collection<UInt8>,
        into output: UnsafeMutableBufferPointer<UInt8>,
        at offset: Int
    ) {
        precondition(offset >= 0 && offset + plaintext.count + Self.tagByteCount <= output.count)
        plaintext.withUnsafeBufferPointer { plaintext in
            associatedData.withContiguousBytes { associatedData in
                var written: UInt64 = 0
                _ = crypto_aead_aes256gcm_encrypt_afternm(
                    output.baseAddress! + offset, &written,
                    plaintext.baseAddress, UInt64(plaintext.count),
                    associatedData.baseAddress, UInt64(associatedData.count),
                    nil, nonce, state
                )
                assert(written == UInt64(plaintext.count + Self.tagByteCount))
            }
        }
    }

    /// Verifies the tag at the end of `sealed` (ciphertext then 16-byte tag) under `nonce` (12 bytes) and
    /// returns the plaintext; `nil` when the tag does not match or `sealed` is shorter than a tag.
    @inline(__always)
    func open(
        _ sealed: some Collection<UInt8>,
        nonce: some Collection<UInt8>,
        associatedData: some Collection<UInt8>
    ) -> [UInt8]? {
        precondition(nonce.count == Self.nonceByteCount, "an AES-256-GCM nonce is 12 bytes")
        return sealed.withContiguousBytes { sealed in
            nonce.withContiguousBytes { nonce in
                open(sealed, nonce: nonce.baseAddress!, associatedData: associatedData)
            }
        }
    }

    /// Opens what ``sealWithRandomNonce(_:associatedData:into:nonceAt:ciphertextAt:)`` wrote: the nonce at
    /// `nonceOffset` in `envelope`, the ciphertext and tag from `ciphertextOffset` to the end.
    @inline(__always)
    func open(
        _ envelope: [UInt8],
        nonceAt nonceOffset: Int,
        ciphertextAt ciphertextOffset: Int,
        associatedData: some Collection<UInt8>
    ) -> [UInt8]? {
        envelope.withUnsafeBufferPointer { envelope in
            precondition(nonceOffset >= 0 && nonceOffset + Self.nonceByteCount <= ciphertextOffset)
            precondition(ciphertextOffset <= envelope.count)
            return open(
                UnsafeBufferPointer(rebasing: envelope[ciphertextOffset...]), nonce: envelope.baseAddress! + nonceOffset,
                associatedData: associatedData
            )
        }
    }

    @inline(__always)
    private func open(
        _ sealed: UnsafeBufferPointer<UInt8>,
        nonce: UnsafePointer<UInt8>,
        associatedData: some Collection<UInt8>
    ) -> [UInt8]? {
        guard let sealedBase = sealed.baseAddress, sealed.count >= Self.tagByteCount else { return nil }
        let plaintextCount = sealed.count - Self.tagByteCount
        var authentic = false
        // At least one byte, so libsodium gets a real output pointer for an empty plaintext.
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(plaintextCount, 1)) { output, initialized in
            authentic = associatedData.withContiguousBytes { associatedData in
                var written: UInt64 = 0
                return crypto_aead_aes256gcm_decrypt_afternm(
                    output.baseAddress, &written, nil,
                    sealedBase, UInt64(sealed.count),
                    associatedData.baseAddress, UInt64(associatedData.count),
                    nonce, state
                ) == 0
            }
            initialized = authentic ? plaintextCount : 0
        }
        return authentic ? plaintext : nil
    }
}
