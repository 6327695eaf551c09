import CLMDB
import Synchronization

/// Expiry generations of one keyspace laid out with ``ExpiryLayout/generations(bucket:)``.
///
/// A stored key is `end(4 bytes, big-endian seconds since 1970) key…`: every entry under `end` has a
/// deadline at or before `end`, so once `end` has passed the whole generation is expired and is deleted in
/// key order. ``permanent`` holds entries without a deadline (and deadlines past what 32 bits of seconds
/// can hold, 2106); it is never swept.
enum Generation {
    static let prefixSize = 4
    static let permanent: UInt32 = .max
    /// A generation is about `1 / lifetimeShare` of its entries' remaining lifetime wide.
    static let lifetimeShare: Int64 = 4
    static let maximumKeySize = Environment.maximumKeySize - prefixSize

    /// The generation an entry with `deadline`, written at `now`, belongs to.
    static func end(for deadline: Timestamp?, now: Timestamp, bucketSeconds: Int64) -> UInt32 {
        guard let deadline else { return permanent }
        let remaining = max(0, deadline.millisecondsSince1970 - now.millisecondsSince1970) / 1000
        var width = bucketSeconds
        while width <= Int64.max / 4, width * 2 <= remaining / lifetimeShare { width *= 2 }
        let deadlineMilliseconds = max(0, deadline.millisecondsSince1970)
        let widthMilliseconds = width * 1000
        let endMilliseconds = (deadlineMilliseconds / widthMilliseconds + (deadlineMilliseconds % widthMilliseconds == 0 ? 0 : 1)) * widthMilliseconds
        let seconds = endMilliseconds / 1000
        return seconds < Int64(permanent) ? UInt32(seconds) : permanent
    }

    /// Whether every entry of generation `end` has expired at `now`.
    static func isDue(_ end: UInt32, now: Timestamp) -> Bool {
        end != permanent && Int64(end) * 1000 <= now.millisecondsSince1970
    }

    static func prefix(_ end: UInt32) -> [UInt8] {
        withUnsafeBytes(of: end.bigEndian) { Array($0) }
    }

    static func physicalKey(_ end: UInt32, _ key: [UInt8]) -> [UInt8] {
        var bytes = prefix(end)
        bytes.append(contentsOf: key)
        return bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count >= prefixSize else { return nil }
        return bytes.prefix(prefixSize).reduce(0) { $0 << 8 | UInt32($1) }
    }
}

/// Which generations of one keyspace may hold entries, so a lookup probes only those.
///
/// The list may name a generation that is empty (a write into it was rolled back), never miss one that
/// holds entries a reader may still see: a write adds its generation before it commits, and the sweeper
/// retires a generation only once it is empty, tagged with its transaction id, so a reader whose snapshot
/// predates that transaction (and whose "now" may predate the generation's end) still probes it.
final class GenerationTable: Sendable {
    private struct State {
        /// Ascending.
        var present: [UInt32] = [] {
            didSet { newestFirst = present.reversed() }
        }
        /// `present` newest first, kept so a lookup takes it without copying.
        var newestFirst: [UInt32] = []
        var retired: [(end: UInt32, transaction: Int)] = []
    }
    private let state = Mutex(State())
    /// Retired generations remembered for readers with older snapshots; a reader would have to stay open
    /// across this many retirements to miss one.
    private static let retiredLimit = 1024

    /// Generations that may hold entries for the snapshot `transaction`, newest first, due ones included:
    /// the present ones, and those retired after the snapshot (usually none).
    func candidates(transaction: Int) -> (present: [UInt32], retired: [UInt32]) {
        state.withLock { state in
            guard let last = state.retired.last, transaction < last.transaction else { return (state.newestFirst, []) }
            var retired: [UInt32] = []
            for entry in state.retired.reversed() {
                guard transaction < entry.transaction else { break }
                retired.append(entry.end)
            }
            return (state.newestFirst, retired)
        }
    }

    /// Generations a lookup at `now` in the snapshot `transaction` must probe, newest first.
    func live(now: Timestamp, transaction: Int) -> [UInt32] {
        state.withLock { state in
            var result: [UInt32] = []
            result.reserveCapacity(state.present.count)
            for end in state.present.reversed() where !Generation.isDue(end, now: now) { result.append(end) }
            // Retired in transaction order: only the newest few can postdate this snapshot.
            for retired in state.retired.reversed() {
                guard transaction < retired.transaction else { break }
                if !Generation.isDue(retired.end, now: now), !result.contains(retired.end) { result.append(retired.end) }
            }
            if result.count > 1, !state.retired.isEmpty { result.sort(by: >) }
            return result
        }
    }

    /// Every generation that may hold entries, expired or not, newest first.
    func all() -> [UInt32] {
        state.withLock { $0.newestFirst }
    }

    /// Records that generation `end` is being written to; call before the write commits.
    func noteWrite(_ end: UInt32) {
        state.withLock { state in
            let index = state.present.partitionPoint { $0 < end }
            if index < state.present.count, state.present[index] == end { return }
            state.present.insert(end, at: index)
            state.retired.removeAll { $0.end == end }
        }
    }

    /// Retires every generation before `first` (all but the permanent one when `first` is nil): the sweep
    /// transaction `transaction` found nothing stored before it.
    func retire(before first: UInt32?, transaction: Int) {
        state.withLock { state in
            let bound = first ?? Generation.permanent
            let count = state.present.partitionPoint { $0 < bound }
            guard count > 0 else { return }
            for end in state.present.prefix(count) { state.retired.append((end, transaction)) }
            state.present.removeFirst(count)
            if state.retired.count > Self.retiredLimit { state.retired.removeFirst(state.retired.count - Self.retiredLimit) }
        }
    }

    func load(_ ends: [UInt32]) {
        state.withLock { state in
            state.present = ends.sorted()
            state.retired = []
        }
    }
}

extension Array {
    /// The index of the first element for which `belongsAfter` is false, in an array partitioned by it.
    func partitionPoint(_ belongsBefore: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongsBefore(self[middle]) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

// MARK: - Operations on generational keyspaces

extension TransactionHandle {
    func generationTable(_ keyspace: KeyspaceName) -> GenerationTable? {
        environment.generationTables[Int(keyspace.tag)]
    }

    var transactionID: Int { mdb_txn_id(txn) }

    /// Generations a lookup in this transaction probes, newest first.
    func liveGenerations(_ table: GenerationTable) -> [UInt32] {
        table.live(now: now, transaction: transactionID)
    }

    static func validateGenerational(_ key: [UInt8], _ keyspace: KeyspaceName) throws(StoreError) {
        guard !key.isEmpty else { throw StoreError(.invalidArgument, "a key may not be empty") }
        guard key.count <= Generation.maximumKeySize else {
            throw StoreError(.invalidArgument, "a key in keyspace \(keyspace) may be at most \(Generation.maximumKeySize) bytes; this one has \(key.count)")
        }
    }

    /// The stored value of `key` in the live generation holding it, with that generation.
    func generationalLookup(_ keyspace: KeyspaceName, _ table: GenerationTable, _ key: [UInt8]) throws(StoreError) -> (end: UInt32, raw: UnsafeRawBufferPointer)? {
        try Self.validateGenerational(key, keyspace)
        let candidates = table.candidates(transaction: transactionID)
        // Gets are the hot path: the physical key is built once, on the stack, and only its prefix rewritten.
        let found = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Generation.prefixSize + key.count) { buffer -> (status: Int32, end: UInt32, data: MDB_val) in
            _ = UnsafeMutableBufferPointer(rebasing: buffer[Generation.prefixSize...]).initialize(from: key)
            func probe(_ end: UInt32) -> (status: Int32, data: MDB_val) {
                var bigEndian = end.bigEndian
                withUnsafeBytes(of: &bigEndian) { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
                var keyValue = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(buffer.baseAddress))
                var data = MDB_val()
                return (mdb_get(txn, dbi(keyspace), &keyValue, &data), data)
            }
            for end in candidates.present where !Generation.isDue(end, now: now) {
                let result = probe(end)
                if result.status != MDB_NOTFOUND { return (result.status, end, result.data) }
            }
            for end in candidates.retired where !Generation.isDue(end, now: now) {
                let result = probe(end)
                if result.status != MDB_NOTFOUND { return (result.status, end, result.data) }
            }
            return (MDB_NOTFOUND, 0, MDB_val())
        }
        if found.status == MDB_NOTFOUND { return nil }
        guard found.status == 0 else { throw Environment.error(found.status, doing: "reading keyspace \(keyspace)") }
        return (found.end, UnsafeRawBufferPointer(start: found.data.mv_data, count: found.data.mv_size))
    }

    func generationalPut(_ keyspace: KeyspaceName, _ table: GenerationTable, bucketSeconds: Int64, _ key: [UInt8], _ payload: [UInt8], deadline: Timestamp?) throws(StoreError) {
        try Self.validateGenerational(key, keyspace)
        let target = Generation.end(for: deadline, now: now, bucketSeconds: bucketSeconds)
        // One logical key, one stored entry among the live generations.
        for end in liveGenerations(table) where end != target {
            try deleteExact(keyspace, Generation.physicalKey(end, key))
        }
        table.noteWrite(target)
        try putExact(keyspace, Generation.physicalKey(target, key), StoredValue.encode(payload, deadline: deadline))
    }

    func generationalDelete(_ keyspace: KeyspaceName, _ table: GenerationTable, _ key: [UInt8]) throws(StoreError) -> Bool {
        guard let found = try generationalLookup(keyspace, table, key) else { return false }
        let live: Bool
        do {
            live = try StoredValue.header(found.raw, keyspace: keyspace).deadline.map { $0 > now } ?? true
        } catch where error.code == .corruptValue {
            live = true
        }
        try deleteExact(keyspace, Generation.physicalKey(found.end, key))
        try noteDeleted(keyspace, key)
        return live
    }

    /// The highest stored key starting with `prefix` in any generation, expired or not.
    func generationalLastKey(_ keyspace: KeyspaceName, _ table: GenerationTable, prefix: [UInt8]) throws(StoreError) -> [UInt8]? {
        var best: [UInt8]?
        for end in table.all() {
            guard let last = try physicalLastKey(keyspace, prefix: Generation.physicalKey(end, prefix)) else { continue }
            let key = Array(last.dropFirst(Generation.prefixSize))
            if best.map({ $0.lexicographicallyPrecedes(key) }) ?? true { best = key }
        }
        return best
    }

    /// Live entries of every live generation, merged into one key order.
    func generationalScan(
        _ keyspace: KeyspaceName,
        _ table: GenerationTable,
        prefix: [UInt8],
        after: [UInt8]?,
        limit: Int,
        reverse: Bool,
        _ visit: ([UInt8], [UInt8]) throws(StoreError) -> Void
    ) throws(StoreError) {
        guard limit > 0 else { return }
        if let after { try Self.validateGenerational(after, keyspace) }
        var sources: [MergeSource] = []
        defer { for source in sources { mdb_cursor_close(source.cursor) } }
        for end in liveGenerations(table) {
            var cursor: OpaquePointer?
            let status = mdb_cursor_open(txn, dbi(keyspace), &cursor)
            guard status == 0, let cursor else { throw Environment.error(status, doing: "opening a cursor on \(keyspace)") }
            var source = MergeSource(cursor: cursor, prefix: Generation.physicalKey(end, prefix))
            let positioned = try position(cursor, prefix: source.prefix, after: after.map { Generation.physicalKey(end, $0) }, reverse: reverse, key: &source.key, data: &source.data)
            source.valid = try source.accept(positioned, keyspace)
            sources.append(source)
        }
        var found = 0
        while true {
            var best: Int?
            for index in sources.indices where sources[index].valid {
                guard let current = best else { best = index; continue }
                let order = sources[index].compare(to: sources[current])
                if reverse ? order > 0 : order < 0 { best = index }
            }
            guard let best else { return }
            let key = Array(sources[best].logicalKey)
            let raw = sources[best].value
            let header = try StoredValue.header(raw, keyspace: keyspace)
            var visited = false
            if header.deadline.map({ $0 > now }) ?? true {
                try visit(key, Array(raw[header.payloadOffset...]))
                visited = true
            }
            // A key stored in two generations (never left by a completed put) is visited once.
            for index in sources.indices where sources[index].valid && sources[index].logicalKey.elementsEqual(key) {
                try sources[index].advance(reverse: reverse, keyspace)
            }
            if visited {
                found += 1
                if found >= limit { return }
            }
        }
    }

    /// Deletes whole expired generations from the front of `keyspace`; returns false when it stopped at
    /// the size or time budget with due entries left.
    func sweepGenerations(_ keyspace: KeyspaceName, _ table: GenerationTable, _ progress: inout SweepProgress) throws(StoreError) -> Bool {
        try withCursor(keyspace) { cursor throws(StoreError) -> Bool in
            var key = MDB_val()
            var data = MDB_val()
            while true {
                let status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
                if status == MDB_NOTFOUND {
                    table.retire(before: nil, transaction: transactionID)
                    return true
                }
                guard status == 0 else { throw Environment.error(status, doing: "reading keyspace \(keyspace)") }
                let end = Generation.decode(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size))
                if let end, !Generation.isDue(end, now: now) {
                    table.retire(before: end, transaction: transactionID)
                    return true
                }
                if progress.exhausted {
                    if let end { table.retire(before: end, transaction: transactionID) }
                    return false
                }
                progress.handled += 1
                progress.noteDeleted(keyspace, UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size).dropFirst(Generation.prefixSize))
                // A key too short to carry a generation cannot be reached by any lookup: drop it too.
                try check(mdb_cursor_del(cursor, 0), doing: "sweeping keyspace \(keyspace)")
                progress.deleted += 1
            }
        }
    }
}

/// One generation's cursor in a merged scan.
struct MergeSource {
    let cursor: OpaquePointer
    let prefix: [UInt8]
    var key = MDB_val()
    var data = MDB_val()
    var valid = false

    init(cursor: OpaquePointer, prefix: [UInt8]) {
        self.cursor = cursor
        self.prefix = prefix
    }

    var physicalKey: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size) }
    var logicalKey: UnsafeRawBufferPointer.SubSequence { physicalKey[Generation.prefixSize...] }
    var value: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size) }

    /// Whether the cursor, after an LMDB call that returned `status`, rests on an entry of this source.
    func accept(_ status: Int32, _ keyspace: KeyspaceName) throws(StoreError) -> Bool {
        if status == MDB_NOTFOUND { return false }
        guard status == 0 else { throw Environment.error(status, doing: "scanning keyspace \(keyspace)") }
        return physicalKey.starts(with: prefix)
    }

    mutating func advance(reverse: Bool, _ keyspace: KeyspaceName) throws(StoreError) {
        let status = mdb_cursor_get(cursor, &key, &data, reverse ? MDB_PREV : MDB_NEXT)
        valid = try accept(status, keyspace)
    }

    /// -1, 0 or 1 as this source's logical key sorts before, with or after `other`'s.
    func compare(to other: MergeSource) -> Int {
        let lhs = logicalKey
        let rhs = other.logicalKey
        if lhs.elementsEqual(rhs) { return 0 }
        return lhs.lexicographicallyPrecedes(rhs) ? -1 : 1
    }
}

/// The shared size and time budget of one sweep transaction.
struct SweepProgress {
    let started = monotonicNanoseconds()
    let maximumEntries: Int
    let budgetNanoseconds: UInt64
    var handled = 0
    var deleted = 0
    /// The highest sequence deleted per keyspace, written to the floors when the sweep ends.
    var deletedSequences: [KeyspaceName: UInt64] = [:]

    init(maximumEntries: Int, budgetNanoseconds: UInt64) {
        self.maximumEntries = maximumEntries
        self.budgetNanoseconds = budgetNanoseconds
    }

    mutating func noteDeleted<Bytes: Collection<UInt8>>(_ keyspace: KeyspaceName, _ key: Bytes) {
        guard let sequence = SequencedKey.sequence(ofStoreKey: key) else { return }
        deletedSequences[keyspace] = Swift.max(deletedSequences[keyspace] ?? 0, sequence)
    }

    /// The clock is read every 64 entries only; it costs about as much as deleting one.
    var exhausted: Bool {
        handled >= maximumEntries || (handled > 0 && handled % 64 == 0 && monotonicNanoseconds() - started >= budgetNanoseconds)
    }
}
