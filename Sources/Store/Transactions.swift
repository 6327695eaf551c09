import CLMDB
import Glibc

/// The live LMDB transaction behind a ``ReadTransaction`` or ``WriteTransaction``. It has no public
/// members: it exists so both transaction kinds share one implementation of the read operations.
public struct TransactionHandle {
    let txn: OpaquePointer
    let environment: Environment
    /// "Now" for expiry, read once when the transaction began.
    let now: Timestamp
}

/// Read operations, available in both read and write transactions. Expired entries are invisible.
public protocol StoreReading {
    var handle: TransactionHandle { get }
}

/// A consistent snapshot of the store. Valid only inside the closure it was given to.
public struct ReadTransaction: StoreReading {
    public let handle: TransactionHandle

    /// The id of the commit this snapshot shows.
    public var transactionID: Int { handle.transactionID }
}

/// The single write transaction of a batch, on the writer thread. Valid only inside the closure it was
/// given to; it must not be kept or used from another thread.
public struct WriteTransaction: StoreReading {
    public let handle: TransactionHandle
}

// MARK: - Reading

extension StoreReading {
    /// The "now" expiry decisions in this transaction use.
    public var now: Timestamp { handle.now }

    /// The live value of `key`, or nil when absent or expired.
    public func get<K, V>(_ keyspace: Keyspace<K, V>, _ key: K) throws(StoreError) -> V? {
        guard let payload = try handle.payload(keyspace.name, key.storeKey) else { return nil }
        return try V(storeValue: payload)
    }

    /// Whether `key` has a live value.
    public func contains<K, V>(_ keyspace: Keyspace<K, V>, _ key: K) throws(StoreError) -> Bool {
        try handle.payload(keyspace.name, key.storeKey) != nil
    }

    /// The deadline of a live entry, or nil when it has none or is absent.
    public func deadline<K, V>(_ keyspace: Keyspace<K, V>, _ key: K) throws(StoreError) -> Timestamp? {
        guard let deadline = try handle.rawEntry(keyspace.name, key.storeKey)?.deadline, deadline > now else { return nil }
        return deadline
    }

    /// Live entries whose keys start with `prefix`, in key order (or reverse order), starting after `after`.
    public func scan<K, V>(
        _ keyspace: Keyspace<K, V>,
        prefix: [UInt8] = [],
        after: K? = nil,
        limit: Int = .max,
        reverse: Bool = false
    ) throws(StoreError) -> [(key: K, value: V)] {
        var results: [(key: K, value: V)] = []
        try handle.scanRaw(keyspace.name, prefix: prefix, after: after?.storeKey, limit: limit, reverse: reverse) { key, payload throws(StoreError) in
            results.append((try K(storeKey: key), try V(storeValue: payload)))
        }
        return results
    }

    /// The number of live entries whose keys start with `prefix`.
    public func count<K, V>(_ keyspace: Keyspace<K, V>, prefix: [UInt8] = []) throws(StoreError) -> Int {
        var total = 0
        try handle.scanRaw(keyspace.name, prefix: prefix, after: nil, limit: .max, reverse: false) { _, _ in total += 1 }
        return total
    }
}

// MARK: - Writing

extension WriteTransaction {
    /// Stores `value` under `key`, replacing any previous value; with a deadline, the entry vanishes from
    /// reads at that moment and the sweeper deletes it later.
    public func put<K, V>(_ keyspace: Keyspace<K, V>, _ key: K, _ value: V, expiresAt deadline: Timestamp? = nil) throws(StoreError) {
        try handle.putRaw(keyspace.name, key.storeKey, value.storeValue, deadline: deadline)
    }

    /// Stores `value` only when `key` has no live value; returns whether it was stored.
    public func insert<K, V>(_ keyspace: Keyspace<K, V>, _ key: K, _ value: V, expiresAt deadline: Timestamp? = nil) throws(StoreError) -> Bool {
        let raw = key.storeKey
        guard try handle.payload(keyspace.name, raw) == nil else { return false }
        try handle.putRaw(keyspace.name, raw, value.storeValue, deadline: deadline)
        return true
    }

    /// Deletes `key`; returns whether a live value was deleted.
    @discardableResult
    public func delete<K, V>(_ keyspace: Keyspace<K, V>, _ key: K) throws(StoreError) -> Bool {
        try handle.deleteRaw(keyspace.name, key.storeKey)
    }

    /// Appends `value` under `prefix` with the next sequence number and returns its key. The number is one
    /// more than the highest still stored under the prefix (expired or not) and than any ever deleted from
    /// the keyspace, so a key is never reused for a different record once sweeping or deleting has removed
    /// the newest ones (sequences under a prefix start at 1 until something is deleted from the keyspace).
    @discardableResult
    public func append<V>(_ keyspace: Keyspace<SequencedKey, V>, prefix: String, _ value: V, expiresAt deadline: Timestamp? = nil) throws(StoreError) -> SequencedKey {
        let scanPrefix = SequencedKey.scanPrefix(prefix)
        var highest = try handle.sequenceFloor(keyspace.name)
        if let last = try handle.lastKey(keyspace.name, prefix: scanPrefix) {
            highest = max(highest, try SequencedKey(storeKey: last).sequence)
        }
        guard highest < UInt64.max else {
            throw StoreError(.invalidArgument, "keyspace \(keyspace.name) has used every sequence number under '\(prefix)'; append under a new prefix")
        }
        let key = SequencedKey(prefix: prefix, sequence: highest + 1)
        try handle.putRaw(keyspace.name, key.storeKey, value.storeValue, deadline: deadline)
        return key
    }
}

// MARK: - LMDB operations

extension TransactionHandle {
    func dbi(_ keyspace: KeyspaceName) -> MDB_dbi { environment.dbi(keyspace) }

    /// Raw stored bytes (header included) of `key`, or nil when absent; expired entries are returned.
    func rawEntry(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) -> (deadline: Timestamp?, payload: [UInt8])? {
        if let table = generationTable(keyspace) {
            guard let found = try generationalLookup(keyspace, table, key) else { return nil }
            let header = try StoredValue.header(found.raw, keyspace: keyspace)
            if let deadline = header.deadline, deadline <= now { return (deadline, []) }
            return (header.deadline, Array(found.raw[header.payloadOffset...]))
        }
        try Self.validate(key)
        var data = MDB_val()
        let status = key.withUnsafeBytes { buffer in
            var keyValue = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            return mdb_get(txn, dbi(keyspace), &keyValue, &data)
        }
        if status == MDB_NOTFOUND { return nil }
        guard status == 0 else { throw Environment.error(status, doing: "reading keyspace \(keyspace)") }
        let raw = UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
        let header = try StoredValue.header(raw, keyspace: keyspace)
        if let deadline = header.deadline, deadline <= now { return (deadline, []) }
        return (header.deadline, Array(raw[header.payloadOffset...]))
    }

    /// The payload of a live entry.
    func payload(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) -> [UInt8]? {
        guard let entry = try rawEntry(keyspace, key) else { return nil }
        if let deadline = entry.deadline, deadline <= now { return nil }
        return entry.payload
    }

    /// The deadline stored with `key` whether or not it has passed (nil when absent or without one).
    func storedDeadline(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) -> Timestamp?? {
        var data = MDB_val()
        let status = key.withUnsafeBytes { buffer in
            var keyValue = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            return mdb_get(txn, dbi(keyspace), &keyValue, &data)
        }
        if status == MDB_NOTFOUND { return .none }
        guard status == 0 else { throw Environment.error(status, doing: "reading keyspace \(keyspace)") }
        return .some(try StoredValue.header(UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size), keyspace: keyspace).deadline)
    }

    /// Like ``storedDeadline(_:_:)``, but a corrupt entry counts as present without a deadline, so it can
    /// be overwritten or deleted (a stale expiry-index entry is harmless: the sweeper re-checks it).
    func replaceableDeadline(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) -> Timestamp?? {
        do {
            return try storedDeadline(keyspace, key)
        } catch where error.code == .corruptValue {
            return .some(.none)
        }
    }

    func scanRaw(
        _ keyspace: KeyspaceName,
        prefix: [UInt8],
        after: [UInt8]?,
        limit: Int,
        reverse: Bool,
        _ visit: ([UInt8], [UInt8]) throws(StoreError) -> Void
    ) throws(StoreError) {
        guard limit > 0 else { return }
        if let table = generationTable(keyspace) {
            try generationalScan(keyspace, table, prefix: prefix, after: after, limit: limit, reverse: reverse, visit)
            return
        }
        try withCursor(keyspace) { cursor throws(StoreError) in
            var key = MDB_val()
            var data = MDB_val()
            var status = try position(cursor, prefix: prefix, after: after, reverse: reverse, key: &key, data: &data)
            var found = 0
            while status == 0 {
                let keyBytes = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
                guard keyBytes.starts(with: prefix) else { break }
                let raw = UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
                let header = try StoredValue.header(raw, keyspace: keyspace)
                if header.deadline.map({ $0 > now }) ?? true {
                    try visit(Array(keyBytes), Array(raw[header.payloadOffset...]))
                    found += 1
                    if found >= limit { break }
                }
                status = mdb_cursor_get(cursor, &key, &data, reverse ? MDB_PREV : MDB_NEXT)
            }
            guard status == 0 || status == MDB_NOTFOUND else { throw Environment.error(status, doing: "scanning keyspace \(keyspace)") }
        }
    }

    /// Places the cursor on the first entry to visit; returns the LMDB status (MDB_NOTFOUND when none).
    func position(
        _ cursor: OpaquePointer,
        prefix: [UInt8],
        after: [UInt8]?,
        reverse: Bool,
        key: inout MDB_val,
        data: inout MDB_val
    ) throws(StoreError) -> Int32 {
        func seek(_ target: [UInt8]) -> Int32 {
            target.withUnsafeBytes { buffer in
                key = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
                return mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE)
            }
        }
        if !reverse {
            if let after {
                try Self.validate(after)
                var status = seek(after)
                if status == 0, UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size).elementsEqual(after) {
                    status = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
                }
                return status
            }
            return prefix.isEmpty ? mdb_cursor_get(cursor, &key, &data, MDB_FIRST) : seek(prefix)
        }
        // Reverse: find the first key past the range, then step back.
        let bound: [UInt8]?
        if let after {
            try Self.validate(after)
            bound = after
        } else {
            bound = Self.successor(of: prefix)
        }
        guard let bound else { return mdb_cursor_get(cursor, &key, &data, MDB_LAST) }
        let status = seek(bound)
        if status == MDB_NOTFOUND { return mdb_cursor_get(cursor, &key, &data, MDB_LAST) }
        guard status == 0 else { return status }
        return mdb_cursor_get(cursor, &key, &data, MDB_PREV)
    }

    /// The last key (expired or not) starting with `prefix`.
    func lastKey(_ keyspace: KeyspaceName, prefix: [UInt8]) throws(StoreError) -> [UInt8]? {
        if let table = generationTable(keyspace) {
            return try generationalLastKey(keyspace, table, prefix: prefix)
        }
        return try physicalLastKey(keyspace, prefix: prefix)
    }

    /// The last stored key starting with `prefix`, as stored.
    func physicalLastKey(_ keyspace: KeyspaceName, prefix: [UInt8]) throws(StoreError) -> [UInt8]? {
        try withCursor(keyspace) { cursor throws(StoreError) -> [UInt8]? in
            var key = MDB_val()
            var data = MDB_val()
            let status = try position(cursor, prefix: prefix, after: nil, reverse: true, key: &key, data: &data)
            guard status == 0 else { return nil }
            let bytes = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
            return bytes.starts(with: prefix) ? Array(bytes) : nil
        }
    }

    func withCursor<T>(_ keyspace: KeyspaceName, _ body: (OpaquePointer) throws(StoreError) -> T) throws(StoreError) -> T {
        var cursor: OpaquePointer?
        let status = mdb_cursor_open(txn, dbi(keyspace), &cursor)
        guard status == 0, let cursor else { throw Environment.error(status, doing: "opening a cursor on \(keyspace)") }
        defer { mdb_cursor_close(cursor) }
        return try body(cursor)
    }

    /// The smallest byte string greater than every string starting with `prefix`, or nil if none exists.
    static func successor(of prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return nil
    }

    static func validate(_ key: [UInt8]) throws(StoreError) {
        guard !key.isEmpty else { throw StoreError(.invalidArgument, "a key may not be empty") }
        guard key.count <= Environment.maximumKeySize else {
            throw StoreError(.invalidArgument, "a key may be at most \(Environment.maximumKeySize) bytes; this one has \(key.count)")
        }
    }

    // MARK: Writes

    func putRaw(_ keyspace: KeyspaceName, _ key: [UInt8], _ payload: [UInt8], deadline: Timestamp?) throws(StoreError) {
        if let table = generationTable(keyspace), let bucket = keyspace.generationBucketSeconds {
            try generationalPut(keyspace, table, bucketSeconds: bucket, key, payload, deadline: deadline)
            return
        }
        try Self.validate(key)
        if deadline != nil, key.count > Self.maximumExpiringKeySize {
            throw StoreError(.invalidArgument, "a key with an expiry may be at most \(Self.maximumExpiringKeySize) bytes; this one has \(key.count)")
        }
        if case .some(.some(let previous)) = try replaceableDeadline(keyspace, key), previous != deadline {
            try deleteExact(.expiryIndex, Self.expiryKey(previous, keyspace, key))
        }
        try putExact(keyspace, key, StoredValue.encode(payload, deadline: deadline))
        if let deadline {
            try putExact(.expiryIndex, Self.expiryKey(deadline, keyspace, key), [])
        }
    }

    func deleteRaw(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) -> Bool {
        if let table = generationTable(keyspace) {
            return try generationalDelete(keyspace, table, key)
        }
        try Self.validate(key)
        guard case .some(let deadline) = try replaceableDeadline(keyspace, key) else { return false }
        if let deadline {
            try deleteExact(.expiryIndex, Self.expiryKey(deadline, keyspace, key))
        }
        try deleteExact(keyspace, key)
        try noteDeleted(keyspace, key)
        return deadline.map { $0 > now } ?? true
    }

    func putExact(_ keyspace: KeyspaceName, _ key: [UInt8], _ value: [UInt8]) throws(StoreError) {
        let status = key.withUnsafeBytes { keyBuffer in
            value.withUnsafeBytes { valueBuffer in
                var keyValue = MDB_val(mv_size: keyBuffer.count, mv_data: UnsafeMutableRawPointer(mutating: keyBuffer.baseAddress))
                var dataValue = MDB_val(mv_size: valueBuffer.count, mv_data: UnsafeMutableRawPointer(mutating: valueBuffer.baseAddress))
                return mdb_put(txn, dbi(keyspace), &keyValue, &dataValue, 0)
            }
        }
        try check(status, doing: "writing to keyspace \(keyspace)")
    }

    func deleteExact(_ keyspace: KeyspaceName, _ key: [UInt8]) throws(StoreError) {
        let status = key.withUnsafeBytes { buffer in
            var keyValue = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            return mdb_del(txn, dbi(keyspace), &keyValue, nil)
        }
        guard status != MDB_NOTFOUND else { return }
        try check(status, doing: "deleting from keyspace \(keyspace)")
    }

    func check(_ status: Int32, doing what: String) throws(StoreError) {
        guard status != 0 else { return }
        if status == MDB_MAP_FULL { throw environment.mapFullError() }
        if status == MDB_TXN_FULL {
            throw StoreError(.invalidArgument, "one write touched more pages than a transaction may hold; split it into smaller writes", lmdbStatus: status)
        }
        throw Environment.error(status, doing: what)
    }

    /// The expiry index key adds 9 bytes to the entry's key and must itself fit LMDB's key limit.
    static let maximumExpiringKeySize = Environment.maximumKeySize - 9

    /// (deadline, keyspace tag, key): the expiry index sorts by deadline, so due entries come first.
    static func expiryKey(_ deadline: Timestamp, _ keyspace: KeyspaceName, _ key: [UInt8]) -> [UInt8] {
        var bytes = StoredValue.encodeDeadline(deadline)
        bytes.append(keyspace.tag)
        bytes.append(contentsOf: key)
        return bytes
    }
}
