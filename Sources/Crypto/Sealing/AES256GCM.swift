/// Plain AES-256-GCM with a caller-chosen nonce: for known-answer tests against published vectors.
///
/// Hermes itself never chooses nonces; it seals through ``KeyRing``, which draws a random nonce.
enum AES256GCM {
    /// Returns ciphertext followed by the 16-byte tag.
    static func seal(
        _ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        precondition(nonce.count == AES256GCMKey.nonceByteCount)
        let aead = try AES256GCMKey(copying: key)
        var sealed = [UInt8](repeating: 0, count: plaintext.count + AES256GCMKey.tagByteCount)
        aead.seal(plaintext, nonce: nonce, associatedData: associatedData, into: &sealed, at: 0)
        return sealed
    }

    /// Returns the plaintext, or `nil` when authentication fails.
    static func open(
        _ sealed: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = []
    ) throws(CryptoError) -> [UInt8]? {
        precondition(nonce.count == AES256GCMKey.nonceByteCount)
        guard sealed.count >= AES256GCMKey.tagByteCount else { return nil }
        let aead = try AES256GCMKey(copying: key)
        return aead.open(sealed, nonce: nonce, associatedData: associatedData)
    }
}
