import Foundation
import Store
import TestSupport
import Testing

@Suite("Crash safety")
struct CrashTests {
    /// The probe binary sits beside the test bundle in the build products directory.
    static var probe: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("StoreCrashProbe")
    }

    @Test func everyAcknowledgedWriteSurvivesSIGKILL() async throws {
        let directory = temporaryDirectory()
        var acknowledged: [(kind: Substring, key: String, value: String)] = []
        var generator = SystemRandomNumberGenerator()
        for round in 0..<24 {
            let probe = try ChildProcess(Self.probe.path, [directory, "\(round)", "8"])

            // Let the writers get going, then kill at a random moment.
            _ = await probe.waitUntil(seconds: 5) { $0.output.split(separator: "\n").contains("ready") }
            try await Task.sleep(for: .milliseconds(Int.random(in: 5...120, using: &generator)))
            probe.kill(SIGKILL)
            let result = await probe.finish()
            #expect(result.termination?.signal != nil, "round \(round): the probe ended by itself")

            // Only whole lines: the kill may cut the last one short.
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            for line in lines where line != "ready" {
                let parts = line.split(separator: " ", maxSplits: 3)
                if parts.first == "log", parts.count == 4 {
                    acknowledged.append((parts[0], "\(parts[1]) \(parts[2])", String(parts[3])))
                } else if parts.first == "put", parts.count == 3 {
                    acknowledged.append((parts[0], String(parts[1]), String(parts[2])))
                }
            }

            // After every kill the store opens cleanly and holds every write acknowledged so far.
            let store = try openStore(directory)
            defer { store.close() }
            let lost = try store.read { txn -> [String] in
                var lost: [String] = []
                for write in acknowledged {
                    if write.kind == "put" {
                        if try txn.get(.waPhoneID, write.key) != write.value { lost.append(write.key) }
                    } else {
                        let parts = write.key.split(separator: " ")
                        let key = SequencedKey(prefix: String(parts[0]), sequence: UInt64(parts[1])!)
                        if try txn.get(.logs, key).map({ String(decoding: $0, as: UTF8.self) }) != write.value { lost.append(write.key) }
                    }
                }
                return lost
            }
            #expect(lost.isEmpty, "round \(round): \(lost.count) acknowledged writes lost, e.g. \(lost.prefix(3))")
        }
        #expect(acknowledged.count > 100, "the probe acknowledged too few writes to prove anything")
    }
}
