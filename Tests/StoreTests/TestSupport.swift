import Foundation
import Store

/// A fresh temporary state directory per test; LMDB must not open one environment twice per process.
func temporaryDirectory(_ name: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.path
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = "\(base)/hermes-store-tests/\(safe)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func openStore(
    _ directory: String,
    clock: any WallClock = SystemWallClock(),
    mapSize: Int = 64 << 20,
    maximumMapSize: Int? = 1 << 30,
    maximumBatchSize: Int = 1024
) throws -> Store {
    try Store(StoreConfiguration(
        location: .directory(directory),
        mapSize: mapSize,
        maximumMapSize: maximumMapSize,
        maximumBatchSize: maximumBatchSize,
        clock: clock
    ))
}

extension Keyspace where Key == String, Value == String {
    static var customersText: Self { Self(.customers) }
    static var sessionsText: Self { Self(.sessions) }
}

extension Keyspace where Key == String, Value == [UInt8] {
    static var dedupeBytes: Self { Self(.dedupe) }
}

struct TestFailure: Error {}
