import CLMDB
import Glibc
public import Logging
import Synchronization
import SystemThreads

/// The daemon's whole state: one LMDB environment with typed keyspaces, expiring entries, a single
/// writer thread with group commit, concurrent readers and hot backups.
///
/// Reads run on the caller's thread and never wait for the writer. Writes are queued to the writer
/// thread and complete only after their transaction is committed and synced to disk.
public final class Store: Sendable {
    let environment: Environment
    private let writer: Writer
    private let logger: Logger
    /// Entries per sweep transaction, adapted to how long the last one took.
    private let sweepBatch = Mutex(2_000)

    /// Opens (creating when needed) the store described by `configuration`.
    public init(_ configuration: StoreConfiguration, logger: Logger = Logger(label: "hermes.store")) throws(StoreError) {
        environment = try Environment(configuration: configuration, logger: logger)
        writer = Writer(environment: environment)
        self.logger = logger
        logger.debug("store opened", metadata: ["store.path": "\(configuration.location.path)", "store.map_mib": "\(environment.mapSize >> 20)"])
    }

    /// Finishes queued writes, syncs and closes the environment. Later calls fail with ``StoreError/Code/closed``.
    public func close() {
        writer.stop()
        environment.close()
    }

    /// The current map size in bytes.
    public var mapSize: Int { environment.mapSize }

    /// Writer counters.
    public var statistics: StoreStatistics { writer.statistics }

    /// Starts measuring the longest write transaction afresh.
    public func resetLongestTransaction() { writer.resetLongestTransaction() }

    /// The clock expiry decisions use.
    public var clock: any WallClock { environment.configuration.clock }

    // MARK: Reading

    /// Runs `body` in a read-only snapshot on the calling thread.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        let now = environment.configuration.clock.now()
        return try environment.withReadTransaction { txn in
            try body(ReadTransaction(handle: TransactionHandle(txn: txn, environment: environment, now: now)))
        }
    }

    /// The id of the newest write transaction any process has committed (ids only grow). Reading it
    /// starts no transaction; compare it with ``ReadTransaction/transactionID`` to tell whether a snapshot
    /// is still the newest.
    public func lastCommittedTransaction() throws(StoreError) -> Int {
        try environment.lastCommittedTransaction()
    }

    /// The live value of one key.
    public func get<K, V>(_ keyspace: Keyspace<K, V>, _ key: K) throws -> V? {
        try read { try $0.get(keyspace, key) }
    }

    // MARK: Writing

    /// Runs `body` in the writer's transaction and returns once it is durably committed.
    ///
    /// `body` runs on the writer thread together with other callers' writes and may be run again if the
    /// batch has to be retried, so it must only touch the store through the transaction. If it throws,
    /// none of its changes are kept and the error is rethrown here; other writes are unaffected.
    public func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await submit(durable: true, body)
    }

    private func submit<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let result = ResultSlot<T>()
            writer.submit(WriteRequest(
                durable: durable,
                run: { transaction in result.value = try body(transaction) },
                finish: { outcome in
                    switch outcome {
                    case .success: continuation.resume(returning: result.value!)
                    case .failure(let error): continuation.resume(throwing: error)
                    }
                }
            ))
        }
    }

    /// Stores a value durably.
    public func put<K, V>(_ keyspace: Keyspace<K, V>, _ key: K, _ value: V, expiresAt deadline: Timestamp? = nil) async throws {
        try await write { try $0.put(keyspace, key, value, expiresAt: deadline) }
    }

    /// Deletes a key durably; returns whether a live value was deleted.
    @discardableResult
    public func delete<K, V>(_ keyspace: Keyspace<K, V>, _ key: K) async throws -> Bool {
        try await write { try $0.delete(keyspace, key) }
    }

    /// Appends a record under `prefix` and returns once it is on disk (group commit: one fsync for every
    /// append that arrived meanwhile).
    @discardableResult
    public func append<V>(_ keyspace: Keyspace<SequencedKey, V>, prefix: String, _ value: V, expiresAt deadline: Timestamp? = nil) async throws -> SequencedKey {
        try await write { try $0.append(keyspace, prefix: prefix, value, expiresAt: deadline) }
    }

    // MARK: Expiry

    /// Deletes one bounded batch of expired entries: at most `maximumEntries`, stopping early once `budget`
    /// is spent, and no more than the adaptive batch size that keeps one sweep transaction near 5 ms.
    ///
    /// Sweeps commit without fsync (an expired entry is already invisible); the next durable commit syncs them
    /// (docs/adr/0012-store-expiry-generations.md).
    public func sweepExpired(maximumEntries: Int = 20_000, budget: Duration = .milliseconds(4)) async throws -> SweepReport {
        let nanoseconds = UInt64(budget.components.seconds) * 1_000_000_000 + UInt64(budget.components.attoseconds / 1_000_000_000)
        let limit = min(maximumEntries, sweepBatch.withLock { $0 })
        let report = try await submit(durable: false) { try $0.handle.sweepDue(maximumEntries: limit, budgetNanoseconds: nanoseconds) }
        let took = writer.statistics.lastNonDurableTransactionNanoseconds
        sweepBatch.withLock { batch in
            if took > 6_000_000 {
                batch = max(64, batch / 2)
            } else if took < 3_000_000, report.moreDue, report.deleted >= limit {
                batch = min(Self.largestSweepBatch, batch * 3 / 2)
            }
        }
        return report
    }

    static let largestSweepBatch = 50_000

    /// Sweeps batch after batch until nothing is due; returns how many entries were deleted.
    @discardableResult
    public func sweepAllExpired(budget: Duration = .milliseconds(4)) async throws -> Int {
        var total = 0
        while true {
            let report = try await sweepExpired(budget: budget)
            total += report.deleted
            if !report.moreDue { return total }
        }
    }

    /// Sweeps every `interval` until the task is cancelled. Between batches other writes get their turn.
    public func runSweeper(interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            do {
                let deleted = try await sweepAllExpired()
                if deleted > 0 { logger.debug("swept expired entries", metadata: ["store.swept": "\(deleted)"]) }
            } catch let error as StoreError where error.code == .closed {
                return
            } catch {
                logger.error("sweeping expired entries failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    // MARK: Backup

    /// Writes a compacted copy of the store to `path` while writes continue. The copy is a consistent
    /// snapshot; it is written beside `path` and renamed into place only once complete and synced.
    /// Open it with `StoreConfiguration(location: .file(path))`.
    public func backup(to path: String) async throws {
        let environment = self.environment
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            do {
                try SystemThread.startDetached(name: "hermes-backup") {
                    do {
                        try Self.copy(environment, to: path)
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            } catch {
                preconditionFailure("\(error)")
            }
        }
    }

    private static func copy(_ environment: Environment, to path: String) throws(StoreError) {
        let temporary = path + ".partial"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError(.backupFailed, "cannot create the backup file \(temporary): \(String(cString: strerror(errno)))")
        }
        var closed = false
        defer {
            if !closed { Glibc.close(descriptor) }
        }
        let status: Int32 = try environment.resizeLock.withReadLock { () throws(StoreError) -> Int32 in
            guard !environment.isClosed else { throw StoreError(.closed, "the store is closed") }
            return mdb_env_copyfd2(environment.env, descriptor, UInt32(MDB_CP_COMPACT))
        }
        guard status == 0 else {
            unlink(temporary)
            throw StoreError(.backupFailed, "writing the backup to \(temporary) failed: \(Environment.message(status))", lmdbStatus: status)
        }
        guard fsync(descriptor) == 0 else {
            unlink(temporary)
            throw StoreError(.backupFailed, "syncing the backup \(temporary) failed: \(String(cString: strerror(errno)))")
        }
        Glibc.close(descriptor)
        closed = true
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw StoreError(.backupFailed, "cannot move the backup into place at \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Carries a write's result from the writer thread to the waiting caller.
private final class ResultSlot<T>: @unchecked Sendable {
    // `@unchecked Sendable`: written on the writer thread before `finish`, read by the caller after it.
    var value: T?
}
