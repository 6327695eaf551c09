import Foundation
import Logging
import Store
import Synchronization
@testable import Tenancy
import Testing

/// Collects log records in memory, for tests that check what was logged and how often.
final class LogLines: LogHandler, @unchecked Sendable {
    // `@unchecked Sendable`: every record goes through `lock`; `metadata` and `logLevel` are set before use.
    struct Record {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lock = Mutex<[Record]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
        lock.withLock { $0.append(Record(level: event.level, message: event.message.description, metadata: merged)) }
    }

    var records: [Record] { lock.withLock { $0 } }
}

func withStore<T>(clock: ManualWallClock = ManualWallClock(), _ name: String = #function, _ body: (Store, ManualWallClock) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.path + "/hermes-tenancy-tests/\(name.filter { $0.isLetter })-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    let store = try Store(StoreConfiguration(location: .directory(path), mapSize: 32 << 20, clock: clock))
    defer {
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
    return try await body(store, clock)
}

@Suite("Customers and API keys")
struct CustomerDirectoryTests {
    @Test func singleUserModeEndsWithTheFirstCustomerHoweverItWasWritten() async throws {
        try await withStore { store, _ in
            let directory = CustomerDirectory(store: store)
            #expect(try directory.hasCustomers() == false)
            // Unrelated commits leave the answer as it is.
            try await store.put(Keyspace<String, String>(.sessions), "s", "x")
            #expect(try directory.hasCustomers() == false)
            // A record written without the directory (as another process would) is seen at once.
            try await store.put(Keyspace<String, [UInt8]>(.customers), "cus_other", Array("{}".utf8))
            #expect(try directory.hasCustomers())
            #expect(try directory.hasCustomers())
        }
    }

    @Test func createdKeyAuthenticatesAndIsStoredOnlyAsHash() async throws {
        try await withStore { store, _ in
            let directory = CustomerDirectory(store: store)
            #expect(try directory.hasCustomers() == false)
            let (record, key) = try await directory.create(email: "  Ada@Example.com ", plan: "starter")
            #expect(key.hasPrefix("hk_") && key.count > 40)
            #expect(record.email == "ada@example.com")
            #expect(try directory.hasCustomers())
            #expect(try directory.authenticate(apiKey: key) == .valid(record))
            #expect(try directory.authenticate(apiKey: key + "x") == .unknown)
            #expect(try directory.authenticate(apiKey: "not-a-key") == .unknown)
            // Nothing in the store holds the key itself.
            let everything = try store.read { transaction in
                try KeyspaceName.all.flatMap { name in try transaction.scan(Keyspace<[UInt8], [UInt8]>(name)).flatMap { $0.key + $0.value } }
            }
            #expect(!String(decoding: everything, as: UTF8.self).contains(String(key.dropFirst(3))))
        }
    }

    @Test func badInputIsRefusedWithActionableErrors() async throws {
        try await withStore { store, _ in
            let directory = CustomerDirectory(store: store)
            await #expect(throws: TenancyError.self) { try await directory.create(email: "nobody", plan: "free") }
            let unknownPlan = await #expect(throws: TenancyError.self) { try await directory.create(email: "a@b.io", plan: "platinum") }
            #expect(unknownPlan?.message.contains("free, starter, growth, enterprise") == true)
            _ = try await directory.create(email: "a@b.io", plan: "free")
            let duplicate = await #expect(throws: TenancyError.self) { try await directory.create(email: "A@b.io", plan: "free") }
            #expect(duplicate?.code == .duplicateEmail)
            let missing = await #expect(throws: TenancyError.self) { try await directory.setPlan("growth", customerID: "cus_nope") }
            #expect(missing?.code == .unknownCustomer)
            #expect(try directory.list().count == 1)
        }
    }

    /// Customers written before the email index existed are indexed by the first `create`, which still
    /// refuses their emails; afterwards lookups by email go through the index.
    @Test func theEmailIndexCoversCustomersFromBeforeIt() async throws {
        try await withStore { store, _ in
            let older = CustomerRecord(id: "cus_older", email: "old@b.io", plan: "free", active: true, created: Timestamp(millisecondsSince1970: 1_000))
            try await store.write { try $0.put(CustomerDirectory.customers, older.id, older.encoded) }
            let directory = CustomerDirectory(store: store)
            #expect(try directory.customer(idOrEmail: "OLD@b.io")?.id == "cus_older")  // by scan: no index yet
            let duplicate = await #expect(throws: TenancyError.self) { try await directory.create(email: "Old@B.io", plan: "free") }
            #expect(duplicate?.code == .duplicateEmail)
            #expect(duplicate?.message.contains("cus_older") == true)
            #expect(try store.get(CustomerDirectory.meta, CustomerDirectory.emailIndexMarker) == "1")
            #expect(try store.get(CustomerDirectory.emails, "old@b.io") == "cus_older")
            let (fresh, _) = try await directory.create(email: "new@b.io", plan: "starter")
            #expect(try store.get(CustomerDirectory.emails, "new@b.io") == fresh.id)
            #expect(try directory.customer(idOrEmail: "New@b.io")?.id == fresh.id)
            #expect(try directory.customer(idOrEmail: "nobody@b.io") == nil)
            #expect(try directory.list().count == 2)
        }
    }

    @Test func disableEnableRotateAndRevoke() async throws {
        try await withStore { store, _ in
            let directory = CustomerDirectory(store: store)
            let (record, first) = try await directory.create(email: "b@b.io", plan: "free")
            let disabled = try await directory.setActive(false, customerID: record.id)
            #expect(try directory.authenticate(apiKey: first) == .disabled(disabled))
            let enabled = try await directory.setActive(true, customerID: record.id)
            #expect(try directory.authenticate(apiKey: first) == .valid(enabled))
            let (rotated, second) = try await directory.rotateKey(customerID: record.id)
            #expect(try directory.authenticate(apiKey: first) == .unknown)
            #expect(try directory.authenticate(apiKey: second) == .valid(rotated))
            #expect(rotated.apiKeys.count == 1)
            try await directory.revokeKeys(customerID: record.id)
            #expect(try directory.authenticate(apiKey: second) == .unknown)
            let moved = try await directory.setPlan("growth", customerID: record.id)
            #expect(moved.limits == .growth)
            // Disabling, rotating and revoking each end the OAuth grants; enabling and plan changes do not.
            let epochs: [Int] = [record.grantEpoch, disabled.grantEpoch, enabled.grantEpoch, rotated.grantEpoch, moved.grantEpoch]
            #expect(epochs == [0, 1, 1, 2, 3])
            #expect(try directory.customer(id: record.id)?.grantEpoch == 3)
            #expect(try directory.customer(idOrEmail: "B@B.IO")?.id == record.id)
        }
    }

    @Test func anExpiringKeyStopsAtItsDeadline() async throws {
        try await withStore { store, clock in
            let directory = CustomerDirectory(store: store)
            let (record, key) = try await directory.create(email: "c@b.io", plan: "free", keyExpiresAt: clock.now().adding(seconds: 60))
            #expect(try directory.authenticate(apiKey: key) == .valid(record))
            clock.advance(seconds: 59)
            #expect(try directory.authenticate(apiKey: key) == .valid(record))
            clock.advance(seconds: 1)
            #expect(try directory.authenticate(apiKey: key) == .unknown)
        }
    }

    @Test func everyChangeIsAudited() async throws {
        try await withStore { store, clock in
            let directory = CustomerDirectory(store: store)
            let (record, key) = try await directory.create(email: "d@b.io", plan: "free")
            _ = try await directory.rotateKey(customerID: record.id)
            try await directory.setActive(false, customerID: record.id)
            await AuditLog(store: store).record("auth.sign_in_failed", customerID: record.id, detail: ["reason": "wrong key"])
            let records = try AuditLog(store: store).records(customerID: record.id, day: CalendarDay(clock.now()))
            #expect(records.map(\.event) == ["customer.created", "apikey.created", "apikey.rotated", "customer.disabled", "auth.sign_in_failed"])
            #expect(records[2].detail["revoked"] == record.apiKeys[0].keyID)
            let text = records.map { "\($0)" }.joined()
            #expect(!text.contains(key))
            // Kept for the plan's retention (free: 7 days), then gone.
            clock.advance(seconds: 7 * 86_400)
            #expect(try AuditLog(store: store).records(customerID: record.id, day: CalendarDay(record.created)).isEmpty)
        }
    }
}

@Suite("Plans and metering")
struct UsageMeterTests {
    @Test func monthlyQuotaRefusesWithTimeUntilTheMonthEnds() async throws {
        let start = CalendarDay.midnight(year: 2026, month: 11, day: 30).adding(seconds: 86_400 - 100)
        try await withStore(clock: ManualWallClock(start)) { store, clock in
            let meter = UsageMeter(store: store)
            let plan = Plan(name: "tiny", monthlyToolCalls: 3, requestsPerMinute: 10, platforms: nil, auditRetentionDays: 1)
            for _ in 0..<3 { #expect(try meter.admitToolCall(customerID: "c1", plan: plan, tool: "whoami") == .allowed) }
            guard case .refused(let exceeded) = try meter.admitToolCall(customerID: "c1", plan: plan, tool: "whoami") else {
                Issue.record("the fourth call should be refused")
                return
            }
            #expect(exceeded.limit == .monthlyToolCalls)
            #expect(exceeded.retryAfterSeconds == 100)
            #expect(exceeded.message.contains("3 tool calls per month"))
            // Another customer is unaffected.
            #expect(try meter.admitToolCall(customerID: "c2", plan: plan, tool: "whoami") == .allowed)
            // December: a fresh quota.
            clock.advance(seconds: 100)
            #expect(try meter.admitToolCall(customerID: "c1", plan: plan, tool: "whoami") == .allowed)
        }
    }

    @Test func countsSurviveARestartThroughTheStore() async throws {
        try await withStore { store, _ in
            let meter = UsageMeter(store: store)
            for tool in ["whoami", "whoami", "sandbox_send_message"] {
                #expect(try meter.admitToolCall(customerID: "c1", plan: .free, tool: tool) == .allowed)
            }
            try await meter.flush()
            #expect(try meter.admitToolCall(customerID: "c1", plan: .free, tool: "whoami") == .allowed)
            try await meter.flush()
            let fresh = UsageMeter(store: store)
            let usage = try fresh.usage(customerID: "c1")
            #expect(usage.toolCalls == 4)
            #expect(usage.perTool == ["whoami": 3, "sandbox_send_message": 1])
            #expect(try fresh.usage(customerID: "c2").toolCalls == 0)
        }
    }

    /// Issue 18: one counter whose key the store refuses (a 600-character tool name) once failed every
    /// flush, so no customer's counts were saved and they vanished on restart.
    @Test func aCounterThatCannotBeStoredIsDroppedOnceAndTheOthersAreSaved() async throws {
        try await withStore { store, _ in
            let lines = LogLines()
            let meter = UsageMeter(store: store, logger: Logger(label: "test") { _ in lines })
            let overlong = String(repeating: "x", count: 600)
            let longCustomer = "cus_" + String(repeating: "9", count: 500)
            for (customer, tool) in [("c1", "whoami"), ("c1", "whoami"), ("c1", overlong), (longCustomer, "whoami"), ("c2", "sandbox_send_message")] {
                #expect(try meter.admitToolCall(customerID: customer, plan: .free, tool: tool) == .allowed)
            }
            try await meter.flush()
            #expect(meter.droppedCounters == 2)
            // Counted after the drop: the next flush writes it, and the dropped counters are not retried.
            #expect(try meter.admitToolCall(customerID: "c2", plan: .free, tool: "sandbox_send_message") == .allowed)
            try await meter.flush()
            #expect(meter.droppedCounters == 2)
            let errors = lines.records.filter { $0.level == .error }
            #expect(errors.count == 2, "\(errors)")
            #expect(errors.allSatisfy { $0.message.contains("dropped") && $0.metadata["customer.id"] != nil })
            #expect(errors.allSatisfy { ($0.metadata["tool.name"] ?? "").utf8.count <= UsageMeter.maximumToolNameBytes + 3 })
            let restarted = UsageMeter(store: store)
            #expect(try restarted.usage(customerID: "c1").perTool == ["whoami": 2])
            #expect(try restarted.usage(customerID: "c2").perTool == ["sandbox_send_message": 2])
        }
    }

    @Test func requestRateIsATokenBucket() async throws {
        try await withStore { store, clock in
            let meter = UsageMeter(store: store)
            let plan = Plan(name: "tiny", monthlyToolCalls: 10, requestsPerMinute: 6, platforms: nil, auditRetentionDays: 1)
            for _ in 0..<6 { #expect(meter.admitRequest(customerID: "c1", plan: plan) == .allowed) }
            guard case .refused(let exceeded) = meter.admitRequest(customerID: "c1", plan: plan) else {
                Issue.record("the seventh request should be refused")
                return
            }
            #expect(exceeded.limit == .requestsPerMinute && exceeded.retryAfterSeconds == 10)
            #expect(meter.admitRequest(customerID: "c2", plan: plan) == .allowed)
            clock.advance(seconds: 10)
            #expect(meter.admitRequest(customerID: "c1", plan: plan) == .allowed)
            #expect(meter.admitRequest(customerID: "c1", plan: plan) != .allowed)
        }
    }

    @Test func calendarDaysAndMonths() {
        #expect(CalendarDay(Timestamp(millisecondsSince1970: 0)).description == "1970-01-01")
        #expect(CalendarDay(Timestamp(millisecondsSince1970: 1_795_651_200_000)).description == "2026-11-26")
        #expect(CalendarDay(CalendarDay.midnight(year: 2024, month: 2, day: 29)).description == "2024-02-29")
        #expect(CalendarDay(year: 2026, month: 12, day: 31).startOfNextMonth == CalendarDay.midnight(year: 2027, month: 1, day: 1))
        #expect(Plan.named("growth")?.allows(platform: "x") == true)
        #expect(Plan.free.allows(platform: "whatsapp") == false)
    }
}
