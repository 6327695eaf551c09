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
    /// Deletes due entries until none is due, `maximumEntries` were handled, or `budgetNanoseconds` passed,
    /// so one sweep never holds the writer for long: first from the front of the expiry index, then whole
    /// expired generations from the front of each generational keyspace.
    func sweepDue(maximumEntries: Int, budgetNanoseconds: UInt64) throws(StoreError) -> SweepReport {
        var progress = SweepProgress(maximumEntries: maximumEntries, budgetNanoseconds: budgetNanoseconds)
        guard try sweepIndex(&progress) else { return SweepReport(deleted: progress.deleted, moreDue: true) }
        for keyspace in KeyspaceName.generational {
            guard let table = generationTable(keyspace) else { continue }
            guard try sweepGenerations(keyspace, table, &progress) else { return SweepReport(deleted: progress.deleted, moreDue: true) }
        }
        return SweepReport(deleted: progress.deleted, moreDue: false)
    }

    /// Deletes due entries from the front of the expiry index; returns false when it stopped at the
    /// budget with due entries left.
    private func sweepIndex(_ progress: inout SweepProgress) throws(StoreError) -> Bool {
        try withCursor(.expiryIndex) { cursor throws(StoreError) -> Bool in
            var key = MDB_val()
            var data = MDB_val()
            while true {
                // Every visited index entry is deleted, so the next candidate is always the first one.
                let status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
                if status == MDB_NOTFOUND { return true }
                guard status == 0 else { throw Environment.error(status, doing: "reading the expiry index") }
                let indexKey = Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size))
                guard indexKey.count > 9 else {
                    try deleteExact(.expiryIndex, indexKey)
                    continue
                }
                let deadline = indexKey.withUnsafeBytes { StoredValue.decodeDeadline(UnsafeRawBufferPointer(rebasing: $0[0..<8])) }
                guard deadline <= now else { return true }
                if progress.exhausted { return false }
                progress.handled += 1
                let entryKey = Array(indexKey[9...])
                // Generational keyspaces keep no index entries; one found there is stale and only dropped.
                if let keyspace = KeyspaceName.byTag[indexKey[8]], keyspace.generationBucketSeconds == nil,
                   try holdsDeadline(keyspace, entryKey, deadline) {
                    try deleteExact(keyspace, entryKey)
                    progress.deleted += 1
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
