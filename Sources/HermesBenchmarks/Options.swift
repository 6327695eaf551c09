import Glibc

/// Command-line options of `hermes-bench store`.
struct StoreBenchmarkOptions: Sendable {
    /// Print the JSON summary on stdout (human-readable lines go to stderr).
    var json = false
    /// Where the scratch state directory is made; it must be on the disk being measured.
    var scratchParent = "/var/tmp"
    /// Seconds per throughput measurement (gets, durable puts, each append configuration).
    var seconds = 3.0
    /// Entries present while measuring gets.
    var getEntries = 100_000
    /// Concurrent tasks doing durable `store.put`.
    var putTasks = 64
    /// Puts in one `store.write` for the batched-put figure.
    var batchedPuts = 100_000
    /// Concurrent writer counts for the append comparison.
    var appendWriters = [1, 16, 64]
    /// Credential resolves to time one by one.
    var resolves = 200_000
    /// Bytes of plaintext in each credential.
    var credentialBytes = 200
    /// Expired entries to sweep.
    var sweepEntries = 1_000_000
    /// Puts per `store.write` while filling the store for the sweep.
    var sweepFillBatch = 10_000
    /// `maximumEntries:` of each `Store.sweepExpired` call.
    var sweepMaximumEntries = 20_000
    /// `budget:` of each `Store.sweepExpired` call, in milliseconds.
    var sweepBudgetMilliseconds = 4.0
    /// Sweep runs: expired entries with keys in deadline order (audit logs, an indexed keyspace), and with
    /// random keys (sessions, token hashes) in a keyspace laid out in expiry generations, as the daemon keeps
    /// them. `random_indexed` (random keys in an indexed keyspace, deleted all over its B-tree) is a
    /// reference for what generations save; it is slow, so it runs only when asked for.
    var sweepKeyOrders: [SweepKeyOrder] = [.sequential, .random]
    /// Which parts to run.
    var parts: Set<Part> = Set(Part.allCases)

    enum Part: String, CaseIterable, Sendable {
        case gets, puts, appends, resolve, sweep
    }

    enum SweepKeyOrder: String, Sendable {
        case random, sequential
        case randomIndexed = "random_indexed"
    }

    static let usage = """
        usage: hermes-bench store [options]

        Measures the Store (LMDB) on this machine: gets, puts, durable appends with and without group commit,
        credential resolves (read + open the sealed envelope) and sweeping expired entries.

        options:
          --json                      print a JSON summary on stdout; human-readable lines go to stderr
          --scratch-dir DIR           parent of the temporary state directory (default /var/tmp);
                                      put it on the disk you want to measure; it is deleted afterwards
          --seconds S                 seconds per throughput measurement (default 3); each append
                                      configuration runs in 3 interleaved slices of S/3 seconds
          --only LIST                 comma-separated parts: gets,puts,appends,resolve,sweep (default all)
          --quick                     small counts and 0.5 s measurements, for a smoke test
          --get-entries N             entries present while measuring gets (default 100000)
          --put-tasks N               concurrent tasks doing durable puts (default 64)
          --batched-puts N            puts in one store.write for the batched figure (default 100000)
          --append-writers LIST       concurrent append writers (default 1,16,64)
          --resolves N                credential resolves to time (default 200000)
          --credential-bytes N        plaintext bytes per credential (default 200)
          --sweep-entries N           expired entries to sweep (default 1000000)
          --sweep-fill-batch N        puts per store.write while filling them (default 10000)
          --sweep-max-entries N       maximumEntries of each Store.sweepExpired call (default 20000)
          --sweep-budget-ms MS        budget of each Store.sweepExpired call (default 4)
          --sweep-keys LIST           sweep runs: sequential (keys in deadline order, like audit logs, in an
                                      indexed keyspace), random (keys unrelated to deadlines, like sessions,
                                      in a keyspace laid out in expiry generations) and random_indexed (random
                                      keys in an indexed keyspace, for reference); default sequential,random
          -h, --help                  show this help
        """

    static func parse(_ arguments: [String]) throws(BenchmarkError) -> StoreBenchmarkOptions {
        var options = StoreBenchmarkOptions()
        if arguments.contains("--quick") {
            // Applied first, so explicit options given with --quick win.
            options.seconds = 0.5
            options.getEntries = 20_000
            options.batchedPuts = 20_000
            options.resolves = 20_000
            options.sweepEntries = 100_000
        }
        var index = 0
        func value(_ name: String) throws(BenchmarkError) -> String {
            index += 1
            guard index < arguments.count else { throw BenchmarkError("\(name) needs a value") }
            return arguments[index]
        }
        func integer(_ name: String) throws(BenchmarkError) -> Int {
            let text = try value(name)
            guard let number = Int(text.filter { $0 != "_" }), number > 0 else {
                throw BenchmarkError("\(name) needs a positive whole number, not \(text)")
            }
            return number
        }
        func decimal(_ name: String) throws(BenchmarkError) -> Double {
            let text = try value(name)
            guard let number = Double(text), number > 0, number.isFinite else {
                throw BenchmarkError("\(name) needs a positive number, not \(text)")
            }
            return number
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--json": options.json = true
            case "--scratch-dir", "--state-dir": options.scratchParent = try value(argument)
            case "--seconds": options.seconds = try decimal(argument)
            case "--quick": break
            case "--only":
                var parts: Set<Part> = []
                for name in try value(argument).split(separator: ",") {
                    guard let part = Part(rawValue: String(name)) else {
                        throw BenchmarkError("unknown part \(name) in --only; the parts are gets,puts,appends,resolve,sweep")
                    }
                    parts.insert(part)
                }
                options.parts = parts
            case "--get-entries": options.getEntries = try integer(argument)
            case "--put-tasks": options.putTasks = try integer(argument)
            case "--batched-puts": options.batchedPuts = try integer(argument)
            case "--append-writers":
                let text = try value(argument)
                let writers = text.split(separator: ",").compactMap { Int($0) }
                guard !writers.isEmpty, writers.allSatisfy({ $0 > 0 }), writers.count == text.split(separator: ",").count else {
                    throw BenchmarkError("--append-writers needs positive whole numbers separated by commas, not \(text)")
                }
                options.appendWriters = writers
            case "--resolves": options.resolves = try integer(argument)
            case "--credential-bytes": options.credentialBytes = try integer(argument)
            case "--sweep-entries": options.sweepEntries = try integer(argument)
            case "--sweep-fill-batch": options.sweepFillBatch = try integer(argument)
            case "--sweep-max-entries": options.sweepMaximumEntries = try integer(argument)
            case "--sweep-budget-ms": options.sweepBudgetMilliseconds = try decimal(argument)
            case "--sweep-keys":
                let text = try value(argument)
                var orders: [SweepKeyOrder] = []
                for name in text.split(separator: ",") {
                    guard let order = SweepKeyOrder(rawValue: String(name)) else {
                        throw BenchmarkError("--sweep-keys takes sequential, random and/or random_indexed, not \(text)")
                    }
                    orders.append(order)
                }
                options.sweepKeyOrders = orders
            default:
                throw BenchmarkError("unknown option \(argument)\n\n\(usage)")
            }
            index += 1
        }
        return options
    }
}
