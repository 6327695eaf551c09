// Writes to a store from many tasks and reports each write on stdout only after the store acknowledged
// it (after its commit was synced). The crash test kills this process with SIGKILL at random moments and
// then checks that every reported write survived.
//
// Usage: StoreCrashProbe <state-directory> <round> [writers]
import Glibc
import Store

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: StoreCrashProbe <state-directory> <round> [writers]", status: 64) }
let directory = arguments[1]
let round = arguments[2]
let writers = arguments.count > 3 ? Int(arguments[3]) ?? 8 : 8

func fail(_ message: String, status: Int32) -> Never {
    var bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

/// One `write(2)` per line, so a line is either fully in the pipe or not at all when the kill lands.
func report(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
}

let store: Store
do {
    store = try Store(StoreConfiguration(location: .directory(directory), mapSize: 8 << 20, maximumMapSize: 1 << 30))
} catch {
    fail("cannot open the store: \(error)", status: 1)
}
report("ready")

await withTaskGroup(of: Void.self) { group in
    for writer in 0..<writers {
        group.addTask {
            var index = 0
            while true {
                let key = "r\(round)-w\(writer)-\(index)"
                let value = "value-\(index)-" + String(repeating: "x", count: index % 300)
                do {
                    if index % 3 == 0 {
                        let logKey = try await store.append(.logs, prefix: "probe:\(key)", Array(value.utf8))
                        report("log \(logKey.prefix) \(logKey.sequence) \(value)")
                    } else {
                        try await store.put(.waPhoneID, key, value)
                        report("put \(key) \(value)")
                    }
                } catch {
                    fail("write failed: \(error)", status: 2)
                }
                index += 1
            }
        }
    }
}
