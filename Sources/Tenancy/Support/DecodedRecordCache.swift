#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Synchronization

/// Remembers what stored bytes decoded to, so the request path reads a record from the store (and so sees
/// every change, whichever process made it) without parsing its JSON again while the bytes are unchanged.
///
/// Keyed by the bytes themselves: a changed record is a new key, and a stale entry can never be returned.
/// Bounded: when full it starts over, which costs one parse per record.
/// Why: docs/adr/0014-decoded-record-cache.md.
package final class DecodedRecordCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[StoredBytes: Value]>([:])
    private let capacity: Int

    package init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The value `bytes` decode to, decoding them only when they were not seen before.
    package func value<Failure: Error>(of bytes: [UInt8], decode: ([UInt8]) throws(Failure) -> Value) throws(Failure) -> Value {
        let key = StoredBytes(bytes)
        if let cached = entries.withLock({ $0[key] }) { return cached }
        let value = try decode(bytes)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
        return value
    }
}

/// Bytes hashed in one pass (an `[UInt8]` key would feed the hasher byte by byte).
struct StoredBytes: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (lhs: StoredBytes, rhs: StoredBytes) -> Bool {
        lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in
                guard left.count == right.count else { return false }
                return left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0
            }
        }
    }
}
