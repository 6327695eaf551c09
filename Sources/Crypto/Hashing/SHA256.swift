import CSodium

/// SHA-256 (FIPS 180-4) through libsodium's `crypto_hash_sha256`.
///
/// For protocols that name SHA-256 itself, such as the PKCE `S256` code challenge (RFC 7636). To store
/// secrets by hash use ``SecretHash``, which is keyed per purpose.
public enum SHA256 {
    /// The length of a digest in bytes.
    public static let byteCount = 32

    /// The digest of `message`.
    public static func digest(_ message: some Collection<UInt8>) -> [UInt8] {
        Sodium.ensureInitialized()
        let hashed: [UInt8]? = message.withContiguousStorageIfAvailable { digest(of: $0) }
        return hashed ?? Array(message).withUnsafeBufferPointer { digest(of: $0) }
    }

    /// The digest of the UTF-8 bytes of `text`.
    public static func digest(of text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { digest(of: $0) }
    }

    private static func digest(of message: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        Sodium.ensureInitialized()
        return [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
            _ = crypto_hash_sha256(output.baseAddress!, message.baseAddress, UInt64(message.count))
            initialized = byteCount
        }
    }
}
