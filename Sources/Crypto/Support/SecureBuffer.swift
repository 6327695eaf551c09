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
