import CSodium

/// The one place that starts libsodium.
///
/// The files in this folder are the only ones in the target that import `CSodium`, one per family of
/// primitives: `AEAD` (AES-256-GCM), `Hashing` (SHA-256, BLAKE2b, HMAC-SHA-256), `Signatures` (Ed25519),
/// `Memory` (guarded memory, wiping, constant-time comparison, random bytes) and `Codecs` (hex, base64).
/// Each takes and returns Swift values and keeps the pointer handling to itself, so the rest of the
/// target is written without C calls.
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
    @inline(__always)
    static func ensureInitialized() {
        precondition(initResult >= 0, CryptoError.initializationFailed().description)
    }

    /// Initialises libsodium and checks AES-256-GCM, for APIs that can report the failure.
    static func requireAES256GCM() throws(CryptoError) {
        guard initResult >= 0 else { throw .initializationFailed() }
        guard aesAvailable else { throw .aesUnavailable() }
    }

    /// The version of the libsodium library loaded at run time, for example `1.0.18`.
    static var versionString: String {
        String(cString: sodium_version_string())
    }
}

extension Collection<UInt8> {
    /// Calls `body` with the bytes in contiguous memory: in place for arrays, slices, buffers and the UTF-8
    /// view of a native string, through a temporary copy for anything else.
    ///
    /// The wrappers in this folder take `some Collection<UInt8>` and reach the C calls through this, so
    /// callers pass `[UInt8]`, `string.utf8` or a slice without handling pointers themselves.
    @inline(__always)
    func withContiguousBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = withContiguousStorageIfAvailable(body) { return result }
        return Array(self).withUnsafeBufferPointer(body)
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// The start of the bytes, or of a dummy byte when there are none: several libsodium parameters are
    /// declared `nonnull` even when their length is 0, and an empty buffer has no base address.
    @inline(__always)
    func withNonNullBase<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        if let base = baseAddress, count > 0 { return body(base) }
        var dummy: UInt8 = 0
        return withUnsafePointer(to: &dummy) { body($0) }
    }
}
