import Crypto
import Glibc
import Store
import Synchronization

/// `hermes-bench store`: runs every part, prints a line per figure and, with `--json`, a summary.
struct StoreBenchmark: Sendable {
    let options: StoreBenchmarkOptions
    let out: Reporter

    /// Targets from the design; a figure without a target is reported but not judged.
    enum Target {
        static let appendsPerSecondAt64Writers = 40_000.0
        static let resolveMedianNanoseconds: UInt64 = 2_000
        static let sweepEntriesPerSecond = 200_000.0
        static let sweepLongestTransactionNanoseconds: UInt64 = 10_000_000
    }

    init(options: StoreBenchmarkOptions) {
        self.options = options
        out = Reporter(descriptor: options.json ? 2 : 1)
    }

    func run() async throws -> Int32 {
        let scratch = try ScratchDirectory(parent: options.scratchParent)
        defer { scratch.remove() }

        var summary = JSONObject()
        summary.set("benchmark", "store")
        summary.set("schema", 1)
        summary.set("machine", machineDescription(scratch: scratch.path))
        out.line("hermes-bench store: scratch state in \(scratch.path) (\(filesystemDescription(of: scratch.path)))")
        out.line("measuring \(fixed(options.seconds, 1)) s per throughput figure; \(ProcessInfoLite.processors) cores")
        out.line()

        var checks: [JSONValue] = []
        func check(_ name: String, value: Double, target: Double, unit: String, atMost: Bool = false) {
            var object = JSONObject()
            object.set("name", name)
            object.set("value", value)
            object.set("target", target)
            object.set("unit", unit)
            object.set("comparison", atMost ? "<=" : ">=")
            let pass = atMost ? value <= target : value >= target
            object.set("pass", pass)
            checks.append(.object(object))
        }

        if options.parts.contains(.gets) {
            summary.set("gets", try await measureGets(scratch))
        }
        if options.parts.contains(.puts) {
            summary.set("puts", try await measurePuts(scratch))
        }
        if options.parts.contains(.appends) {
            let appends = try await measureAppends(scratch)
            summary.set("appends", appends.json)
            if let grouped64 = appends.groupCommitRate[64] {
                check("durable_appends_per_s_64_writers", value: grouped64, target: Target.appendsPerSecondAt64Writers, unit: "appends/s")
            }
        }
        if options.parts.contains(.resolve) {
            let resolve = try await measureCredentialResolve(scratch)
            summary.set("credential_resolve", resolve.json)
            check(
                "credential_resolve_median_us", value: Double(resolve.median) / 1000,
                target: Double(Target.resolveMedianNanoseconds) / 1000, unit: "µs", atMost: true
            )
        }
        if options.parts.contains(.sweep) {
            var sweeps = JSONObject()
            for order in options.sweepKeyOrders {
                let sweep = try await measureSweep(scratch, order: order)
                sweeps.set(order.rawValue, sweep.json)
                // Random keys in an indexed keyspace are a reference for what generations save, not a target.
                guard order != .randomIndexed else { continue }
                check("sweep_\(order.rawValue)_entries_per_s", value: sweep.entriesPerSecond, target: Target.sweepEntriesPerSecond, unit: "entries/s")
                check(
                    "sweep_\(order.rawValue)_longest_write_transaction_ms", value: Double(sweep.longestTransaction) / 1e6,
                    target: Double(Target.sweepLongestTransactionNanoseconds) / 1e6, unit: "ms", atMost: true
                )
            }
            summary.set("sweep", sweeps)
        }

        summary["checks"] = .array(checks)
        let failed = checks.compactMap { check -> String? in
            guard case .object(let object) = check, case .bool(false)? = object["pass"], case .string(let name)? = object["name"] else { return nil }
            return name
        }
        summary.set("all_targets_met", failed.isEmpty)
        out.line()
        if !checks.isEmpty {
            out.line(failed.isEmpty ? "all \(checks.count) targets met" : "targets missed: \(failed.joined(separator: ", "))")
        }
        if options.json { writeStandardOutput(summary.render()) }
        return 0
    }

    // MARK: - Gets

    /// Random-key gets over `getEntries` present entries, on one and on two threads, each get its own read
    /// transaction (`store.get`), and the same inside one long read transaction for comparison.
    func measureGets(_ scratch: ScratchDirectory) async throws -> JSONObject {
        let store = try Store(StoreConfiguration(location: .directory(scratch.subdirectory("gets"))))
        defer { store.close() }
        let sessions = Keyspace<String, [UInt8]>(.sessions)
        var random = SplitMix64(seed: 1)
        let keys = (0..<options.getEntries).map { _ in "session:" + hex(random.next()) }
        let value = random.bytes(128)
        try await fill(store, keyCount: keys.count) { txn, range in
            for index in range { try txn.put(sessions, keys[index], value) }
        }

        let seconds = options.seconds
        func run(threads: Int, seconds: Double) throws -> (rate: Double, operations: Int) {
            let results = Mutex<(operations: Int, bytes: Int, error: String?)>((0, 0, nil))
            let started = monotonicNanoseconds()
            let deadline = started + UInt64(seconds * 1e9)
            onThreads(threads) { thread in
                var random = SplitMix64(seed: 100 + UInt64(thread))
                var operations = 0
                var bytes = 0
                do {
                    while monotonicNanoseconds() < deadline {
                        for _ in 0..<1024 {
                            let key = keys[random.next(below: keys.count)]
                            bytes &+= try store.get(sessions, key)?.count ?? 0
                        }
                        operations += 1024
                    }
                } catch {
                    results.withLock { $0.error = "\(error)" }
                }
                results.withLock {
                    $0.operations += operations
                    $0.bytes &+= bytes
                }
            }
            let elapsed = monotonicNanoseconds() - started
            let outcome = results.withLock { $0 }
            if let error = outcome.error { throw BenchmarkError("a get failed: \(error)") }
            guard outcome.bytes == outcome.operations * value.count else { throw BenchmarkError("a get missed a present key") }
            return (Double(outcome.operations) / inSeconds(elapsed), outcome.operations)
        }

        // Warm up the map and the read-transaction pool (the first run's figure is dropped).
        _ = try run(threads: 2, seconds: min(0.5, seconds))
        let single = try run(threads: 1, seconds: seconds)
        out.line(row("gets, 1 thread (store.get)", "\(grouped(single.rate)) /s", "random keys over \(grouped(Double(keys.count))) entries"))
        let double = try run(threads: 2, seconds: seconds)
        out.line(row("gets, 2 threads (store.get)", "\(grouped(double.rate)) /s", "\(fixed(double.rate / single.rate, 2))× one thread"))

        // The same gets inside one read transaction: the cost of the lookup alone.
        let count = max(100_000, min(2_000_000, Int(single.rate * seconds)))
        let inside: UInt64 = try store.read { txn in
            var random = SplitMix64(seed: 7)
            var bytes = 0
            let started = monotonicNanoseconds()
            for _ in 0..<count {
                bytes &+= try txn.get(sessions, keys[random.next(below: keys.count)])?.count ?? 0
            }
            let elapsed = monotonicNanoseconds() - started
            guard bytes == count * value.count else { throw BenchmarkError("a get missed a present key") }
            return elapsed
        }
        let insideRate = Double(count) / inSeconds(inside)
        out.line(row("gets, 1 thread, one read txn", "\(grouped(insideRate)) /s", "\(fixed(Double(inside) / Double(count), 0)) ns per get without opening a transaction"))

        var json = JSONObject()
        json.set("entries", keys.count)
        json.set("value_bytes", value.count)
        json.set("single_thread_per_s", single.rate)
        json.set("two_threads_per_s", double.rate)
        json.set("one_read_transaction_per_s", insideRate)
        return json
    }

    // MARK: - Puts

    /// Durable puts from many tasks through `store.put`, and raw puts batched in one `store.write`.
    func measurePuts(_ scratch: ScratchDirectory) async throws -> JSONObject {
        let store = try Store(StoreConfiguration(location: .directory(scratch.subdirectory("puts"))))
        defer { store.close() }
        let sessions = Keyspace<String, [UInt8]>(.sessions)
        var random = SplitMix64(seed: 2)
        let value = random.bytes(128)
        let tasks = options.putTasks

        func durable(seconds: Double, round: Int) async throws -> (rate: Double, writes: Int, commits: Int) {
            let before = store.statistics
            let started = monotonicNanoseconds()
            let deadline = started + UInt64(seconds * 1e9)
            let writes = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        var count = 0
                        while monotonicNanoseconds() < deadline {
                            try await store.put(sessions, "put:\(round):\(task):\(count)", value)
                            count += 1
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = monotonicNanoseconds() - started
            let after = store.statistics
            return (Double(writes) / inSeconds(elapsed), writes, after.commits - before.commits)
        }
        _ = try await durable(seconds: min(0.3, options.seconds), round: 0)
        let put = try await durable(seconds: options.seconds, round: 1)
        out.line(row(
            "puts, durable, \(tasks) tasks (store.put)", "\(grouped(put.rate)) /s",
            "\(fixed(Double(put.writes) / Double(max(put.commits, 1)), 1)) puts per fsync'd commit"
        ))

        // Raw puts inside one write transaction: what one put costs without the fsync.
        var rounds: [(inside: UInt64, total: UInt64)] = []
        let count = options.batchedPuts
        for round in 0..<3 {
            let keys = (0..<count).map { _ in "batch:\(round):" + hex(random.next()) }
            let started = monotonicNanoseconds()
            let inside = try await store.write { txn in
                let started = monotonicNanoseconds()
                for key in keys { try txn.put(sessions, key, value) }
                return monotonicNanoseconds() - started
            }
            rounds.append((inside, monotonicNanoseconds() - started))
        }
        let middle = rounds.sorted { $0.inside < $1.inside }[1]
        let insideRate = Double(count) / inSeconds(middle.inside)
        let totalRate = Double(count) / inSeconds(middle.total)
        out.line(row(
            "puts, \(grouped(Double(count))) in one store.write", "\(grouped(insideRate)) /s",
            "\(fixed(Double(middle.inside) / Double(count), 0)) ns per put before commit; \(grouped(totalRate)) /s with the commit"
        ))

        var json = JSONObject()
        json.set("value_bytes", value.count)
        json.set("durable_tasks", tasks)
        json.set("durable_per_s", put.rate)
        json.set("durable_puts_per_commit", Double(put.writes) / Double(max(put.commits, 1)))
        json.set("batched_puts_per_write", count)
        json.set("batched_per_s_without_commit", insideRate)
        json.set("batched_ns_per_put", Double(middle.inside) / Double(count))
        json.set("batched_per_s_with_commit", totalRate)
        return json
    }

    // MARK: - Appends

    struct AppendResults {
        var json: JSONObject
        var groupCommitRate: [Int: Double]
    }

    /// Durable appends to the audit log from 1, 16 and 64 concurrent writers, with group commit and with
    /// one fsync'd transaction per write (`maximumBatchSize: 1`).
    ///
    /// fsync latency on a shared or virtual disk swings from one second to the next, so every configuration
    /// is measured in `appendSlices` slices, interleaved with the other configurations, and reported as the
    /// median slice: a stall then spoils one slice of each configuration rather than a whole figure.
    func measureAppends(_ scratch: ScratchDirectory) async throws -> AppendResults {
        var random = SplitMix64(seed: 3)
        // An audit record of about 200 bytes, as the daemon writes one per tool call.
        let record = Array(
            (#"{"ts":"2025-11-25T10:00:00.000Z","tool":"whatsapp_send_message","platform":"whatsapp","status":"ok","ms":182,"#
                + #""request_id":"\#(hex(random.next()))\#(hex(random.next()))","bytes_in":412,"bytes_out":1731}"#).utf8
        )
        let modes: [(name: String, label: String, batch: Int)] = [
            ("group_commit", "group commit", 1024), ("one_fsync_per_write", "1 fsync per write", 1),
        ]
        let stores = try modes.map { mode in
            try Store(StoreConfiguration(location: .directory(scratch.subdirectory("appends-\(mode.name)")), maximumBatchSize: mode.batch))
        }
        defer { for store in stores { store.close() } }

        let slices = Self.appendSlices
        let sliceSeconds = max(0.5, options.seconds / Double(slices))
        struct Accumulated {
            var rates: [Double] = []
            var appends = 0
            var commits = 0
            var latencies: [UInt64] = []
        }
        var results: [String: Accumulated] = [:]
        for index in modes.indices {
            for writers in options.appendWriters {
                _ = try await appendRun(stores[index], writers: writers, seconds: min(0.3, sliceSeconds), record: record)
            }
        }
        for _ in 0..<slices {
            for writers in options.appendWriters {
                for (index, mode) in modes.enumerated() {
                    let slice = try await appendRun(stores[index], writers: writers, seconds: sliceSeconds, record: record)
                    results["\(mode.name)/\(writers)", default: Accumulated()].rates.append(slice.rate)
                    results["\(mode.name)/\(writers)"]!.appends += slice.latencies.count
                    results["\(mode.name)/\(writers)"]!.commits += slice.commits
                    results["\(mode.name)/\(writers)"]!.latencies += slice.latencies
                }
            }
        }

        var json = JSONObject()
        json.set("record_bytes", record.count)
        json.set("slices", slices)
        json.set("slice_seconds", sliceSeconds)
        var groupCommitRate: [Int: Double] = [:]
        var rates: [String: [Int: Double]] = [:]
        for mode in modes {
            var modeJSON = JSONObject()
            modeJSON.set("maximum_batch_size", mode.batch)
            for writers in options.appendWriters {
                let result = results["\(mode.name)/\(writers)"]!
                let rate = median(result.rates)
                let latency = LatencySummary(result.latencies)
                let perCommit = Double(result.appends) / Double(max(result.commits, 1))
                rates[mode.name, default: [:]][writers] = rate
                if mode.batch > 1 { groupCommitRate[writers] = rate }
                out.line(row(
                    "appends, durable, \(writers) writer\(writers == 1 ? "" : "s"), \(mode.label)", "\(grouped(rate)) /s",
                    "p50 \(microseconds(latency.median)), p99 \(microseconds(latency.p99)); \(fixed(perCommit, 1)) per fsync; slices \(result.rates.map { grouped($0) }.joined(separator: " / "))"
                ))
                var row = JSONObject()
                row.set("per_s", rate)
                row.set("slice_min_per_s", result.rates.min() ?? 0)
                row.set("slice_max_per_s", result.rates.max() ?? 0)
                row.set("appends", result.appends)
                row.set("appends_per_commit", perCommit)
                row.set("latency_p50_us", Double(latency.median) / 1000)
                row.set("latency_p99_us", Double(latency.p99) / 1000)
                row.set("latency_max_us", Double(latency.maximum) / 1000)
                modeJSON.set("writers_\(writers)", row)
            }
            json.set(mode.name, modeJSON)
        }
        for writers in options.appendWriters {
            if let grouped = rates["group_commit"]?[writers], let single = rates["one_fsync_per_write"]?[writers], single > 0 {
                out.line(row("  group commit gain at \(writers) writer\(writers == 1 ? "" : "s")", "\(fixed(grouped / single, 1))×", ""))
                json.set("group_commit_gain_\(writers)_writers", grouped / single)
            }
        }
        return AppendResults(json: json, groupCommitRate: groupCommitRate)
    }

    /// Slices per append configuration.
    static let appendSlices = 3

    func appendRun(
        _ store: Store, writers: Int, seconds: Double, record: [UInt8]
    ) async throws -> (rate: Double, commits: Int, latencies: [UInt64]) {
        let logs = Keyspace<SequencedKey, [UInt8]>.logs
        let before = store.statistics
        let started = monotonicNanoseconds()
        let deadline = started + UInt64(seconds * 1e9)
        let latencies = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let prefix = SequencedKey.logPrefix(customerID: "cust\(writer % 8)", day: "2025-11-25")
                    var latencies: [UInt64] = []
                    latencies.reserveCapacity(4096)
                    while true {
                        let begun = monotonicNanoseconds()
                        guard begun < deadline else { break }
                        try await store.append(logs, prefix: prefix, record)
                        latencies.append(monotonicNanoseconds() - begun)
                    }
                    return latencies
                }
            }
            var all: [UInt64] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = monotonicNanoseconds() - started
        return (Double(latencies.count) / inSeconds(elapsed), store.statistics.commits - before.commits, latencies)
    }

    // MARK: - Credential resolve

    struct ResolveResults {
        var json: JSONObject
        var median: UInt64
    }

    /// Reading a sealed credential from `creds` and opening it, timed one resolve at a time.
    func measureCredentialResolve(_ scratch: ScratchDirectory) async throws -> ResolveResults {
        try CryptoLibrary.initialize()
        let ring = try KeyRing.generate()
        let store = try Store(StoreConfiguration(location: .directory(scratch.subdirectory("creds"))))
        defer { store.close() }
        let creds = Keyspace<CredentialKey, [UInt8]>.creds
        let platforms = ["whatsapp", "telegram"]
        var random = SplitMix64(seed: 4)
        var keys: [CredentialKey] = []
        var bindings: [SealBinding] = []
        var envelopes: [[UInt8]] = []
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for _ in 0..<10_000 {
            let customerID = "cus_" + hex(random.next())
            for platform in platforms {
                // A token-like credential of printable characters.
                let secret = (0..<options.credentialBytes).map { _ in alphabet[random.next(below: alphabet.count)] }
                let binding = SealBinding(customerID: customerID, platform: platform)
                keys.append(CredentialKey(customerID: customerID, platform: platform))
                bindings.append(binding)
                envelopes.append(try ring.seal(secret, for: binding))
            }
        }
        let storedKeys = keys
        let storedEnvelopes = envelopes
        try await fill(store, keyCount: keys.count) { txn, range in
            for index in range { try txn.put(creds, storedKeys[index], storedEnvelopes[index]) }
        }

        let count = options.resolves
        let plaintextCount = options.credentialBytes
        func resolveRun(_ count: Int, seed: UInt64) throws -> [UInt64] {
            var random = SplitMix64(seed: seed)
            var latencies = [UInt64](repeating: 0, count: count)
            var bytes = 0
            for index in 0..<count {
                let pick = random.next(below: keys.count)
                let key = keys[pick]
                let binding = bindings[pick]
                let started = monotonicNanoseconds()
                guard let envelope = try store.get(creds, key) else { throw BenchmarkError("a credential is missing") }
                let secret = try ring.open(envelope, for: binding)
                let finished = monotonicNanoseconds()
                bytes &+= secret.count
                latencies[index] = finished - started
            }
            guard bytes == count * plaintextCount else { throw BenchmarkError("a credential opened to the wrong size") }
            return latencies
        }
        _ = try resolveRun(min(count, 50_000), seed: 5)
        let started = monotonicNanoseconds()
        let resolve = LatencySummary(try resolveRun(count, seed: 6))
        let elapsed = monotonicNanoseconds() - started

        // The parts on their own, and what the clock itself costs per reading pair.
        var random2 = SplitMix64(seed: 8)
        var getLatencies = [UInt64](repeating: 0, count: count)
        var openLatencies = [UInt64](repeating: 0, count: count)
        var timer = [UInt64](repeating: 0, count: count)
        for index in 0..<count {
            let pick = random2.next(below: keys.count)
            let started = monotonicNanoseconds()
            let envelope = try store.get(creds, keys[pick])
            getLatencies[index] = monotonicNanoseconds() - started
            guard envelope != nil else { throw BenchmarkError("a credential is missing") }
            let envelopeCopy = envelopes[pick]
            let openStarted = monotonicNanoseconds()
            let secret = try ring.open(envelopeCopy, for: bindings[pick])
            openLatencies[index] = monotonicNanoseconds() - openStarted
            guard secret.count == plaintextCount else { throw BenchmarkError("a credential opened to the wrong size") }
            let a = monotonicNanoseconds()
            timer[index] = monotonicNanoseconds() - a
        }
        let get = LatencySummary(getLatencies)
        let open = LatencySummary(openLatencies)
        let clock = LatencySummary(timer)

        out.line(row(
            "credential resolve (get + open)", "median \(microseconds(resolve.median))",
            "p99 \(microseconds(resolve.p99)), p99.9 \(microseconds(resolve.p999)); \(grouped(Double(count) / inSeconds(elapsed))) /s on 1 thread"
        ))
        out.line(row(
            "  of which creds get / open", "\(microseconds(get.median)) / \(microseconds(open.median))",
            "medians; \(plaintextCount)-byte credential, \(envelopes[0].count)-byte envelope, \(grouped(Double(keys.count))) stored; clock pair \(clock.median) ns"
        ))

        var json = JSONObject()
        json.set("resolves", count)
        json.set("credentials_stored", keys.count)
        json.set("credential_bytes", plaintextCount)
        json.set("envelope_bytes", envelopes[0].count)
        json.set("median_us", Double(resolve.median) / 1000)
        json.set("p99_us", Double(resolve.p99) / 1000)
        json.set("p999_us", Double(resolve.p999) / 1000)
        json.set("max_us", Double(resolve.maximum) / 1000)
        json.set("mean_us", resolve.mean / 1000)
        json.set("per_s_one_thread", Double(count) / inSeconds(elapsed))
        json.set("get_median_us", Double(get.median) / 1000)
        json.set("get_p99_us", Double(get.p99) / 1000)
        json.set("open_median_us", Double(open.median) / 1000)
        json.set("open_p99_us", Double(open.p99) / 1000)
        json.set("clock_pair_median_ns", clock.median)
        return ResolveResults(json: json, median: resolve.median)
    }

    // MARK: - Sweep

    struct SweepResults {
        var json: JSONObject
        var entriesPerSecond: Double
        var longestTransaction: UInt64
    }

    /// Fills the store with expiring entries, moves the clock past their deadlines and sweeps them all.
    func measureSweep(_ scratch: ScratchDirectory, order: StoreBenchmarkOptions.SweepKeyOrder) async throws -> SweepResults {
        let clock = ManualWallClock()
        let directory = scratch.subdirectory("sweep-\(order.rawValue)")
        let store = try Store(StoreConfiguration(location: .directory(directory), clock: clock))
        defer {
            store.close()
            removeTree(directory)
        }
        // Random ids live in a generational keyspace as the daemon's sessions and tokens do; keys in deadline
        // order in an indexed one, as audit logs and events do.
        let keyspaceName: KeyspaceName = switch order {
        case .random: .sessions
        case .sequential: .events
        case .randomIndexed: .usage
        }
        let sessions = Keyspace<String, [UInt8]>(keyspaceName)
        let total = options.sweepEntries
        let batch = options.sweepFillBatch
        var random = SplitMix64(seed: 9)
        let value = random.bytes(64)
        let base = clock.now()

        // Deadlines spread over a minute, in fill order. Random keys (session ids, token hashes) make the
        // sweep delete all over the keyspace's B-tree; sequential keys delete it front to back.
        let fillStarted = monotonicNanoseconds()
        var start = 0
        while start < total {
            let end = min(total, start + batch)
            let keys: [String] = (start..<end).map { index in
                order == .sequential ? "s:" + decimal(index, width: 10) : "s:" + hex(random.next())
            }
            let first = start
            try await store.write { txn in
                for (offset, key) in keys.enumerated() {
                    let deadline = base.adding(milliseconds: 60_000 + Int64((first + offset) * 60_000 / total))
                    try txn.put(sessions, key, value, expiresAt: deadline)
                }
            }
            start = end
        }
        let fillElapsed = monotonicNanoseconds() - fillStarted
        let fillRate = Double(total) / inSeconds(fillElapsed)
        out.line(row(
            "sweep: filled \(grouped(Double(total))) expiring entries", "\(grouped(fillRate)) /s",
            "\(grouped(Double(batch))) puts per store.write, \(order.rawValue) keys in \(keyspaceName) (\(layoutDescription(keyspaceName))), \(value.count)-byte values"
        ))

        clock.advance(seconds: 180)
        let budget = Duration.nanoseconds(Int64(options.sweepBudgetMilliseconds * 1e6))
        store.resetLongestTransaction()
        let ioBefore = ProcessIO.read()
        let before = store.statistics
        var deleted = 0
        var calls = 0
        var longestCall: UInt64 = 0
        let started = monotonicNanoseconds()
        while true {
            let callStarted = monotonicNanoseconds()
            let report = try await store.sweepExpired(maximumEntries: options.sweepMaximumEntries, budget: budget)
            longestCall = max(longestCall, monotonicNanoseconds() - callStarted)
            deleted += report.deleted
            calls += 1
            if !report.moreDue { break }
        }
        let elapsed = monotonicNanoseconds() - started
        let ioAfter = ProcessIO.read()
        let after = store.statistics
        let longest = after.longestTransactionNanoseconds
        let remaining = try store.read { txn in try txn.count(sessions) }
        guard deleted == total, remaining == 0 else {
            throw BenchmarkError("the sweep deleted \(deleted) of \(total) expired entries and left \(remaining) live")
        }
        let rate = Double(deleted) / inSeconds(elapsed)
        out.line(row(
            "sweep \(grouped(Double(deleted))) expired, \(order.rawValue) keys", "\(grouped(rate)) /s",
            "\(fixed(inSeconds(elapsed), 2)) s in \(calls) batches (maximumEntries \(options.sweepMaximumEntries), budget \(fixed(options.sweepBudgetMilliseconds, 1)) ms)"
        ))
        // What the sweep asked the kernel to write (LMDB writes its dirty pages with pwrite at commit) and
        // what it dirtied in the page cache, per deleted entry.
        let writtenPerEntry = Double(ioAfter.written - ioBefore.written) / Double(max(deleted, 1))
        let dirtiedPerEntry = Double(ioAfter.dirtied - ioBefore.dirtied) / Double(max(deleted, 1))
        out.line(row(
            "  bytes written per deleted entry", "\(grouped(writtenPerEntry)) B",
            "write syscalls (/proc/self/io wchar); \(grouped(dirtiedPerEntry)) B of page cache dirtied (write_bytes)"
        ))
        out.line(row(
            "  longest write transaction while sweeping", milliseconds(longest),
            "longest sweepExpired call seen by the caller \(milliseconds(longestCall)); \(after.commits - before.commits) commits"
        ))

        var json = JSONObject()
        json.set("entries", total)
        json.set("key_order", order.rawValue)
        json.set("keyspace", keyspaceName.name)
        json.set("layout", layoutDescription(keyspaceName))
        json.set("written_bytes_per_entry", writtenPerEntry)
        json.set("dirtied_bytes_per_entry", dirtiedPerEntry)
        json.set("value_bytes", value.count)
        json.set("fill_puts_per_write", batch)
        json.set("fill_per_s", fillRate)
        json.set("maximum_entries", options.sweepMaximumEntries)
        json.set("budget_ms", options.sweepBudgetMilliseconds)
        json.set("per_s", rate)
        json.set("seconds", inSeconds(elapsed))
        json.set("batches", calls)
        json.set("longest_write_transaction_ms", Double(longest) / 1e6)
        json.set("longest_sweep_call_ms", Double(longestCall) / 1e6)
        return SweepResults(json: json, entriesPerSecond: rate, longestTransaction: longest)
    }

    // MARK: - Helpers

    func layoutDescription(_ keyspace: KeyspaceName) -> String {
        switch keyspace.expiryLayout {
        case .indexed: "indexed"
        case .generations(let bucket): "generations, bucket \(bucket.components.seconds) s"
        }
    }

    /// Writes `keyCount` entries in `store.write` calls of 10,000 each.
    func fill(
        _ store: Store, keyCount: Int, _ body: @escaping @Sendable (WriteTransaction, Range<Int>) throws -> Void
    ) async throws {
        var start = 0
        while start < keyCount {
            let range = start..<min(keyCount, start + 10_000)
            try await store.write { txn in try body(txn, range) }
            start = range.upperBound
        }
    }

    func row(_ label: String, _ figure: String, _ note: String) -> String {
        padded(label, 50) + " " + padded(figure, 16) + (note.isEmpty ? "" : " " + note)
    }

    func machineDescription(scratch: String) -> JSONObject {
        var json = JSONObject()
        json.set("processors", ProcessInfoLite.processors)
        json.set("cpu_model", ProcessInfoLite.cpuModel)
        json.set("kernel", ProcessInfoLite.kernel)
        json.set("scratch_filesystem", filesystemDescription(of: scratch))
        return json
    }
}

/// This process's I/O counters from `/proc/self/io`.
struct ProcessIO {
    /// Bytes passed to write system calls (`wchar`).
    var written: Int = 0
    /// Bytes of page cache this process dirtied, to be written to disk (`write_bytes`).
    var dirtied: Int = 0

    static func read() -> ProcessIO {
        var counters = ProcessIO()
        guard let file = fopen("/proc/self/io", "r") else { return counters }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 256)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = cString(buffer)
            let parts = line.split(separator: ":")
            guard parts.count == 2, let value = Int(parts[1].trimmingCharacters()) else { continue }
            switch parts[0] {
            case "wchar": counters.written = value
            case "write_bytes": counters.dirtied = value
            default: break
            }
        }
        return counters
    }
}

extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingWhitespace() }
}

/// Sixteen lowercase hex digits.
func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// `value` as zero-padded decimal digits.
func decimal(_ value: Int, width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Facts about the machine, read without Foundation.
enum ProcessInfoLite {
    static var processors: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    static var cpuModel: String {
        guard let file = fopen("/proc/cpuinfo", "r") else { return "unknown" }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = cString(buffer)
            if line.hasPrefix("model name"), let colon = line.firstIndex(of: ":") {
                return String(line[line.index(after: colon)...]).trimmingWhitespace()
            }
        }
        return "unknown"
    }

    static var kernel: String {
        var name = utsname()
        uname(&name)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return field(name.sysname) + " " + field(name.release)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
