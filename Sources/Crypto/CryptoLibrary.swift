import CSodium

/// Start-up checks for the cryptography that Hermes depends on.
///
/// Call ``initialize()`` once at start, before serving anything: it initialises libsodium and refuses
/// to go on when the CPU cannot run AES-256-GCM, so the daemon fails at boot with a clear message rather
/// than at the first credential it tries to seal. Every other API in this target initialises libsodium
/// on first use as well, so calling `initialize()` is about the early, readable failure, not about order.
public enum CryptoLibrary {
    /// Initialises libsodium and checks that AES-256-GCM is available.
    ///
    /// Idempotent and safe to call from several threads at once.
    ///
    /// - Throws: ``CryptoError/Code/initializationFailed`` if libsodium cannot start, or
    ///   ``CryptoError/Code/aesUnavailable`` if the CPU lacks AES-NI/PCLMUL.
    public static func initialize() throws(CryptoError) {
        try Sodium.requireAES256GCM()
    }

    /// Whether this CPU can run libsodium's AES-256-GCM (AES-NI and PCLMUL present).
    public static var isAES256GCMAvailable: Bool {
        Sodium.isInitialized && Sodium.isAES256GCMAvailable
    }

    /// The version of the libsodium library loaded at run time, for example `1.0.18`.
    public static var version: String {
        String(cString: sodium_version_string())
    }
}

/// The one place that starts libsodium.
///
/// `sodium_init` is idempotent and thread-safe, but it takes a lock on every call; the result is kept in
/// a `static let`, which Swift initialises exactly once, thread-safely, so hot paths pay one load.
enum Sodium {
    private static let initResult: Int32 = sodium_init()

    /// Read after `initResult`, because libsodium detects CPU features inside `sodium_init`.
    private static let aesAvailable: Bool = initResult >= 0 && crypto_aead_aes256gcm_is_available() == 1

    static var isInitialized: Bool { initResult >= 0 }

    static var isAES256GCMAvailable: Bool { aesAvailable }

    /// Initialises libsodium for APIs that cannot throw (hashing, HMAC, random tokens).
    ///
    /// `sodium_init` fails only when the system has no random source, and then nothing here can work.
    static func ensureInitialized() {
        precondition(initResult >= 0, CryptoError.initializationFailed().description)
    }

    /// Initialises libsodium and checks AES-256-GCM, for APIs that can report the failure.
    static func requireAES256GCM() throws(CryptoError) {
        guard initResult >= 0 else { throw .initializationFailed() }
        guard aesAvailable else { throw .aesUnavailable() }
    }
}
