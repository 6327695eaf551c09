/// A fast, domain-separated hash of a high-entropy secret, for storing and looking up secrets by hash.
///
/// The digest is keyed BLAKE2b-256 (`crypto_generichash`) whose key is a fixed, public domain string, so
/// digests made for one purpose (API keys) never equal digests of the same text for another (OAuth
/// tokens). The domain is not a secret pepper; it only separates uses.
///
/// Why not a password hash such as Argon2: a password hash is slow on purpose, to make guessing
/// low-entropy human passwords expensive. API keys and tokens here are 256 random bits
/// (``RandomToken/urlSafe(byteCount:)``), so guessing is hopeless at any speed, and every request must
/// hash the key it presents to find its owner: a fast hash is the right tool, a slow one a self-inflicted
/// denial of service. Do not use this for passwords a person chose.
public struct SecretHash: Sendable, Hashable {
    /// The length of a digest in bytes.
    public static let byteCount = 32

    /// The hash for API keys, domain `hermes.apikey.v1`.
    public static let apiKey = SecretHash(domain: "hermes.apikey.v1")

    /// The domain string that keys the hash.
    public let domain: String

    /// A hash for one purpose. `domain` is a fixed ASCII string of 1 to 64 bytes, versioned
    /// (`hermes.oauth-token.v1`), never derived from input.
    public init(domain: String) {
        precondition(
            (1...64).contains(domain.utf8.count), "a SecretHash domain is 1 to 64 bytes (BLAKE2b's key size)"
        )
        self.domain = domain
    }

    /// The 32-byte digest of the UTF-8 bytes of `secret`.
    public func digest(of secret: String) -> [UInt8] {
        Sodium.blake2b(secret.utf8, key: domain.utf8, byteCount: Self.byteCount)
    }

    /// The 32-byte digest of `secret`.
    public func digest(of secret: [UInt8]) -> [UInt8] {
        Sodium.blake2b(secret, key: domain.utf8, byteCount: Self.byteCount)
    }

    /// The digest of `secret` as 64 lowercase hex digits, for use as a storage key.
    public func hexDigest(of secret: String) -> String {
        Hex.encode(digest(of: secret))
    }
}

/// Hashes API keys for storage: the `apikey` keyspace is keyed by this digest, never by the key.
///
/// See ``SecretHash`` for the construction and for why a fast hash is right for random API keys.
public enum APIKeyHash {
    /// The 32-byte digest of an API key.
    public static func digest(of apiKey: String) -> [UInt8] {
        SecretHash.apiKey.digest(of: apiKey)
    }

    /// The digest of an API key as 64 lowercase hex digits.
    public static func hexDigest(of apiKey: String) -> String {
        SecretHash.apiKey.hexDigest(of: apiKey)
    }
}
