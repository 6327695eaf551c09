import CLMDB

/// What one sweep did.
public struct SweepReport: Sendable, Equatable {
    /// Expired entries deleted.
    public var deleted: Int
    /// Whether due entries remain (the batch stopped at its size or time budget).
    public var moreDue: Bool

    public init(deleted: Int, moreDue: Bool) {
        self.deleted = deleted
        self.moreDue = moreDue
    }
}

extension TransactionHandle {
    /// Deletes due entries from the front of the expiry index until none is due, `maximumEntries` were
    /// handled, or `budgetNanoseconds` passed, so one sweep never holds the writer for long.
    func sweepDue(maximumEntries: Int, budgetNanoseconds: UInt64) throws(StoreError) -> SweepReport {
        let started = monotonicNanoseconds()
        var handled = 0
        var deleted = 0
        return try withCursor(.expiryIndex) { cursor throws(StoreError) -> SweepReport in
            var key = MDB_val()
            var data = MDB_val()
            while true {
                // Every visited index entry is deleted, so the next candidate is always the first one.
                let status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
                if status == MDB_NOTFOUND { return SweepReport(deleted: deleted, moreDue: false) }
                guard status == 0 else { throw Environment.error(status, doing: "reading the expiry index") }
                let indexKey = Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size))
                guard indexKey.count > 9 else {
                    try deleteExact(.expiryIndex, indexKey)
                    continue
                }
                let deadline = indexKey.withUnsafeBytes { StoredValue.decodeDeadline(UnsafeRawBufferPointer(rebasing: $0[0..<8])) }
                guard deadline <= now else { return SweepReport(deleted: deleted, moreDue: false) }
                if handled >= maximumEntries || (handled > 0 && handled % 64 == 0 && monotonicNanoseconds() - started >= budgetNanoseconds) {
                    return SweepReport(deleted: deleted, moreDue: true)
                }
                handled += 1
                let entryKey = Array(indexKey[9...])
                if let keyspace = KeyspaceName.byTag[indexKey[8]], try holdsDeadline(keyspace, entryKey, deadline) {
                    try deleteExact(keyspace, entryKey)
                    deleted += 1
                }
                try deleteExact(.expiryIndex, indexKey)
            }
        }
    }

    /// Whether the entry still carries the deadline its index entry names (it may have been rewritten since).
    /// A corrupt entry is left for a person to inspect rather than stopping every later sweep.
    private func holdsDeadline(_ keyspace: KeyspaceName, _ key: [UInt8], _ deadline: Timestamp) throws(StoreError) -> Bool {
        do {
            guard case .some(.some(let stored)) = try storedDeadline(keyspace, key) else { return false }
            return stored == deadline
        } catch where error.code == .corruptValue {
            return false
        }
    }
}
