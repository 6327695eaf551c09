public import Synchronization

/// A value computed from a snapshot of the store and reused until any process commits a write.
///
/// Each call first reads the id of the newest committed transaction from LMDB's meta pages (no read
/// transaction, no copying). While that is still the snapshot the value was computed in, no commit can
/// have changed it; after any commit, by this process or another one such as the CLI, the next call
/// computes it afresh. So a cached answer is never older than the last completed commit.
///
/// `compute` must depend only on what is stored, not on the clock: an entry reaching its deadline changes
/// what reads see without any commit.
public final class SnapshotCache<Value: Sendable>: Sendable {
    @usableFromInline let store: Store
    @usableFromInline let cached = Mutex<Entry?>(nil)

    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline let transaction: Int
        @usableFromInline let value: Value

        @usableFromInline
        init(transaction: Int, value: Value) {
            self.transaction = transaction
            self.value = value
        }
    }

    public init(_ store: Store) {
        self.store = store
    }

    /// The value as of the newest commit: the cached one, or `compute`'s result in a fresh snapshot.
    // Inlinable so callers get it specialized: the generic version looked up type metadata on every call.
    @inlinable
    public func value(_ compute: (ReadTransaction) throws -> Value) throws -> Value {
        let newest = try store.lastCommittedTransaction()
        if let hit = cached.withLock({ $0 }), hit.transaction == newest { return hit.value }
        let entry = try store.read { snapshot in Entry(transaction: snapshot.transactionID, value: try compute(snapshot)) }
        cached.withLock { current in
            // Concurrent misses may finish out of order; keep the newer snapshot's value.
            if current.map({ $0.transaction < entry.transaction }) ?? true { current = entry }
        }
        return entry.value
    }
}
