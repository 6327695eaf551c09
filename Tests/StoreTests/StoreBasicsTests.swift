import Foundation
import Store
import Testing

@Suite("Store basics")
struct StoreBasicsTests {
    @Test func putGetDeleteAndReopen() async throws {
        let directory = temporaryDirectory()
        let store = try openStore(directory)
        let key = CredentialKey(customerID: "cus_1", platform: "telegram")
        try await store.put(.creds, key, [1, 2, 3])
        try await store.put(.waPhoneID, "1234567890", "cus_1")
        #expect(try store.get(.creds, key) == [1, 2, 3])
        #expect(try store.get(.creds, CredentialKey(customerID: "cus_2", platform: "telegram")) == nil)
        #expect(try store.get(.waPhoneID, "1234567890") == "cus_1")
        try await store.put(.creds, key, [9])
        #expect(try store.get(.creds, key) == [9])
        store.close()

        let reopened = try openStore(directory)
        defer { reopened.close() }
        #expect(try reopened.get(.creds, key) == [9])
        #expect(try await reopened.delete(.creds, key))
        #expect(try await reopened.delete(.creds, key) == false)
        #expect(try reopened.get(.creds, key) == nil)
    }

    @Test func keyspacesAreSeparate() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        try await store.put(.customersText, "same", "customer")
        try await store.put(.sessionsText, "same", "session")
        #expect(try store.get(.customersText, "same") == "customer")
        #expect(try store.get(.sessionsText, "same") == "session")
    }

    @Test func credentialKeyRoundTripsAndScansPerCustomer() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        for (customer, platform) in [("a", "x"), ("a", "telegram"), ("ab", "x"), ("b", "discord")] {
            try await store.put(.creds, CredentialKey(customerID: customer, platform: platform), Array(platform.utf8))
        }
        let ofA = try store.read { try $0.scan(.creds, prefix: CredentialKey.prefix(customerID: "a")) }
        #expect(ofA.map(\.key) == [CredentialKey(customerID: "a", platform: "telegram"), CredentialKey(customerID: "a", platform: "x")])
    }

    @Test func logsForOneCustomerAndDayAreOneOrderedRangeScan() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        let day = SequencedKey.logPrefix(customerID: "cus_1", day: "2026-11-25")
        for index in 1...25 {
            try await store.append(.logs, prefix: day, Array("record \(index)".utf8))
            try await store.append(.logs, prefix: SequencedKey.logPrefix(customerID: "cus_1", day: "2026-11-24"), [0])
            try await store.append(.logs, prefix: SequencedKey.logPrefix(customerID: "cus_10", day: "2026-11-25"), [1])
        }
        let records = try store.read { try $0.scan(.logs, prefix: SequencedKey.scanPrefix(day)) }
        #expect(records.count == 25)
        #expect(records.map(\.key.sequence) == Array(1...25))
        #expect(records.allSatisfy { $0.key.prefix == day })
        #expect(String(decoding: records[9].value, as: UTF8.self) == "record 10")

        let page = try store.read { try $0.scan(.logs, prefix: SequencedKey.scanPrefix(day), after: records[19].key, limit: 3) }
        #expect(page.map(\.key.sequence) == [21, 22, 23])
        let newest = try store.read { try $0.scan(.logs, prefix: SequencedKey.scanPrefix(day), limit: 2, reverse: true) }
        #expect(newest.map(\.key.sequence) == [25, 24])
        let before = try store.read { try $0.scan(.logs, prefix: SequencedKey.scanPrefix(day), after: records[4].key, limit: 10, reverse: true) }
        #expect(before.map(\.key.sequence) == [4, 3, 2, 1])
        #expect(try store.read { try $0.count(.logs, prefix: SequencedKey.scanPrefix(SequencedKey.logPrefix(customerID: "cus_10", day: "2026-11-25"))) } == 25)
    }

    @Test func sequencedKeysSortNumerically() throws {
        let nine = SequencedKey(prefix: "c:2026-01-01", sequence: 9)
        let ten = SequencedKey(prefix: "c:2026-01-01", sequence: 10)
        #expect(nine < ten)
        #expect(try SequencedKey(storeKey: ten.storeKey) == ten)
        #expect(try SequencedKey(storeKey: SequencedKey(prefix: "p", sequence: .max).storeKey).sequence == .max)
        #expect(throws: StoreError.self) { try SequencedKey(storeKey: Array("short".utf8)) }
        #expect(throws: StoreError.self) { try SequencedKey(storeKey: Array("p:0000000000000000000x".utf8)) }
    }

    @Test func aThrowingWriteLeavesTheOthersInItsBatchIntact() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<50 {
                group.addTask {
                    do {
                        try await store.write { txn in
                            try txn.put(.customersText, "k\(index)", "v")
                            if index % 5 == 0 { throw TestFailure() }
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 40)
        for index in 0..<50 {
            #expect(try store.get(.customersText, "k\(index)") == (index % 5 == 0 ? nil : "v"))
        }
    }

    @Test func insertOnlyWhenAbsent() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        #expect(try await store.write { try $0.insert(.dedupeBytes, "delivery-1", [1]) })
        #expect(try await store.write { try $0.insert(.dedupeBytes, "delivery-1", [2]) } == false)
        #expect(try store.get(.dedupeBytes, "delivery-1") == [1])
    }

    @Test func invalidKeysAreRefusedWithAClearError() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        await #expect { try await store.put(.customersText, "", "v") } throws: { ($0 as? StoreError)?.code == .invalidArgument }
        let long = String(repeating: "k", count: 600)
        await #expect { try await store.put(.customersText, long, "v") } throws: {
            ($0 as? StoreError)?.code == .invalidArgument && "\($0)".contains("511")
        }
        #expect(throws: StoreError.self) { try store.get(.customersText, long) }
        try await store.put(.customersText, "fine", "v")
        #expect(try store.get(.customersText, "fine") == "v")
    }

    @Test func readersSeeASnapshotAndNeverBlockTheWriter() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        try await store.put(.customersText, "k", "old")
        let insideRead = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let seen = LockedBox<String?>(nil)
        Thread.detachNewThread {
            let value = try? store.read { txn -> String? in
                insideRead.signal()
                release.wait()
                return try txn.get(.customersText, "k")
            }
            seen.set(value ?? nil)
            insideRead.signal()
        }
        insideRead.wait()
        // The reader holds its snapshot open; the writer still commits.
        try await store.put(.customersText, "k", "new")
        #expect(try store.get(.customersText, "k") == "new")
        release.signal()
        insideRead.wait()
        #expect(seen.get() == "old")
    }

    @Test func closedStoreRefusesWork() async throws {
        let store = try openStore(temporaryDirectory())
        store.close()
        #expect { try store.get(.customersText, "k") } throws: { ($0 as? StoreError)?.code == .closed }
        await #expect { try await store.put(.customersText, "k", "v") } throws: { ($0 as? StoreError)?.code == .closed }
    }
}

final class LockedBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func get() -> T { lock.withLock { value } }
    func set(_ newValue: T) { lock.withLock { value = newValue } }
}
