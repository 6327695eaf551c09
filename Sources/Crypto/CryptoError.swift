/// An error from the `Crypto` target.
///
/// Compare errors by ``code``; read ``description`` for a message a person can act on. Messages name
/// what went wrong and what to do about it, and never contain key material, plaintext or the text of
/// a rejected key (a key entry is named by its position, never by its value).
///
/// ```swift
/// do {
///     let secret = try ring.open(envelope, for: binding)
/// } catch where error.code == .unknownKeyID {
///     // a key that sealed old credentials was dropped from CREDENTIAL_ENCRYPTION_KEY
/// }
/// ```
public struct CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; match on the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case initializationFailed
            case aesUnavailable
            case secureMemoryUnavailable
            case noKey
            case invalidKey
            case duplicateKey
            case keyFileUnreadable
            case truncatedEnvelope
            case unknownEnvelopeVersion
            case unknownKeyID
            case authenticationFailed
            case plaintextTooLarge
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// libsodium could not initialise (`sodium_init` failed).
        public static var initializationFailed: Self { .init(.initializationFailed) }
        /// The CPU lacks the AES-NI and PCLMUL instructions that libsodium's AES-256-GCM needs.
        public static var aesUnavailable: Self { .init(.aesUnavailable) }
        /// Guarded, locked memory for a key could not be allocated.
        public static var secureMemoryUnavailable: Self { .init(.secureMemoryUnavailable) }
        /// No key was given (empty text, or only comments).
        public static var noKey: Self { .init(.noKey) }
        /// A key is not 32 bytes written as hex or base64.
        public static var invalidKey: Self { .init(.invalidKey) }
        /// The same key appears twice in a key ring.
        public static var duplicateKey: Self { .init(.duplicateKey) }
        /// A key file could not be read.
        public static var keyFileUnreadable: Self { .init(.keyFileUnreadable) }
        /// A sealed envelope is shorter than its header and tag.
        public static var truncatedEnvelope: Self { .init(.truncatedEnvelope) }
        /// A sealed envelope has a format version this build does not know.
        public static var unknownEnvelopeVersion: Self { .init(.unknownEnvelopeVersion) }
        /// The key that sealed an envelope is not in the key ring.
        public static var unknownKeyID: Self { .init(.unknownKeyID) }
        /// An envelope failed authentication: wrong key, tampered data, or another binding.
        public static var authenticationFailed: Self { .init(.authenticationFailed) }
        /// A plaintext is longer than AES-256-GCM can seal in one message.
        public static var plaintextTooLarge: Self { .init(.plaintextTooLarge) }

        public var description: String { value.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    private let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A message that says what went wrong and what to do. It never contains secret material.
    public var description: String { message }

    /// Two errors are equal when their codes are equal; the wording of the message does not count.
    public static func == (lhs: CryptoError, rhs: CryptoError) -> Bool { lhs.code == rhs.code }
}

// MARK: - Constructors (internal: only this target makes these errors)

extension CryptoError {
    static let keyFormatHelp =
        "A key is 32 random bytes written as 64 hex digits or as base64 (standard or URL-safe, padding optional); "
        + "generate one with `openssl rand -hex 32`."

    static func initializationFailed() -> CryptoError {
        CryptoError(
            .initializationFailed,
            "libsodium failed to initialise (sodium_init returned -1), so no cryptography is possible; "
                + "check that the system's random source (getrandom or /dev/urandom) is available."
        )
    }

    static func aesUnavailable() -> CryptoError {
        CryptoError(
            .aesUnavailable,
            "this CPU lacks AES-NI/PCLMUL; Hermes seals credentials with AES-256-GCM and refuses to start without it. "
                + "Run Hermes on an x86-64 CPU with AES-NI and PCLMULQDQ (any from the last decade), "
                + "and if it runs in a virtual machine, pass those CPU flags through to the guest."
        )
    }

    static func secureMemoryUnavailable() -> CryptoError {
        CryptoError(
            .secureMemoryUnavailable,
            "could not allocate guarded memory for a key (sodium_malloc failed); "
                + "the process may be out of memory or address space, or the memory-lock limit is too low "
                + "(raise LimitMEMLOCK= in the systemd unit)."
        )
    }

    static func noKey(in source: KeySource) -> CryptoError {
        let whereText: String
        switch source {
        case .text: whereText = "no credential encryption key was given"
        case .file(let path): whereText = "the key file \(path) holds no key"
        case .bytes: whereText = "no credential encryption key was given"
        }
        return CryptoError(
            .noKey,
            "\(whereText). Set CREDENTIAL_ENCRYPTION_KEY or provide a key file (systemd LoadCredential=). "
                + keyFormatHelp
        )
    }

    /// Why one key entry was rejected. Carries counts only, never the entry's text.
    enum InvalidKeyReason: Sendable {
        /// The entry is made of hex digits, but not 64 of them.
        case hexDigitCount(Int)
        /// The entry is base64 that decodes to this many bytes instead of 32.
        case decodedByteCount(Int)
        /// The entry is neither hex nor base64.
        case notHexOrBase64
        /// Raw bytes of the wrong length were given.
        case byteCount(Int)
        /// An Ed25519 seed of the wrong length was given.
        case ed25519SeedByteCount(Int)
    }

    static func invalidKey(entry: Int?, line: Int? = nil, in source: KeySource, _ reason: InvalidKeyReason)
        -> CryptoError
    {
        var subject: String
        if let entry {
            subject = "credential encryption key entry \(entry)"
            if let line { subject += " (line \(line))" }
        } else {
            subject = "the credential encryption key"
        }
        if case .file(let path) = source { subject += " in key file \(path)" }
        let problem: String
        switch reason {
        case .hexDigitCount(let count):
            problem = "has \(count) hex digits, but a key is 64 hex digits (32 bytes)"
        case .decodedByteCount(let count):
            problem = "is base64 of \(count) bytes, but a key is 32 bytes"
        case .notHexOrBase64:
            problem = "is neither 64 hex digits nor base64 (it has characters that belong to neither)"
        case .byteCount(let count):
            problem = "is \(count) bytes, but a key is 32 bytes"
        case .ed25519SeedByteCount(let count):
            return CryptoError(.invalidKey, "an Ed25519 seed is 32 bytes, but \(count) were given.")
        }
        return CryptoError(.invalidKey, "\(subject) \(problem). \(keyFormatHelp)")
    }

    static func duplicateKey(first: Int, second: Int, keyID: UInt32) -> CryptoError {
        CryptoError(
            .duplicateKey,
            "credential encryption key entries \(first) and \(second) are the same key (id \(KeyIDFormat.hex(keyID))); "
                + "list each key once, the newest first."
        )
    }

    static func keyFileUnreadable(path: String, reason: String) -> CryptoError {
        CryptoError(
            .keyFileUnreadable,
            "cannot read the credential key file \(path): \(reason). Check the path and that the Hermes user may "
                + "read it (with systemd, use LoadCredential= and read it from $CREDENTIALS_DIRECTORY)."
        )
    }

    static func truncatedEnvelope(byteCount: Int) -> CryptoError {
        CryptoError(
            .truncatedEnvelope,
            "the sealed credential is \(byteCount) bytes, shorter than the \(EnvelopeFormat.minimumByteCount) bytes "
                + "of an envelope's header and tag; it was cut short in storage or is not a sealed credential."
        )
    }

    static func unknownEnvelopeVersion(_ version: UInt8) -> CryptoError {
        CryptoError(
            .unknownEnvelopeVersion,
            "the sealed credential has envelope format version \(version), but this Hermes reads only version "
                + "\(EnvelopeFormat.version); a newer Hermes may have written it, so upgrade before opening it."
        )
    }

    static func unknownKeyID(_ keyID: UInt32) -> CryptoError {
        CryptoError(
            .unknownKeyID,
            "the key that sealed this credential (id \(KeyIDFormat.hex(keyID))) is not loaded; "
                + "add it to CREDENTIAL_ENCRYPTION_KEY (after the newest key) and restart."
        )
    }

    static func authenticationFailed() -> CryptoError {
        CryptoError(
            .authenticationFailed,
            "the sealed credential failed authentication: wrong key, tampered data, "
                + "or the blob belongs to another customer/platform."
        )
    }

    static func plaintextTooLarge(byteCount: Int) -> CryptoError {
        CryptoError(
            .plaintextTooLarge,
            "cannot seal \(byteCount) bytes in one AES-256-GCM message; split the data or store it elsewhere."
        )
    }
}

/// Where key text came from, for error messages (a file's path is not secret; its contents are).
enum KeySource: Sendable {
    case text
    case file(path: String)
    case bytes
}

/// Formats key ids the same way everywhere: `0x` and eight lowercase hex digits.
enum KeyIDFormat {
    static func hex(_ id: UInt32) -> String {
        let digits = String(id, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
