import Foundation
@testable import Store
import Testing

@Suite("Failures and bad input")
struct FailureTests {
    @Test func aFullMapFailsWithAClearErrorAndLosesNothing() async throws {
        let store = try openStore(temporaryDirectory(), mapSize: 1 << 20, maximumMapSize: nil)
        defer { store.close() }
        try await store.put(.customersText, "kept", "committed before the map filled")
        let big = [UInt8](repeating: 7, count: 64 << 10)
        var failure: StoreError?
        for index in 0..<64 {
            do {
                try await store.put(.dedupeBytes, "blob-\(index)", big)
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        let error = try #require(failure)
        #expect(error.code == .mapFull)
        #expect(error.message.contains("--map-size"))
        #expect(try store.get(.customersText, "kept") == "committed before the map filled")
        // Small writes that fit still succeed afterwards; the store is not wedged.
        try await store.delete(.dedupeBytes, "blob-0")
        try await store.put(.customersText, "after", "ok")
        #expect(try store.get(.customersText, "after") == "ok")
    }

    @Test func aFullMapGrowsWhenAllowed() async throws {
        let store = try openStore(temporaryDirectory(), mapSize: 1 << 20, maximumMapSize: 32 << 20)
        defer { store.close() }
        let big = [UInt8](repeating: 7, count: 64 << 10)
        await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<48 {
                group.addTask { try await store.put(.dedupeBytes, "blob-\(index)", big) }
            }
        }
        for index in 0..<48 {
            #expect(try store.get(.dedupeBytes, "blob-\(index)")?.count == big.count)
        }
        #expect(store.statistics.mapGrowths > 0)
        #expect(store.mapSize > 1 << 20)
    }

    @Test func corruptOrTruncatedValuesGiveTypedErrors() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        try await putCorrupt(store, .customers, key: "unknown-header", raw: [0x7F, 1, 2])
        try await putCorrupt(store, .customers, key: "truncated-deadline", raw: [0x01, 0, 0])
        try await putCorrupt(store, .customers, key: "empty", raw: [])
        try await putCorrupt(store, .customers, key: "bad-utf8", raw: [0x00, 0xFF, 0xFE])
        for key in ["unknown-header", "truncated-deadline", "empty", "bad-utf8"] {
            #expect { try store.get(.customersText, key) } throws: { ($0 as? StoreError)?.code == .corruptValue }
        }
        #expect { try store.read { try $0.scan(.customersText) } } throws: { ($0 as? StoreError)?.code == .corruptValue }
        // The rest of the store stays usable, and a corrupt entry can be overwritten or deleted.
        try await store.put(.customersText, "unknown-header", "repaired")
        #expect(try store.get(.customersText, "unknown-header") == "repaired")
        #expect(try await store.delete(.customersText, "truncated-deadline"))
        #expect(try store.get(.customersText, "truncated-deadline") == nil)
        #expect(throws: StoreError.self) { try store.get(.customersText, "empty") }
    }

    @Test func aGarbageDataFileIsNotAStore() throws {
        let directory = temporaryDirectory()
        let garbage = Data((0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try garbage.write(to: URL(fileURLWithPath: directory + "/data.mdb"))
        #expect { try openStore(directory) } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .notAStore && error.message.contains("backup")
        }
    }

    @Test func stateDirectoryProblemsAreExplained() throws {
        let directory = temporaryDirectory()
        let file = directory + "/not-a-directory"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        #expect { try openStore(file) } throws: { ($0 as? StoreError)?.code == .stateDirectoryMissing }
        #expect { try openStore(file + "/below") } throws: { ($0 as? StoreError)?.code == .stateDirectoryMissing }
        #expect {
            try Store(StoreConfiguration(location: .directory(directory + "/absent"), createDirectory: false))
        } throws: { ($0 as? StoreError)?.code == .stateDirectoryMissing }
        // /proc/self is a directory nobody may create files in, root included.
        #expect { try openStore("/proc/self") } throws: { ($0 as? StoreError)?.code == .stateDirectoryUnwritable }
        let created = try openStore(directory + "/new/nested")
        created.close()
    }

    @Test func theSameEnvironmentCannotBeOpenedTwice() throws {
        let directory = temporaryDirectory()
        let store = try openStore(directory)
        defer { store.close() }
        #expect { try openStore(directory) } throws: { ($0 as? StoreError)?.code == .alreadyOpen }
    }
}

@Suite("Group commit and backup")
struct DurabilityTests {
    @Test func concurrentAppendsShareCommits() async throws {
        let directory = temporaryDirectory()
        let store = try openStore(directory)
        let writers = 64
        let perWriter = 20
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<perWriter {
                        try await store.append(.events, prefix: "w\(writer)", Array("\(index)".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        let statistics = store.statistics
        #expect(statistics.writes == writers * perWriter)
        #expect(statistics.commits < statistics.writes / 4)
        store.close()
        let reopened = try openStore(directory)
        defer { reopened.close() }
        for writer in 0..<writers {
            let records = try reopened.read { try $0.scan(.events, prefix: SequencedKey.scanPrefix("w\(writer)")) }
            #expect(records.map { String(decoding: $0.value, as: UTF8.self) } == (0..<perWriter).map(String.init))
        }
    }

    @Test func groupCommitCanBeTurnedOff() async throws {
        let store = try openStore(temporaryDirectory(), maximumBatchSize: 1)
        defer { store.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask { try await store.put(.customersText, "k\(index)", "v") }
            }
            try await group.waitForAll()
        }
        #expect(store.statistics.commits == 40)
    }

    @Test func aHotBackupOpensAsAStore() async throws {
        let directory = temporaryDirectory()
        let store = try openStore(directory)
        defer { store.close() }
        try await store.write { txn in
            for index in 0..<2000 { try txn.put(.customersText, "before-\(index)", "v\(index)") }
        }
        let backupPath = directory + "/backup.mdb"
        let keepWriting = Task {
            var written = 0
            while !Task.isCancelled {
                try await store.put(.customersText, "during-\(written)", "v")
                written += 1
            }
            return written
        }
        try await Task.sleep(for: .milliseconds(20))
        try await store.backup(to: backupPath)
        keepWriting.cancel()
        let writtenDuring = try await keepWriting.value
        #expect(writtenDuring > 0)
        #expect(!FileManager.default.fileExists(atPath: backupPath + ".partial"))

        let copy = try Store(StoreConfiguration(location: .file(backupPath)))
        defer { copy.close() }
        #expect(try copy.read { try $0.count(.customersText, prefix: Array("before-".utf8)) } == 2000)
        #expect(try copy.get(.customersText, "before-1999") == "v1999")
        // A consistent snapshot: the "during" keys it holds are a gap-free prefix of what was written.
        let during = try copy.read { try $0.scan(.customersText, prefix: Array("during-".utf8)) }.count
        for index in 0..<during { #expect(try copy.get(.customersText, "during-\(index)") == "v") }
        // The copy is a store of its own: it takes writes.
        try await copy.put(.customersText, "restored", "yes")
        #expect(try copy.get(.customersText, "restored") == "yes")
    }

    @Test func aBackupToAnUnwritablePlaceFailsClearly() async throws {
        let store = try openStore(temporaryDirectory())
        defer { store.close() }
        await #expect { try await store.backup(to: "/proc/self/backup.mdb") } throws: { ($0 as? StoreError)?.code == .backupFailed }
    }
}

@Suite("Schema version")
struct SchemaVersionTests {
    @Test func aStoreFromANewerLayoutIsRefused() async throws {
        let directory = temporaryDirectory()
        let store = try openStore(directory)
        #expect(try store.get(.meta, "schema.version") == "2")
        try await store.put(.meta, "schema.version", "99")
        store.close()
        #expect { try openStore(directory) } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .notAStore && error.message.contains("newer")
        }
    }
}
