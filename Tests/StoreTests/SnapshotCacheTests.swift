import Foundation
import Store
import TestSupport
import Testing

@Suite("Snapshot cache")
struct SnapshotCacheTests {
    @Test func valueIsKeptUntilTheNextCommit() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        let cache = SnapshotCache<Int>(store)
        var computed = 0
        let count = { () throws -> Int in
            try cache.value { snapshot in
                computed += 1
                return try snapshot.count(.customersText)
            }
        }

        #expect(try count() == 0)
        #expect(try count() == 0)
        #expect(computed == 1, "read again without any commit")

        try await store.put(.customersText, "c1", "one")
        #expect(try count() == 1)
        #expect(computed == 2)

        // Any commit invalidates, even one to another keyspace.
        try await store.put(.sessionsText, "s1", "x")
        #expect(try count() == 1)
        #expect(computed == 3)
        #expect(try count() == 1)
        #expect(computed == 3)
    }

    @Test func commitsOfAnotherProcessAreSeenByTheNextCall() async throws {
        let directory = temporaryDirectory()
        let store = try openStore(directory)
        defer { store.close() }
        let cache = SnapshotCache<Int>(store)
        let phones = Keyspace<String, String>(.waPhoneID)
        #expect(try cache.value { try $0.count(phones) } == 0)

        // The crash probe writes from its own process; stop it once it has acknowledged some writes.
        let probe = try ChildProcess(CrashTests.probe.path, [directory, "0", "2"])
        let wrote = await probe.waitUntil(seconds: 10) { $0.output.contains("put ") }
        probe.kill(SIGKILL)
        _ = await probe.finish()
        #expect(wrote, "the probe acknowledged no write")

        let stored = try store.read { try $0.count(phones) }
        #expect(stored > 0)
        #expect(try cache.value { try $0.count(phones) } == stored)
    }

    @Test func closedStoreFails() throws {
        let store = try openStore(temporaryDirectory())
        let cache = SnapshotCache<Bool>(store)
        #expect(try cache.value { _ in true })
        store.close()
        #expect(throws: StoreError.self) { try cache.value { _ in true } }
    }
}
