@testable import Store
import Testing

@Suite("Expiry")
struct ExpiryTests {
    @Test func anExpiredEntryIsInvisibleAtOnceToEveryRead() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let deadline = clock.now().adding(seconds: 60)
        try await store.put(.customersText, "token", "live", expiresAt: deadline)
        try await store.put(.customersText, "forever", "kept")
        #expect(try store.get(.customersText, "token") == "live")
        #expect(try store.read { try $0.deadline(.customersText, "token") } == deadline)

        clock.advance(seconds: 59)
        #expect(try store.get(.customersText, "token") == "live")
        clock.advance(seconds: 1)
        #expect(try store.get(.customersText, "token") == nil)
        #expect(try store.read { try $0.contains(.customersText, "token") } == false)
        #expect(try store.read { try $0.deadline(.customersText, "token") } == nil)
        #expect(try store.read { try $0.scan(.customersText).map(\.key) } == ["forever"])
        #expect(try store.read { try $0.count(.customersText) } == 1)
        // Writers see the same: an expired key counts as absent.
        #expect(try await store.write { try $0.get(.customersText, "token") } == nil)
        #expect(try await store.write { try $0.insert(.customersText, "token", "again") })
        #expect(try store.get(.customersText, "token") == "again")
        #expect(try await store.delete(.customersText, "missing") == false)
    }

    @Test func theSweeperDeletesDueEntriesAndLeavesTheRest() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        try await store.write { txn in
            for index in 0..<300 {
                try txn.put(.customersText, "soon-\(index)", "v", expiresAt: clock.now().adding(seconds: 10))
                try txn.put(.customersText, "later-\(index)", "v", expiresAt: clock.now().adding(seconds: 1000))
            }
        }
        #expect(try await store.sweepAllExpired() == 0)
        clock.advance(seconds: 11)
        #expect(try await store.sweepAllExpired() == 300)
        #expect(try rawCount(store, .customers) == 300)
        #expect(try rawCount(store, .expiryIndex) == 300)
        #expect(try store.read { try $0.count(.customersText) } == 300)
        clock.advance(seconds: 1000)
        #expect(try await store.sweepAllExpired() == 300)
        #expect(try rawCount(store, .customers) == 0)
        #expect(try rawCount(store, .expiryIndex) == 0)
    }

    @Test func overwritingMovesOrDropsTheDeadline() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        try await store.put(.customersText, "a", "v1", expiresAt: clock.now().adding(seconds: 10))
        try await store.put(.customersText, "a", "v2")  // no deadline any more
        try await store.put(.customersText, "b", "v1", expiresAt: clock.now().adding(seconds: 10))
        try await store.put(.customersText, "b", "v2", expiresAt: clock.now().adding(seconds: 100))
        #expect(try rawCount(store, .expiryIndex) == 1)
        clock.advance(seconds: 50)
        #expect(try await store.sweepAllExpired() == 0)
        #expect(try store.get(.customersText, "a") == "v2")
        #expect(try store.get(.customersText, "b") == "v2")
        clock.advance(seconds: 60)
        #expect(try store.get(.customersText, "b") == nil)
        #expect(try await store.sweepAllExpired() == 1)
        #expect(try store.get(.customersText, "a") == "v2")
        try await store.put(.customersText, "c", "v", expiresAt: clock.now().adding(seconds: 5))
        #expect(try await store.delete(.customersText, "c"))
        #expect(try rawCount(store, .expiryIndex) == 0)
    }

    @Test func aSweepIsBoundedAndOthersWriteBetweenBatches() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        try await store.write { txn in
            for index in 0..<5000 {
                try txn.put(.customersText, "e\(index)", "v", expiresAt: clock.now().adding(seconds: 1))
            }
        }
        clock.advance(seconds: 2)
        let first = try await store.sweepExpired(maximumEntries: 1000, budget: .seconds(60))
        #expect(first == SweepReport(deleted: 1000, moreDue: true))
        // A time budget already spent stops the batch at its first check (every 64 entries).
        let timeBound = try await store.sweepExpired(maximumEntries: 1000, budget: .zero)
        #expect(timeBound == SweepReport(deleted: 64, moreDue: true))
        try await store.put(.customersText, "between", "batches")
        var total = first.deleted + timeBound.deleted
        while true {
            let report = try await store.sweepExpired(maximumEntries: 1000, budget: .seconds(60))
            total += report.deleted
            if !report.moreDue { break }
        }
        #expect(total == 5000)
        #expect(try store.read { try $0.scan(.customersText).map(\.key) } == ["between"])
    }

    @Test func deadlinesSurviveARestart() async throws {
        let clock = ManualWallClock()
        let directory = temporaryDirectory()
        var store = try openStore(directory, clock: clock)
        try await store.put(.customersText, "k", "v", expiresAt: clock.now().adding(seconds: 30))
        store.close()
        store = try openStore(directory, clock: clock)
        defer { store.close() }
        #expect(try store.get(.customersText, "k") == "v")
        clock.advance(seconds: 31)
        #expect(try store.get(.customersText, "k") == nil)
        #expect(try await store.sweepAllExpired() == 1)
    }

    @Test func appendKeepsCountingPastExpiredRecords() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let prefix = SequencedKey.logPrefix(customerID: "c", day: "2026-11-25")
        try await store.append(.logs, prefix: prefix, [1], expiresAt: clock.now().adding(seconds: 5))
        clock.advance(seconds: 10)
        let second = try await store.append(.logs, prefix: prefix, [2])
        #expect(second.sequence == 2)
        #expect(try store.read { try $0.scan(.logs, prefix: SequencedKey.scanPrefix(prefix)).map(\.key.sequence) } == [2])
    }

    @Test func aSweptOrDeletedSequenceIsNeverAppendedAgain() async throws {
        let clock = ManualWallClock()
        let directory = temporaryDirectory()
        var store = try openStore(directory, clock: clock)
        let prefix = SequencedKey.logPrefix(customerID: "c", day: "2026-11-25")
        var used: Set<SequencedKey> = []
        func stored() throws -> [UInt8]? {
            try store.read { try $0.handle.lastKey(.logs, prefix: SequencedKey.scanPrefix(prefix)) }
        }
        for round in 0..<3 {
            for _ in 0..<3 {
                let key = try await store.append(.logs, prefix: prefix, [UInt8(round)], expiresAt: clock.now().adding(seconds: 5))
                #expect(used.insert(key).inserted, "\(key) was used before")
            }
            clock.advance(seconds: 10)
            #expect(try await store.sweepAllExpired() == 3)
            #expect(try stored() == nil, "sweeping left the prefix non-empty")
        }
        // The newest record swept while an older one stays.
        let kept = try await store.append(.logs, prefix: prefix, [1])
        let newest = try await store.append(.logs, prefix: prefix, [2], expiresAt: clock.now().adding(seconds: 5))
        clock.advance(seconds: 10)
        #expect(try await store.sweepAllExpired() == 1)
        used.formUnion([kept, newest])
        // A deleted record, then the floor must survive reopening.
        let deleted = try await store.append(.logs, prefix: prefix, [3])
        #expect(!used.contains(deleted))
        used.insert(deleted)
        try await store.write { _ = try $0.delete(.logs, deleted) }
        store.close()
        store = try openStore(directory, clock: clock)
        defer { store.close() }
        let next = try await store.append(.logs, prefix: prefix, [4])
        #expect(!used.contains(next), "\(next) was used before")
        #expect(next.sequence > used.map(\.sequence).max()!)
    }

    @Test func aSequenceSweptFromAGenerationIsNeverAppendedAgain() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let messages = Keyspace<SequencedKey, [UInt8]>(.sessions)
        let first = try await store.append(messages, prefix: "session-1", [1], expiresAt: clock.now().adding(seconds: 30))
        clock.advance(seconds: 3600)
        #expect(try await store.sweepAllExpired() == 1)
        let second = try await store.append(messages, prefix: "session-1", [2])
        #expect(second != first)
        #expect(second.sequence > first.sequence)
    }

    @Test func theSweeperServiceRunsUntilCancelled() async throws {
        let clock = ManualWallClock()
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        try await store.put(.customersText, "k", "v", expiresAt: clock.now().adding(seconds: 1))
        clock.advance(seconds: 2)
        let sweeper = Task { await store.runSweeper(interval: .milliseconds(10)) }
        var remaining = 1
        for _ in 0..<500 where remaining > 0 {
            try await Task.sleep(for: .milliseconds(10))
            remaining = try rawCount(store, .customers)
        }
        sweeper.cancel()
        await sweeper.value
        #expect(remaining == 0)
    }
}

/// Entries stored in a keyspace, expired or not.
func rawCount(_ store: Store, _ keyspace: KeyspaceName) throws -> Int {
    try store.read { txn in
        var total = 0
        try txn.handle.withCursor(keyspace) { cursor throws(StoreError) in
            total = try countEntries(cursor)
        }
        return total
    }
}
