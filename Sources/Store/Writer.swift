import CLMDB
import Synchronization
import SystemThreads

/// One write submitted to the writer thread.
final class WriteRequest: @unchecked Sendable {
    // `@unchecked Sendable`: `run` is called only on the writer thread; `finish` exactly once, after commit.
    let run: (WriteTransaction) throws -> Void
    let finish: (Result<Void, any Error>) -> Void
    /// Whether the commit must reach the disk before `finish`. Non-durable writes (expiry sweeps) commit
    /// without fsync in batches of their own; the next durable commit syncs them along.
    let durable: Bool

    init(durable: Bool = true, run: @escaping (WriteTransaction) throws -> Void, finish: @escaping (Result<Void, any Error>) -> Void) {
        self.durable = durable
        self.run = run
        self.finish = finish
    }
}

/// Counters about the writer, for benchmarks, metrics and tests.
public struct StoreStatistics: Sendable, Equatable {
    /// Write transactions committed (each is one fsync).
    public var commits: Int = 0
    /// Writes that completed successfully.
    public var writes: Int = 0
    /// The longest time one write transaction was open, from begin to the end of its commit, in nanoseconds.
    public var longestTransactionNanoseconds: UInt64 = 0
    /// Times the map was grown after filling.
    public var mapGrowths: Int = 0
    /// How long the last non-durable (sweep) transaction took, in nanoseconds.
    public var lastNonDurableTransactionNanoseconds: UInt64 = 0
}

/// The single writer: a dedicated thread that takes every queued write, runs them in one LMDB write
/// transaction and commits once, so one fsync serves a whole batch (group commit). Callers are
/// completed only after the commit returned, that is, after their data is on disk
/// (docs/adr/0011-store-group-commit.md).
final class Writer: @unchecked Sendable {
    // `@unchecked Sendable`: `queue` and `stopping` are guarded by `lock`; `statistics` by its Mutex;
    // the environment is only written to from the writer thread.
    private let environment: Environment
    private let lock = ConditionLock()
    private var queue: [WriteRequest] = []
    private var stopping = false
    private var stopped = false
    private let statisticsState = Mutex(StoreStatistics())

    init(environment: Environment) {
        self.environment = environment
        // Its own thread: LMDB write transactions stay on one thread and must never span an `await`.
        do {
            try SystemThread.startDetached(name: "hermes-writer") { [self] in loop() }
        } catch {
            preconditionFailure("\(error)")
        }
    }

    var statistics: StoreStatistics { statisticsState.withLock { $0 } }

    func resetLongestTransaction() {
        statisticsState.withLock { $0.longestTransactionNanoseconds = 0 }
    }

    func submit(_ request: WriteRequest) {
        let accepted = lock.withLock { () -> Bool in
            guard !stopping else { return false }
            queue.append(request)
            lock.signalAll()
            return true
        }
        if !accepted { request.finish(.failure(StoreError(.closed, "the store is closed"))) }
    }

    /// Finishes every queued write, then stops the thread; returns when it has stopped.
    func stop() {
        lock.withLock {
            stopping = true
            lock.signalAll()
            while !stopped { lock.wait() }
        }
    }

    private func loop() {
        let maximumBatch = environment.configuration.maximumBatchSize
        while true {
            let batch: [WriteRequest] = lock.withLock {
                while queue.isEmpty && !stopping { lock.wait() }
                // A batch is all durable or all not: only then can its commit skip the fsync.
                let durable = queue.first?.durable ?? true
                let count = min(queue.prefix { $0.durable == durable }.count, maximumBatch)
                defer { queue.removeFirst(count) }
                return Array(queue.prefix(count))
            }
            if batch.isEmpty {
                lock.withLock {
                    stopped = true
                    lock.signalAll()
                }
                return
            }
            commit(batch)
        }
    }

    /// Runs a batch in one transaction. A write that throws is left out and the batch re-run without it,
    /// so one bad write never spoils the others; a full map grows it and re-runs, or fails the batch.
    private func commit(_ batch: [WriteRequest]) {
        var pending = batch
        var failures: [(WriteRequest, any Error)] = []
        attempt: while !pending.isEmpty {
            let started = monotonicNanoseconds()
            var txnPointer: OpaquePointer?
            let durable = pending[0].durable
            var status = mdb_txn_begin(environment.env, nil, durable ? 0 : UInt32(MDB_NOSYNC), &txnPointer)
            if status == MDB_MAP_RESIZED {
                environment.adoptMapSizeFromOtherProcess()
                continue attempt
            }
            guard status == 0, let txn = txnPointer else {
                fail(pending, Environment.error(status, doing: "starting a write transaction"), also: failures)
                return
            }
            let transaction = WriteTransaction(handle: TransactionHandle(txn: txn, environment: environment, now: environment.configuration.clock.now()))
            for (index, request) in pending.enumerated() {
                do {
                    try request.run(transaction)
                } catch let error as StoreError where error.code == .mapFull {
                    mdb_txn_abort(txn)
                    if growMap() { continue attempt }
                    fail(pending, environment.mapFullError(), also: failures)
                    return
                } catch {
                    mdb_txn_abort(txn)
                    failures.append((request, error))
                    pending.remove(at: index)
                    continue attempt
                }
            }
            status = mdb_txn_commit(txn)
            recordDuration(since: started, durable: durable)
            if status == MDB_MAP_FULL {
                if growMap() { continue attempt }
                fail(pending, environment.mapFullError(), also: failures)
                return
            }
            guard status == 0 else {
                fail(pending, Environment.error(status, doing: "committing a write transaction"), also: failures)
                return
            }
            statisticsState.withLock {
                $0.commits += 1
                $0.writes += pending.count
            }
            for request in pending { request.finish(.success(())) }
            for (request, error) in failures { request.finish(.failure(error)) }
            return
        }
        for (request, error) in failures { request.finish(.failure(error)) }
    }

    private func growMap() -> Bool {
        guard environment.growMap() else { return false }
        statisticsState.withLock { $0.mapGrowths += 1 }
        return true
    }

    private func fail(_ requests: [WriteRequest], _ error: StoreError, also failures: [(WriteRequest, any Error)]) {
        for request in requests { request.finish(.failure(error)) }
        for (request, error) in failures { request.finish(.failure(error)) }
    }

    private func recordDuration(since started: UInt64, durable: Bool) {
        let elapsed = monotonicNanoseconds() - started
        statisticsState.withLock {
            $0.longestTransactionNanoseconds = max($0.longestTransactionNanoseconds, elapsed)
            if !durable { $0.lastNonDurableTransactionNanoseconds = elapsed }
        }
    }
}
