import CLMDB
@testable import Store
import Testing

@Suite("Expiry generations")
struct GenerationTests {
    /// A whole hour, so generation ends fall on predictable boundaries.
    static let start = Timestamp(millisecondsSince1970: 1_700_002_800_000)

    @Test func theRandomKeyKeyspacesUseGenerationsAndTheOthersTheIndex() {
        for keyspace in [KeyspaceName.oauthCodes, .oauthTokens, .dedupe, .sessions] {
            #expect(keyspace.generationBucketSeconds != nil, "\(keyspace)")
        }
        for keyspace in [KeyspaceName.creds, .logs, .customers, .apikey, .meta, .events, .usage] {
            #expect(keyspace.expiryLayout == .indexed, "\(keyspace)")
        }
    }

    @Test func aGenerationIsAboutAQuarterOfTheRemainingLifetime() {
        let now = Self.start
        // Short lifetimes use the bucket; the end is the deadline rounded up to the generation's width.
        #expect(Generation.end(for: now.adding(seconds: 30), now: now, bucketSeconds: 60) == UInt32(now.millisecondsSince1970 / 1000 + 60))
        #expect(Generation.end(for: now.adding(seconds: 60), now: now, bucketSeconds: 60) == UInt32(now.millisecondsSince1970 / 1000 + 60))
        // An hour: 480 s wide (60 × 2³, the largest at most a quarter of 3600 s).
        let hour = Generation.end(for: now.adding(seconds: 3600), now: now, bucketSeconds: 60)
        #expect(hour % 480 == 0)
        #expect(Int64(hour) * 1000 >= now.adding(seconds: 3600).millisecondsSince1970)
        #expect(Int64(hour) * 1000 < now.adding(seconds: 3600 + 480).millisecondsSince1970)
        #expect(Generation.end(for: nil, now: now, bucketSeconds: 60) == Generation.permanent)
        #expect(!Generation.isDue(Generation.permanent, now: Timestamp(millisecondsSince1970: .max)))
    }

    @Test func putGetAndOverwriteAcrossGenerationsKeepOneEntryPerKey() async throws {
        let clock = ManualWallClock(Self.start)
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        try await store.put(.sessionsText, "s1", "short", expiresAt: clock.now().adding(seconds: 30))
        #expect(try store.get(.sessionsText, "s1") == "short")
        try await store.put(.sessionsText, "s1", "long", expiresAt: clock.now().adding(seconds: 7200))
        #expect(try store.get(.sessionsText, "s1") == "long")
        #expect(try store.read { try $0.deadline(.sessionsText, "s1") } == clock.now().adding(seconds: 7200))
        #expect(try rawCount(store, .sessions) == 1)
        try await store.put(.sessionsText, "s1", "forever")
        #expect(try store.get(.sessionsText, "s1") == "forever")
        #expect(try store.read { try $0.deadline(.sessionsText, "s1") } == nil)
        try await store.put(.sessionsText, "s1", "short again", expiresAt: clock.now().adding(seconds: 30))
        #expect(try rawCount(store, .sessions) == 1)
        // No expiry-index entry is written for generational keyspaces.
        #expect(try rawCount(store, .expiryIndex) == 0)
        clock.advance(seconds: 30)
        #expect(try store.get(.sessionsText, "s1") == nil)
    }

    @Test func insertAndDeleteSeeOnlyLiveEntries() async throws {
        let clock = ManualWallClock(Self.start)
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let deadline = clock.now().adding(seconds: 45)
        #expect(try await store.write { try $0.insert(.dedupeBytes, "delivery-1", [1], expiresAt: deadline) })
        #expect(try await store.write { try $0.insert(.dedupeBytes, "delivery-1", [2], expiresAt: deadline.adding(seconds: 3600)) } == false)
        #expect(try store.get(.dedupeBytes, "delivery-1") == [1])
        #expect(try await store.delete(.dedupeBytes, "delivery-1"))
        #expect(try await store.delete(.dedupeBytes, "delivery-1") == false)
        #expect(try rawCount(store, .dedupe) == 0)

        try await store.put(.dedupeBytes, "delivery-2", [1], expiresAt: deadline)
        clock.set(deadline)
        // Expired but not yet swept: absent to insert and delete alike.
        #expect(try await store.write { try $0.insert(.dedupeBytes, "delivery-2", [2], expiresAt: deadline.adding(seconds: 600)) })
        #expect(try store.get(.dedupeBytes, "delivery-2") == [2])
        #expect(try await store.delete(.dedupeBytes, "delivery-2"))
        try await store.put(.dedupeBytes, "delivery-3", [3], expiresAt: deadline.adding(seconds: 1))
        clock.set(deadline.adding(seconds: 1))
        #expect(try await store.delete(.dedupeBytes, "delivery-3") == false)
    }

    @Test func anEntryVanishesAtItsExactDeadline() async throws {
        let clock = ManualWallClock(Self.start)
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let deadline = clock.now().adding(milliseconds: 90_500)
        try await store.put(.sessionsText, "token", "live", expiresAt: deadline)
        try await store.put(.sessionsText, "other", "kept", expiresAt: deadline.adding(seconds: 600))
        clock.set(deadline.adding(milliseconds: -1))
        #expect(try store.get(.sessionsText, "token") == "live")
        #expect(try store.read { try $0.count(.sessionsText) } == 2)
        clock.set(deadline)
        #expect(try store.get(.sessionsText, "token") == nil)
        #expect(try store.read { try $0.contains(.sessionsText, "token") } == false)
        #expect(try store.read { try $0.deadline(.sessionsText, "token") } == nil)
        #expect(try store.read { try $0.scan(.sessionsText).map(\.key) } == ["other"])
        #expect(try await store.write { try $0.get(.sessionsText, "token") } == nil)
        // Its generation has not ended, so it is still stored, and a sweep leaves it alone.
        #expect(try await store.sweepAllExpired() == 0)
        #expect(try rawCount(store, .sessions) == 2)
    }

    @Test func sweepingDropsWholeExpiredGenerationsInBoundedBatchesAndNeverLiveOnes() async throws {
        let clock = ManualWallClock(Self.start)
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        try await store.write { txn in
            for index in 0..<3000 {
                try txn.put(.sessionsText, "short-\(index)", "v", expiresAt: clock.now().adding(seconds: 10 + Int64(index % 40)))
            }
            for index in 0..<500 {
                try txn.put(.sessionsText, "long-\(index)", "v", expiresAt: clock.now().adding(seconds: 3600))
                try txn.put(.sessionsText, "forever-\(index)", "v")
            }
        }
        #expect(try await store.sweepAllExpired() == 0)
        clock.advance(seconds: 60)
        let first = try await store.sweepExpired(maximumEntries: 1000, budget: .seconds(60))
        #expect(first == SweepReport(deleted: 1000, moreDue: true))
        let timeBound = try await store.sweepExpired(maximumEntries: 1000, budget: .zero)
        #expect(timeBound == SweepReport(deleted: 64, moreDue: true))
        // Reads and writes between batches see the rest expired and the live entries intact.
        #expect(try store.get(.sessionsText, "short-2999") == nil)
        try await store.put(.sessionsText, "between", "batches", expiresAt: clock.now().adding(seconds: 600))
        var total = first.deleted + timeBound.deleted
        while true {
            let report = try await store.sweepExpired(maximumEntries: 1000, budget: .seconds(60))
            total += report.deleted
            if !report.moreDue { break }
        }
        #expect(total == 3000)
        #expect(try rawCount(store, .sessions) == 1001)
        #expect(try store.read { try $0.count(.sessionsText) } == 1001)
        #expect(try store.get(.sessionsText, "long-499") == "v")
        clock.advance(seconds: 3600 + 3600)
        #expect(try await store.sweepAllExpired() == 501)
        #expect(try store.read { try $0.scan(.sessionsText, prefix: Array("forever-".utf8)).count } == 500)
    }

    @Test func scansMergeGenerationsInKeyOrder() async throws {
        let clock = ManualWallClock(Self.start)
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let lifetimes: [Int64?] = [30, 7200, nil, 600, 86_400]
        try await store.write { txn in
            for index in 0..<20 {
                let key = "k" + String(index).leftPadded(2)
                try txn.put(.sessionsText, key, "v\(index)", expiresAt: lifetimes[index % lifetimes.count].map { clock.now().adding(seconds: $0) })
            }
            try txn.put(.sessionsText, "other", "o", expiresAt: clock.now().adding(seconds: 30))
        }
        let all = (0..<20).map { "k" + String($0).leftPadded(2) }
        #expect(try store.read { try $0.scan(.sessionsText, prefix: Array("k".utf8)).map(\.key) } == all)
        #expect(try store.read { try $0.scan(.sessionsText, prefix: Array("k".utf8), reverse: true).map(\.key) } == all.reversed())
        #expect(try store.read { try $0.scan(.sessionsText, prefix: Array("k".utf8), after: "k04", limit: 3).map(\.key) } == ["k05", "k06", "k07"])
        #expect(try store.read { try $0.scan(.sessionsText, prefix: Array("k".utf8), after: "k04", limit: 2, reverse: true).map(\.key) } == ["k03", "k02"])
        #expect(try store.read { try $0.scan(.sessionsText).first?.value } == "v0")
        clock.advance(seconds: 30)
        let live = all.enumerated().filter { $0.offset % lifetimes.count != 0 }.map(\.element)
        #expect(try store.read { try $0.scan(.sessionsText).map(\.key) } == live)
        #expect(try store.read { try $0.count(.sessionsText, prefix: Array("k".utf8)) } == live.count)
    }

    @Test func appendCountsAcrossGenerations() async throws {
        let clock = ManualWallClock(Self.start)
        let store = try openStore(temporaryDirectory(), clock: clock)
        defer { store.close() }
        let messages = Keyspace<SequencedKey, [UInt8]>(.sessions)
        try await store.append(messages, prefix: "session-1", [1], expiresAt: clock.now().adding(seconds: 3600))
        try await store.append(messages, prefix: "session-1", [2], expiresAt: clock.now().adding(seconds: 30))
        let third = try await store.append(messages, prefix: "session-1", [3])
        #expect(third.sequence == 3)
        #expect(try store.read { try $0.scan(messages, prefix: SequencedKey.scanPrefix("session-1")).map(\.value) } == [[1], [2], [3]])
    }

    @Test func reopeningFindsTheGenerationsAgain() async throws {
        let clock = ManualWallClock(Self.start)
        let directory = temporaryDirectory()
        var store = try openStore(directory, clock: clock)
        try await store.write { txn in
            for index in 0..<100 {
                try txn.put(.oauthTokensText, "t\(index)", "v", expiresAt: clock.now().adding(seconds: 60 * Int64(1 + index % 7)))
            }
            try txn.put(.oauthTokensText, "forever", "v")
        }
        store.close()
        store = try openStore(directory, clock: clock)
        defer { store.close() }
        for index in 0..<100 {
            #expect(try store.get(.oauthTokensText, "t\(index)") == "v")
        }
        try await store.put(.oauthTokensText, "t0", "moved", expiresAt: clock.now().adding(seconds: 36_000))
        #expect(try rawCount(store, .oauthTokens) == 101)
        clock.advance(seconds: 3600)
        #expect(try await store.sweepAllExpired() == 99)
        #expect(try store.get(.oauthTokensText, "t0") == "moved")
        #expect(try store.get(.oauthTokensText, "forever") == "v")
        #expect(try rawCount(store, .oauthTokens) == 2)
    }

    @Test func aVersionOneStoreIsMovedIntoGenerationsWhenOpened() async throws {
        let clock = ManualWallClock(Self.start)
        let directory = temporaryDirectory()
        var store = try openStore(directory, clock: clock)
        let deadline = clock.now().adding(seconds: 120)
        try await store.write { txn in
            // What version 1 wrote: plain keys, an expiry-index entry per expiring entry.
            try txn.handle.putExact(.sessions, Array("old-expiring".utf8), StoredValue.encode(Array("a".utf8), deadline: deadline))
            try txn.handle.putExact(.expiryIndex, TransactionHandle.expiryKey(deadline, .sessions, Array("old-expiring".utf8)), [])
            try txn.handle.putExact(.sessions, Array("old-plain".utf8), StoredValue.encode(Array("b".utf8), deadline: nil))
            try txn.handle.putExact(.meta, Environment.schemaVersionKey, StoredValue.encode(Array("1".utf8), deadline: nil))
            try txn.put(.customersText, "customer", "c", expiresAt: deadline)
        }
        store.close()
        store = try openStore(directory, clock: clock)
        defer { store.close() }
        #expect(try store.get(.meta, "schema.version") == "2")
        #expect(try store.get(.sessionsText, "old-expiring") == "a")
        #expect(try store.get(.sessionsText, "old-plain") == "b")
        #expect(try store.get(.customersText, "customer") == "c")
        #expect(try rawCount(store, .expiryIndex) == 1)
        clock.set(deadline.adding(seconds: 3600))
        #expect(try await store.sweepAllExpired() == 2)
        #expect(try store.get(.sessionsText, "old-plain") == "b")
        #expect(try rawCount(store, .sessions) == 1)
    }

    @Test func keysLeaveRoomForTheGenerationPrefix() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        try await store.put(.sessionsText, String(repeating: "k", count: 507), "fits")
        await #expect { try await store.put(.sessionsText, String(repeating: "k", count: 508), "v") } throws: {
            ($0 as? StoreError)?.code == .invalidArgument && "\($0)".contains("507")
        }
        #expect(throws: StoreError.self) { try store.get(.sessionsText, "") }
    }

    @Test func aReaderOlderThanASweepStillProbesTheGenerationItRetired() {
        let table = GenerationTable()
        table.load([100, 200, Generation.permanent])
        let before = Timestamp(millisecondsSince1970: 99_000)
        #expect(table.live(now: before, transaction: 9) == [Generation.permanent, 200, 100])
        #expect(table.live(now: Timestamp(millisecondsSince1970: 100_000), transaction: 9) == [Generation.permanent, 200])
        table.retire(before: 200, transaction: 10)
        #expect(table.live(now: before, transaction: 9) == [Generation.permanent, 200, 100])
        #expect(table.live(now: before, transaction: 10) == [Generation.permanent, 200])
        table.noteWrite(100)
        #expect(table.live(now: before, transaction: 10) == [Generation.permanent, 200, 100])
        table.retire(before: nil, transaction: 11)
        #expect(table.all() == [Generation.permanent])
    }
}

extension Keyspace where Key == String, Value == String {
    static var oauthTokensText: Self { Self(.oauthTokens) }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
