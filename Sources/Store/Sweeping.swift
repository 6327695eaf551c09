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
        let finished = try sweepEverything(&progress)
        for (keyspace, sequence) in progress.deletedSequences {
            try raiseSequenceFloor(keyspace, to: sequence)
        }
        return SweepReport(deleted: progress.deleted, moreDue: !finished)
    }

    /// The index, then each generational keyspace; returns false when it stopped at the budget.
    private func sweepEverything(_ progress: inout SweepProgress) throws(StoreError) -> Bool {
        guard try sweepIndex(&progress) else { return false }
        for keyspace in KeyspaceName.generational {
            guard let table = generationTable(keyspace) else { continue }
            guard try sweepGenerations(keyspace, table, &progress) else { return false }
        }
        return true
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
                    progress.noteDeleted(keyspace, entryKey)
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

// MARK: - Sequence floors

extension TransactionHandle {
    /// `meta` key holding the highest sequence ever deleted from `keyspace`, below which
    /// ``WriteTransaction/append(_:prefix:_:expiresAt:)`` never numbers a new record.
    static func sequenceFloorKey(_ keyspace: KeyspaceName) -> [UInt8] { Array("sequence.floor.\(keyspace.name)".utf8) }

    func sequenceFloor(_ keyspace: KeyspaceName) throws(StoreError) -> UInt64 {
        guard let stored = try payload(.meta, Self.sequenceFloorKey(keyspace)) else { return 0 }
        guard let floor = UInt64(String(decoding: stored, as: UTF8.self)) else {
            throw StoreError(.corruptValue, "the sequence floor of keyspace \(keyspace) in meta is not a number; restore a backup or delete the meta entry sequence.floor.\(keyspace)")
        }
        return floor
    }

    func raiseSequenceFloor(_ keyspace: KeyspaceName, to sequence: UInt64) throws(StoreError) {
        guard keyspace != .meta, sequence > (try sequenceFloor(keyspace)) else { return }
        try putRaw(.meta, Self.sequenceFloorKey(keyspace), Array(String(sequence).utf8), deadline: nil)
    }

    /// Keeps a deleted sequenced key's number from being appended again (any key shaped like one counts).
    func noteDeleted(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) {
        guard let sequence = SequencedKey.sequence(ofStoreKey: key) else { return }
        try raiseSequenceFloor(keyspace, to: sequence)
    }
}
