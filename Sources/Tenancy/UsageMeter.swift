package import Logging
package import Store
import Synchronization

/// Counts tool calls per customer, month (UTC) and tool, enforces monthly quotas and per-minute request
/// rates.
///
/// Counting happens in memory and is written to the `usage` keyspace in one transaction per flush
/// (every second while serving, and on shutdown), so metering adds no disk write to a request; a crash
/// loses at most the last second of counts, never a customer's data. Rates are token buckets in memory:
/// they guard the process they run in, as the Redis counters of the old service did.
///
/// A counter that cannot be stored (a tool name longer than a tool may have, or a key the store refuses)
/// is dropped, logged once and counted in ``droppedCounters``; it never holds back the other counters.
package final class UsageMeter: Sendable {
    package let store: Store
    let logger: Logger
    private let state = Mutex(State())
    private let dropped = Atomic<Int>(0)

    /// The longest tool name counted: the tool registry's own limit.
    package static let maximumToolNameBytes = 128

    /// How long stored monthly counters are kept.
    static let retentionDays: Int64 = 400

    struct Period: Hashable {
        var customerID: String
        var month: String
    }

    struct Counts {
        /// Per tool: what the store held when loaded plus everything counted since.
        var perTool: [String: Int] = [:]
        var total = 0
        /// Per tool: counted but not yet written.
        var pending: [String: Int] = [:]
    }

    struct Bucket {
        var tokens: Double
        var updated: Int64
    }

    struct State {
        var periods: [Period: Counts] = [:]
        var buckets: [String: Bucket] = [:]
    }

    static let usage = Keyspace<String, [UInt8]>(.usage)

    package init(store: Store, logger: Logger = Logger(label: "hermes.usage")) {
        self.store = store
        self.logger = logger
    }

    // MARK: Rate

    /// Takes one request from the customer's per-minute budget.
    package func admitRequest(customerID: String, plan: Plan) -> LimitDecision {
        let now = store.clock.now().millisecondsSince1970
        let capacity = Double(plan.requestsPerMinute)
        let perMillisecond = capacity / 60_000
        return state.withLock { state in
            var bucket = state.buckets[customerID] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + Double(max(0, now - bucket.updated)) * perMillisecond)
            bucket.updated = now
            defer { state.buckets[customerID] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return .allowed
            }
            let wait = Int(((1 - bucket.tokens) / perMillisecond / 1000).rounded(.up))
            return .refused(LimitExceeded(
                limit: .requestsPerMinute, retryAfterSeconds: max(1, wait),
                message: "too many requests: the \(plan.name) plan allows \(plan.requestsPerMinute) requests per minute; retry in \(max(1, wait)) s or move to a larger plan"
            ))
        }
    }

    // MARK: Quota

    /// Counts one call of `tool` against the customer's monthly quota, or refuses it when the quota is used up.
    package func admitToolCall(customerID: String, plan: Plan, tool: String) throws -> LimitDecision {
        let now = store.clock.now()
        let day = CalendarDay(now)
        let period = Period(customerID: customerID, month: day.monthText)
        try load(period)
        return state.withLock { state in
            var counts = state.periods[period] ?? Counts()
            guard counts.total < plan.monthlyToolCalls else {
                let seconds = Int((day.startOfNextMonth.millisecondsSince1970 - now.millisecondsSince1970 + 999) / 1000)
                return .refused(LimitExceeded(
                    limit: .monthlyToolCalls, retryAfterSeconds: max(1, seconds),
                    message: "monthly quota used up: the \(plan.name) plan allows \(plan.monthlyToolCalls) tool calls per month and \(counts.total) were made in \(day.monthText); it resets at the start of next month (UTC), or move to a larger plan"
                ))
            }
            counts.total += 1
            counts.perTool[tool, default: 0] += 1
            counts.pending[tool, default: 0] += 1
            state.periods[period] = counts
            return .allowed
        }
    }

    /// The customer's usage in the month containing `moment` (default now).
    package func usage(customerID: String, at moment: Timestamp? = nil) throws -> MonthlyUsage {
        let month = CalendarDay(moment ?? store.clock.now()).monthText
        let period = Period(customerID: customerID, month: month)
        try load(period)
        let counts = state.withLock { $0.periods[period] ?? Counts() }
        return MonthlyUsage(month: month, toolCalls: counts.total, perTool: counts.perTool)
    }

    /// Loads a period's stored counters once, outside the lock.
    private func load(_ period: Period) throws {
        if state.withLock({ $0.periods[period] != nil }) { return }
        let stored = try store.read { try $0.scan(Self.usage, prefix: Array(Self.prefix(period).utf8)) }
        var counts = Counts()
        for entry in stored {
            let tool = String(entry.key.dropFirst(period.customerID.count + period.month.count + 2))
            let value = Self.decodeCount(entry.value)
            counts.perTool[tool] = value
            counts.total += value
        }
        state.withLock { state in
            if state.periods[period] == nil { state.periods[period] = counts }
        }
    }

    // MARK: Persisting

    /// Counters dropped because they could not be stored (each was logged once, at error).
    package var droppedCounters: Int { dropped.load(ordering: .relaxed) }

    /// One pending count: its stored key and how much to add.
    private struct PendingCounter: Sendable {
        var period: Period
        var tool: String
        var delta: Int
        var key: String { UsageMeter.prefix(period) + tool }
    }

    /// Writes every pending count (non-blocking for callers: counting goes on while it runs).
    package func flush() async throws {
        let taken: [PendingCounter] = state.withLock { state in
            var taken: [PendingCounter] = []
            for (period, counts) in state.periods where !counts.pending.isEmpty {
                for (tool, delta) in counts.pending { taken.append(PendingCounter(period: period, tool: tool, delta: delta)) }
                state.periods[period]?.pending = [:]
            }
            return taken
        }
        var pending: [PendingCounter] = []
        for counter in taken {
            if let problem = Self.storageProblem(counter) { drop(counter, problem) } else { pending.append(counter) }
        }
        guard !pending.isEmpty else { return }
        let deadline = store.clock.now().adding(seconds: Self.retentionDays * 86_400)
        do {
            try await write(pending, deadline: deadline)
        } catch let error as StoreError where error.code == .invalidArgument && pending.count > 1 {
            // A key the checks above let through: write one counter per transaction to find it.
            var failure: (any Error)?
            for counter in pending {
                do {
                    try await write([counter], deadline: deadline)
                } catch let error as StoreError where error.code == .invalidArgument {
                    drop(counter, error.message)
                } catch {
                    putBack([counter])
                    failure = error
                }
            }
            if let failure { throw failure }
        } catch let error as StoreError where error.code == .invalidArgument {
            drop(pending[0], error.message)
        } catch {
            putBack(pending)
            throw error
        }
    }

    private func write(_ counters: [PendingCounter], deadline: Timestamp) async throws {
        try await store.write { transaction in
            for counter in counters {
                let key = counter.key
                let current = try transaction.get(Self.usage, key).map(Self.decodeCount) ?? 0
                try transaction.put(Self.usage, key, Self.encodeCount(current + counter.delta), expiresAt: deadline)
            }
        }
    }

    /// Puts counts back so the next flush writes them (the store failed, not the counter).
    private func putBack(_ counters: [PendingCounter]) {
        state.withLock { state in
            for counter in counters { state.periods[counter.period]?.pending[counter.tool, default: 0] += counter.delta }
        }
    }

    private func drop(_ counter: PendingCounter, _ problem: String) {
        dropped.add(1, ordering: .relaxed)
        logger.error("a usage counter cannot be stored and is dropped; the other counters are saved", metadata: [
            "customer.id": "\(counter.period.customerID)", "usage.month": "\(counter.period.month)",
            "tool.name": "\(counter.tool.utf8.count > Self.maximumToolNameBytes ? counter.tool.prefix(Self.maximumToolNameBytes) + "…" : counter.tool)", "tool.name_bytes": "\(counter.tool.utf8.count)",
            "usage.calls_lost": "\(counter.delta)", "usage.dropped_total": "\(droppedCounters)", "error": "\(problem)",
        ])
    }

    /// Why a counter cannot be stored, checked before the batch so one bad key cannot fail the others.
    private static func storageProblem(_ counter: PendingCounter) -> String? {
        let bytes = counter.tool.utf8.count
        guard (1...maximumToolNameBytes).contains(bytes) else {
            return "a tool name must be 1 to \(maximumToolNameBytes) bytes; this one has \(bytes)"
        }
        let keyBytes = counter.key.utf8.count
        let limit = KeyspaceName.usage.maximumKeyBytes(expiring: true)
        return keyBytes <= limit ? nil : "the counter's key would have \(keyBytes) bytes; the store allows \(limit)"
    }

    /// Flushes every `interval` until cancelled, then once more.
    package func run(interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flushLogging()
        }
        await flushLogging()
    }

    private func flushLogging() async {
        do {
            try await flush()
        } catch {
            logger.error("writing usage counters failed; they are kept and retried", metadata: ["error": "\(error)"])
        }
    }

    static func prefix(_ period: Period) -> String { "\(period.customerID):\(period.month):" }

    static func encodeCount(_ count: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(count).bigEndian) { Array($0) } }

    static func decodeCount(_ bytes: [UInt8]) -> Int {
        guard bytes.count == 8 else { return 0 }
        return Int(bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

/// Whether a request or tool call may go ahead.
package enum LimitDecision: Sendable, Equatable {
    case allowed
    case refused(LimitExceeded)
}

/// A limit that was hit: answered with 429, `Retry-After` and the message.
package struct LimitExceeded: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Limit: String, Sendable {
        case requestsPerMinute = "requests_per_minute"
        case monthlyToolCalls = "monthly_tool_calls"
    }

    package var limit: Limit
    package var retryAfterSeconds: Int
    package var message: String

    package init(limit: Limit, retryAfterSeconds: Int, message: String) {
        self.limit = limit
        self.retryAfterSeconds = retryAfterSeconds
        self.message = message
    }

    package var description: String { message }
}

/// A customer's tool calls in one month.
package struct MonthlyUsage: Sendable, Equatable {
    package var month: String
    package var toolCalls: Int
    package var perTool: [String: Int]
}
