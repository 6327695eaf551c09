import CLMDB
import Glibc
import Logging
import Synchronization

/// Owns the `MDB_env`, the database handles and the pool of read transactions.
///
/// `@unchecked Sendable`: the env pointer and dbi table are written only during `open` and `close`;
/// LMDB's env is thread-safe for opening read transactions under `MDB_NOTLS`; the read pool is behind a
/// `Mutex`; map resizes take `resizeLock` exclusively so no transaction of this process is active.
final class Environment: @unchecked Sendable {
    let env: OpaquePointer
    let configuration: StoreConfiguration
    private(set) var dbis: [MDB_dbi]
    /// By keyspace tag; set for keyspaces laid out in expiry generations.
    let generationTables: [GenerationTable?]
    let resizeLock = ReadWriteLock()
    private let readPool = Mutex<[PooledTransaction]>([])

    /// A reset read transaction waiting in the pool; it is renewed by whichever thread takes it next,
    /// which `MDB_NOTLS` allows.
    private struct PooledTransaction: @unchecked Sendable {
        let txn: OpaquePointer
    }
    private let state = Mutex<(closed: Bool, mapSize: Int)>((false, 0))
    private static let readPoolLimit = 64
    private static let openPaths = Mutex<Set<String>>([])
    let canonicalPath: String

    static let maximumKeySize = 511

    init(configuration: StoreConfiguration, logger: Logger) throws(StoreError) {
        self.configuration = configuration
        var tables = [GenerationTable?](repeating: nil, count: 256)
        for keyspace in KeyspaceName.generational { tables[Int(keyspace.tag)] = GenerationTable() }
        generationTables = tables
        let path = configuration.location.path
        let isFile: Bool
        switch configuration.location {
        case .directory(let directory):
            try Self.prepareDirectory(directory, create: configuration.createDirectory)
            isFile = false
        case .file(let file):
            let parent = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
            try Self.prepareDirectory(parent.isEmpty ? "/" : parent, create: false)
            isFile = true
        }
        let canonicalPath = Self.canonical(path)
        self.canonicalPath = canonicalPath
        let registered = Self.openPaths.withLock { $0.insert(canonicalPath).inserted }
        guard registered else {
            throw StoreError(
                .alreadyOpen,
                "the store at \(path) is already open in this process; LMDB must not open one environment twice. Reuse the open Store."
            )
        }

        var handle: OpaquePointer?
        var status = mdb_env_create(&handle)
        guard status == 0, let handle else {
            Self.openPaths.withLock { _ = $0.remove(canonicalPath) }
            throw Self.error(status, doing: "creating the LMDB environment")
        }
        env = handle
        dbis = Array(repeating: 0, count: 256)

        let mapSize = Self.pageAligned(configuration.mapSize)
        mdb_env_set_mapsize(env, mapSize)
        mdb_env_set_maxdbs(env, MDB_dbi(KeyspaceName.all.count + 2))
        mdb_env_set_maxreaders(env, UInt32(configuration.maximumReaders))
        let flags = UInt32(MDB_NOTLS) | (isFile ? UInt32(MDB_NOSUBDIR) : 0)
        status = mdb_env_open(env, path, flags, 0o600)
        guard status == 0 else {
            mdb_env_close(env)
            Self.openPaths.withLock { _ = $0.remove(canonicalPath) }
            throw Self.openError(status, path: path)
        }

        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
        if dead > 0 {
            logger.warning("cleared stale reader slots left by a process that died", metadata: ["store.stale_readers": "\(dead)"])
        }

        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        state.withLock { $0.mapSize = info.me_mapsize }

        do {
            try openDatabases()
        } catch {
            mdb_env_close(env)
            Self.openPaths.withLock { _ = $0.remove(canonicalPath) }
            throw error
        }
    }

    private func openDatabases() throws(StoreError) {
        var txn: OpaquePointer?
        var status = mdb_txn_begin(env, nil, 0, &txn)
        if status == MDB_MAP_RESIZED {
            mdb_env_set_mapsize(env, 0)
            status = mdb_txn_begin(env, nil, 0, &txn)
        }
        guard status == 0, let txn else { throw Self.error(status, doing: "starting the transaction that opens the keyspaces") }
        for keyspace in KeyspaceName.all + [KeyspaceName.expiryIndex] {
            var dbi: MDB_dbi = 0
            status = mdb_dbi_open(txn, keyspace.name, UInt32(MDB_CREATE), &dbi)
            guard status == 0 else {
                mdb_txn_abort(txn)
                if status == MDB_MAP_FULL {
                    throw StoreError(.mapFull, "the store is too small to hold its keyspaces; raise the map size", lmdbStatus: status)
                }
                throw Self.error(status, doing: "opening keyspace \(keyspace.name)")
            }
            dbis[Int(keyspace.tag)] = dbi
        }
        let handle = TransactionHandle(txn: txn, environment: self, now: configuration.clock.now())
        do {
            try checkSchemaVersion(handle)
            try loadGenerations(handle)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        status = mdb_txn_commit(txn)
        guard status == 0 else { throw Self.error(status, doing: "committing the keyspace list") }
    }

    /// The layout version this code writes; a store written by a newer layout is refused, not guessed at.
    /// Version 2 stores the keyspaces with ``ExpiryLayout/generations(bucket:)`` under generation-prefixed
    /// keys; every other keyspace is stored as in version 1.
    static let schemaVersion = 2
    static let schemaVersionKey = Array("schema.version".utf8)

    private func checkSchemaVersion(_ handle: TransactionHandle) throws(StoreError) {
        let current = Array(String(Self.schemaVersion).utf8)
        guard let stored = try handle.payload(.meta, Self.schemaVersionKey) else {
            try handle.putRaw(.meta, Self.schemaVersionKey, current, deadline: nil)
            return
        }
        guard let version = Int(String(decoding: stored, as: UTF8.self)), version <= Self.schemaVersion else {
            throw StoreError(.notAStore, "the store was written by a newer Hermes (layout version \(String(decoding: stored, as: UTF8.self)), this one knows \(Self.schemaVersion)); run that version or restore a backup")
        }
        if version < 2 {
            try migrateToGenerations(handle)
            try handle.putRaw(.meta, Self.schemaVersionKey, current, deadline: nil)
        }
    }

    /// Version 1 stored every keyspace under plain keys: moves the entries of generational keyspaces under
    /// their generation and drops their expiry-index entries, in the transaction that opens the store.
    private func migrateToGenerations(_ handle: TransactionHandle) throws(StoreError) {
        for keyspace in KeyspaceName.generational {
            guard let bucket = keyspace.generationBucketSeconds else { continue }
            var entries: [(key: [UInt8], value: [UInt8])] = []
            try handle.withCursor(keyspace) { cursor throws(StoreError) in
                var key = MDB_val()
                var data = MDB_val()
                var status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
                while status == 0 {
                    entries.append((
                        Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)),
                        Array(UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size))
                    ))
                    status = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
                }
                guard status == MDB_NOTFOUND else { throw Self.error(status, doing: "reading keyspace \(keyspace) to move it into expiry generations") }
            }
            guard !entries.isEmpty else { continue }
            try handle.check(mdb_drop(handle.txn, dbi(keyspace), 0), doing: "emptying keyspace \(keyspace) to move it into expiry generations")
            for entry in entries {
                guard entry.key.count <= Generation.maximumKeySize else {
                    throw StoreError(.invalidArgument, "keyspace \(keyspace) holds a key of \(entry.key.count) bytes, more than the \(Generation.maximumKeySize) this version allows there; delete that key with the previous version, then open the store again")
                }
                let deadline = entry.value.withUnsafeBytes { raw in try? StoredValue.header(raw, keyspace: keyspace).deadline }
                let end = Generation.end(for: deadline ?? nil, now: handle.now, bucketSeconds: bucket)
                try handle.putExact(keyspace, Generation.physicalKey(end, entry.key), entry.value)
            }
        }
        let generationalTags = Set(KeyspaceName.generational.map(\.tag))
        var stale: [[UInt8]] = []
        try handle.withCursor(.expiryIndex) { cursor throws(StoreError) in
            var key = MDB_val()
            var data = MDB_val()
            var status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
            while status == 0 {
                let bytes = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
                if bytes.count > 8, generationalTags.contains(bytes[8]) { stale.append(Array(bytes)) }
                status = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
            }
        }
        for key in stale { try handle.deleteExact(.expiryIndex, key) }
    }

    /// Finds which generations each generational keyspace holds, one B-tree search per generation.
    private func loadGenerations(_ handle: TransactionHandle) throws(StoreError) {
        for keyspace in KeyspaceName.generational {
            guard let table = generationTables[Int(keyspace.tag)] else { continue }
            var ends: [UInt32] = []
            try handle.withCursor(keyspace) { cursor throws(StoreError) in
                var key = MDB_val()
                var data = MDB_val()
                var status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
                while status == 0 {
                    guard let end = Generation.decode(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)) else {
                        status = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
                        continue
                    }
                    ends.append(end)
                    guard end < Generation.permanent else { break }
                    var next = Generation.prefix(end + 1)
                    status = next.withUnsafeMutableBytes { buffer in
                        key = MDB_val(mv_size: buffer.count, mv_data: buffer.baseAddress)
                        return mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE)
                    }
                }
                guard status == 0 || status == MDB_NOTFOUND else { throw Self.error(status, doing: "listing the generations of keyspace \(keyspace)") }
            }
            table.load(ends)
        }
    }

    func dbi(_ keyspace: KeyspaceName) -> MDB_dbi { dbis[Int(keyspace.tag)] }

    var isClosed: Bool { state.withLock { $0.closed } }
    var mapSize: Int { state.withLock { $0.mapSize } }

    // MARK: Read transactions

    /// Runs `body` in a read transaction from the pool (reset/renew keeps the reader slot, which under
    /// `MDB_NOTLS` would otherwise be taken and released under a mutex on every read).
    func withReadTransaction<T, E: Error>(_ body: (OpaquePointer) throws(E) -> T) throws -> T {
        while true {
            let outcome: Result<T, any Error>? = try resizeLock.withReadLock { () throws(StoreError) -> Result<T, any Error>? in
                guard !isClosed else { throw StoreError(.closed, "the store is closed") }
                var txn = readPool.withLock { $0.popLast() }?.txn
                var status: Int32
                if let pooled = txn {
                    status = mdb_txn_renew(pooled)
                    if status != 0 { mdb_txn_abort(pooled); txn = nil }
                } else {
                    status = 0
                }
                if txn == nil {
                    status = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
                }
                if status == MDB_MAP_RESIZED { return nil }
                guard status == 0, let txn else {
                    if status == MDB_READERS_FULL {
                        throw StoreError(.readersFull, "all \(configuration.maximumReaders) reader slots are in use; raise the reader limit or check for stuck processes", lmdbStatus: status)
                    }
                    throw Self.error(status, doing: "starting a read transaction")
                }
                defer {
                    mdb_txn_reset(txn)
                    let kept = readPool.withLock { pool -> Bool in
                        guard pool.count < Self.readPoolLimit else { return false }
                        pool.append(PooledTransaction(txn: txn))
                        return true
                    }
                    if !kept { mdb_txn_abort(txn) }
                }
                do { return .success(try body(txn)) } catch { return .failure(error) }
            }
            if let outcome { return try outcome.get() }
            adoptMapSizeFromOtherProcess()
        }
    }

    /// The id of the newest write transaction any process has committed, read from LMDB's meta pages
    /// without starting a transaction. Ids only grow.
    func lastCommittedTransaction() throws(StoreError) -> Int {
        try resizeLock.withReadLock { () throws(StoreError) -> Int in
            guard !isClosed else { throw StoreError(.closed, "the store is closed") }
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            return info.me_last_txnid
        }
    }

    // MARK: Map size

    /// Another process grew the map; adopt its size (LMDB's `MDB_MAP_RESIZED`).
    func adoptMapSizeFromOtherProcess() {
        resizeLock.withWriteLock {
            drainReadPool()
            mdb_env_set_mapsize(env, 0)
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            state.withLock { $0.mapSize = info.me_mapsize }
        }
    }

    /// Grows the map after `MDB_MAP_FULL`; returns false when it may not grow further.
    func growMap() -> Bool {
        resizeLock.withWriteLock {
            let current = mapSize
            let limit = configuration.maximumMapSize ?? current
            guard current < limit else { return false }
            let next = Self.pageAligned(min(limit, current * 2))
            drainReadPool()
            guard mdb_env_set_mapsize(env, next) == 0 else { return false }
            state.withLock { $0.mapSize = next }
            return true
        }
    }

    private func drainReadPool() {
        let pooled = readPool.withLock { pool in
            defer { pool.removeAll() }
            return pool
        }
        for pooled in pooled { mdb_txn_abort(pooled.txn) }
    }

    func mapFullError() -> StoreError {
        let mib = mapSize >> 20
        let limit = (configuration.maximumMapSize ?? mapSize) >> 20
        return StoreError(
            .mapFull,
            "the store is full: it uses its whole map of \(mib) MiB and may grow to \(limit) MiB. Raise the maximum map size (--map-size), or delete data; nothing committed was lost",
            lmdbStatus: MDB_MAP_FULL
        )
    }

    // MARK: Closing

    func close() {
        resizeLock.withWriteLock {
            let wasOpen = state.withLock { state -> Bool in
                defer { state.closed = true }
                return !state.closed
            }
            guard wasOpen else { return }
            drainReadPool()
            mdb_env_sync(env, 1)
            mdb_env_close(env)
            _ = Self.openPaths.withLock { $0.remove(canonicalPath) }
        }
    }

    // MARK: Helpers

    static func pageAligned(_ size: Int) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return max(page * 16, (size + page - 1) / page * page)
    }

    private static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func prepareDirectory(_ directory: String, create: Bool) throws(StoreError) {
        var info = stat()
        if stat(directory, &info) != 0 {
            guard create else {
                throw StoreError(.stateDirectoryMissing, "the state directory \(directory) does not exist; create it or pass another --state-dir")
            }
            var built = directory.hasPrefix("/") ? "" : "."
            for part in directory.split(separator: "/") {
                built += "/" + part
                if mkdir(built, 0o700) != 0 && errno != EEXIST {
                    let reason = String(cString: strerror(errno))
                    throw StoreError(.stateDirectoryMissing, "cannot create the state directory \(directory) (\(reason) at \(built)); create it by hand or pass another --state-dir")
                }
            }
            guard stat(directory, &info) == 0 else {
                throw StoreError(.stateDirectoryMissing, "cannot create the state directory \(directory)")
            }
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw StoreError(.stateDirectoryMissing, "\(directory) is not a directory; pass a directory as --state-dir")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(.stateDirectoryUnwritable, "the state directory \(directory) is not writable (\(reason)); give user \(getuid()) write access or pass another --state-dir")
        }
    }

    private static func openError(_ status: Int32, path: String) -> StoreError {
        switch status {
        case MDB_INVALID, MDB_VERSION_MISMATCH, MDB_CORRUPTED, MDB_INCOMPATIBLE:
            return StoreError(.notAStore, "\(path) does not hold a readable LMDB store (\(message(status))); restore it from a backup or move it aside", lmdbStatus: status)
        case EACCES, EROFS, EPERM:
            return StoreError(.stateDirectoryUnwritable, "cannot open the store at \(path) for writing (\(message(status))); check its owner and permissions", lmdbStatus: status)
        case ENOENT:
            return StoreError(.stateDirectoryMissing, "cannot open the store at \(path): \(message(status))", lmdbStatus: status)
        default:
            return error(status, doing: "opening the store at \(path)")
        }
    }

    static func error(_ status: Int32, doing what: String) -> StoreError {
        switch status {
        case MDB_MAP_FULL:
            return StoreError(.mapFull, "the store is full while \(what); raise the map size", lmdbStatus: status)
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND:
            return StoreError(.notAStore, "the store is corrupt (\(message(status))) while \(what); restore it from a backup", lmdbStatus: status)
        default:
            return StoreError(.lmdb, "LMDB failed while \(what): \(message(status))", lmdbStatus: status)
        }
    }

    static func message(_ status: Int32) -> String {
        String(cString: mdb_strerror(status))
    }
}
