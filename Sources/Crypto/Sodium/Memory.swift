import CSodium

/// Memory for secrets, from `sodium_malloc`.
///
/// The region sits just before a guard page (an overrun faults instead of reading a neighbour), behind a
/// canary, is locked into RAM (`mlock`, so it is never swapped out) and excluded from core dumps
/// (`MADV_DONTDUMP`). It is zeroed and released on `deinit`.
///
/// `sodium_malloc` places the region so that it ends on a page boundary, so the start is aligned to the
/// largest power of two that divides `count`: callers that need 16-byte alignment ask for a multiple of 16.
///
/// Only the wrappers in this folder hold one (``AES256GCMKey``, ``Ed25519SecretKey``).
///
/// `@unchecked Sendable`: the contents are written only during the owner's initialiser, before the buffer
/// is shared; after ``makeReadOnly()`` the pages are read-only and any write would fault.
final class SecureBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) throws(CryptoError) {
        precondition(count > 0)
        Sodium.ensureInitialized()
        guard let base = sodium_malloc(count) else { throw .secureMemoryUnavailable() }
        self.base = base
        self.count = count
    }

    /// Makes the region read-only; later writes crash instead of corrupting a key.
    func makeReadOnly() {
        _ = sodium_mprotect_readonly(base)
    }

    /// The region viewed as bytes.
    var bytes: UnsafeMutablePointer<UInt8> {
        base.assumingMemoryBound(to: UInt8.self)
    }

    deinit {
        _ = sodium_mprotect_readwrite(base)
        sodium_memzero(base, count)
        sodium_free(base)
    }
}

/// Zeroes an array's bytes in place (a write the optimiser may not drop), for temporary copies of secrets.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress, buffer.count > 0 {
            sodium_memzero(base, buffer.count)
        }
    }
}

extension Sodium {
    /// Whether `a` and `b` hold the same bytes, compared with `sodium_memcmp`, whose running time does not
    /// depend on where they differ. Different lengths give `false` at once (lengths are not secret).
    @inline(__always)
    static func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        a.withContiguousBytes { a in
            b.withContiguousBytes { b in
                guard a.count == b.count else { return false }
                guard a.count > 0 else { return true }
                return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
    }

    /// `count` bytes from the operating system's secure random source (`randombytes_buf`).
    static func randomBytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "a byte count cannot be negative")
        ensureInitialized()
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress, count > 0 {
                randombytes_buf(base, count)
            }
            initialized = count
        }
    }

    /// Fills `count` bytes at `start` from the secure random source; for the wrappers in this folder,
    /// which draw keys and nonces straight into the memory that keeps them.
    @inline(__always)
    static func fillRandom(_ start: UnsafeMutablePointer<UInt8>, count: Int) {
        ensureInitialized()
        randombytes_buf(start, count)
    }
}
