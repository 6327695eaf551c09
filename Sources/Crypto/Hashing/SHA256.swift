/// SHA-256 (FIPS 180-4) through libsodium's `crypto_hash_sha256`.
///
/// For protocols that name SHA-256 itself, such as the PKCE `S256` code challenge (RFC 7636). To store
/// secrets by hash use ``SecretHash``, which is keyed per purpose.
public enum SHA256 {
    /// The length of a digest in bytes.
    public static let byteCount = 32

    /// The digest of `message`.
    public static func digest(_ message: some Collection<UInt8>) -> [UInt8] {
        Sodium.sha256(message)
    }

    /// The digest of the UTF-8 bytes of `text`.
    public static func digest(of text: String) -> [UInt8] {
        Sodium.sha256(text.utf8)
    }
}
