import Foundation
import TestSupport
import Testing

@Suite("Child processes")
struct ChildProcessTests {
    @Test func exitStatusOutputAndErrorAreKeptApart() async throws {
        let result = try await ChildProcess.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(result.termination == .exited(3))
        #expect(result.status == 3)
        #expect(result.output == "out\n")
        #expect(result.error == "err\n")
        #expect(!result.timedOut)
    }

    @Test func largeOutputOnBothStreamsDoesNotStall() async throws {
        // Far beyond a pipe's 64 KiB on each stream, written in turns.
        let script = "for i in 1 2 3 4; do head -c 1000000 /dev/zero | tr '\\0' o; head -c 1000000 /dev/zero | tr '\\0' e >&2; done"
        let result = try await ChildProcess.run("sh", ["-c", script], seconds: 60)
        #expect(result.status == 0)
        #expect(result.output.utf8.count == 4_000_000 && result.output.allSatisfy { $0 == "o" })
        #expect(result.error.utf8.count == 4_000_000 && result.error.allSatisfy { $0 == "e" })
    }

    @Test func aChildPastItsTimeIsKilled() async throws {
        let started = ContinuousClock.now
        let result = try await ChildProcess.run("sleep", ["30"], seconds: 0.5)
        #expect(result.timedOut)
        #expect(result.termination == .signaled(SIGKILL))
        #expect(result.status == nil)
        // Killed, not waited for: well under the 30 s it would sleep, however loaded the machine.
        #expect(ContinuousClock.now - started < .seconds(25))
    }

    @Test func signalsReachTheChild() async throws {
        let child = try ChildProcess("sleep", ["30"])
        #expect(child.isRunning)
        child.kill(SIGTERM)
        let result = await child.finish(seconds: 10)
        #expect(result.termination == .signaled(SIGTERM))
        #expect(!result.timedOut)
    }

    @Test func stdinIsAPipeUntilClosed() async throws {
        let child = try ChildProcess("cat")
        try child.write("hello\n")
        #expect(await child.waitUntil(seconds: 10) { $0.output == "hello\n" })
        child.closeInput()
        let result = await child.finish(seconds: 10)
        #expect(result.status == 0 && result.output == "hello\n")
        #expect(throws: ChildProcess.Failure.self) { try child.write("late\n") }
    }

    @Test func writingToAChildThatIsGoneFailsWithoutKillingTheTests() async throws {
        let child = try ChildProcess("true")
        _ = await child.waitUntil(seconds: 10) { !$0.isRunning }
        #expect(throws: ChildProcess.Failure.self) { try child.write(String(repeating: "x", count: 1 << 20)) }
    }

    @Test func environmentIsInheritedWithOverridesAndRemovals() async throws {
        // Two variables of this process (no setenv here: tests run in parallel, and other threads read the environment).
        let names = ProcessInfo.processInfo.environment.keys.filter { name in
            name != "PATH" && name.first?.isNumber == false && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        }.sorted()
        let (dropped, kept) = try (#require(names.first), #require(names.last))
        try #require(dropped != kept)
        let result = try await ChildProcess.run(
            "sh", ["-c", "echo \"${\(dropped)-unset}\"; printenv \(kept); echo \"$CHILD_PROCESS_TEST_SET\""],
            environment: ["CHILD_PROCESS_TEST_SET": "set"], unsetting: [dropped]
        )
        #expect(result.output == "unset\n\(ProcessInfo.processInfo.environment[kept] ?? "")\nset\n", "\(result)")
    }

    @Test func workingDirectoryAndPathLookup() async throws {
        let result = try await ChildProcess.run("pwd", directory: "/tmp")
        #expect(result.output == "/tmp\n")
        let child = try ChildProcess("true")
        #expect(child.arguments.first?.hasPrefix("/") == true)
        #expect(throws: ChildProcess.Failure.self) { try ChildProcess("no-such-program-anywhere") }
    }

    @Test func waitUntilGivesUpWhenTheChildEndsWithoutIt() async throws {
        let child = try ChildProcess("sh", ["-c", "echo something else"])
        let started = ContinuousClock.now
        #expect(await child.waitUntil(seconds: 60) { $0.output.contains("never printed") } == false)
        #expect(ContinuousClock.now - started < .seconds(40))
        #expect(child.termination == .exited(0))
    }
}
