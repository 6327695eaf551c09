/// Ed25519 signatures (RFC 8032), as Discord uses to sign interaction webhooks.
///
/// Verification is libsodium's `crypto_sign_verify_detached`, which also rejects non-canonical
/// signatures and small-order public keys.
public enum Ed25519 {
    /// The length of a public key in bytes.
    public static let publicKeyByteCount = 32
    /// The length of a signature in bytes.
    public static let signatureByteCount = 64
    /// The length of a private key seed in bytes.
    public static let seedByteCount = 32

    /// Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`.
    /// Arguments of the wrong length give `false`.
    public static func isValidSignature(_ signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == signatureByteCount, publicKey.count == publicKeyByteCount else { return false }
        return Sodium.ed25519IsValidSignature(signature, message: message, publicKey: publicKey)
    }

    /// Whether `signatureHex` (128 hex digits) is a valid signature of `message` by the key in
    /// `publicKeyHex` (64 hex digits). Either case is accepted; malformed hex gives `false`.
    ///
    /// For a Discord interaction, the signature is the `X-Signature-Ed25519` header, the message is the
    /// `X-Signature-Timestamp` header's bytes followed by the raw body, and the key is the application's
    /// public key from the developer portal.
    public static func isValidSignature(hex signatureHex: String, message: [UInt8], publicKeyHex: String) -> Bool {
        guard signatureHex.utf8.count == signatureByteCount * 2, publicKeyHex.utf8.count == publicKeyByteCount * 2,
            let signature = Hex.decode(signatureHex), let publicKey = Hex.decode(publicKeyHex)
        else { return false }
        return isValidSignature(signature, message: message, publicKey: publicKey)
    }

    /// An Ed25519 private key, in guarded memory: for signing in tests and in faithful platform fakes
    /// (a fake Discord signs the interactions it sends).
    public struct SigningKey: Sendable, CustomStringConvertible {
        private let secretKey: Ed25519SecretKey
        /// The 32-byte public key.
        public let publicKey: [UInt8]

        /// Derives the key pair from a 32-byte seed (the "secret key" of RFC 8032).
        ///
        /// - Throws: ``CryptoError/Code/invalidKey`` unless `seed` has 32 bytes.
        public init(seed: [UInt8]) throws(CryptoError) {
            guard seed.count == seedByteCount else {
                throw .invalidKey(entry: nil, in: .bytes, .ed25519SeedByteCount(seed.count))
            }
            let secretKey = try Ed25519SecretKey(seed: seed)
            self.secretKey = secretKey
            self.publicKey = secretKey.publicKey
        }

        /// Generates a new random key pair.
        public static func generate() -> SigningKey {
            var seed = RandomToken.bytes(count: seedByteCount)
            defer { wipe(&seed) }
            // A 32-byte seed cannot be rejected; a failure here is a failed allocation of guarded memory.
            do {
                return try SigningKey(seed: seed)
            } catch {
                preconditionFailure(error.description)
            }
        }

        /// The public key as 64 lowercase hex digits, as Discord shows it.
        public var publicKeyHex: String { Hex.encode(publicKey) }

        /// The 64-byte signature of `message`.
        public func signature(for message: [UInt8]) -> [UInt8] {
            secretKey.signature(for: message)
        }

        /// Shows the public key only.
        public var description: String { "Ed25519.SigningKey(publicKey: \(publicKeyHex))" }
    }
}
