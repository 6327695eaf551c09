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
        Sodium.versionString
    }
}
