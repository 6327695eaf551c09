import Foundation
import TestSupport
import Testing

/// Every fuzz harness, built without libFuzzer, replays its seed corpus (FuzzTesting/Corpus/<harness>) and
/// the inputs that once broke it (FuzzTesting/Regressions/<harness>): a crash found by scripts/fuzz, once
/// fixed and saved there, stays fixed.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let fuzzTesting = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("FuzzTesting")

    /// The harness binaries sit beside the test bundle in the build products directory.
    static func binary(_ harness: String) -> String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(harness).path
    }

    @Test(arguments: ["FuzzJSON", "FuzzHTTP1Parser", "FuzzToolArguments"])
    func harnessReplaysItsCorpusAndRegressions(harness: String) async throws {
        let folders = ["Corpus", "Regressions"].map { Self.fuzzTesting.appendingPathComponent("\($0)/\(harness)").path }
            .filter { FileManager.default.fileExists(atPath: $0) }
        #expect(folders.first?.hasSuffix("Corpus/\(harness)") == true, "the seed corpus of \(harness) is missing")
        let replay = try ChildProcess(Self.binary(harness), folders)
        let result = await replay.finish(seconds: 120)
        #expect(result.status == 0, "\(harness): \(result)")
        #expect(result.output.contains("no invariant broken"), "\(harness): \(result)")
    }
}
