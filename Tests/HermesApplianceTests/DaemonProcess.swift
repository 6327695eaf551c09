import Foundation
import TestSupport

/// The `hermes` binary built beside the test bundle, run as a real child process.
final class DaemonProcess: Sendable {
    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("hermes")
    }

    let child: ChildProcess

    /// Starts the daemon (or `executable`) without the test process's `HERMES_*` and credential variables,
    /// `environment` on top; its stdin is at its end from the start.
    init(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws {
        let inherited = ProcessInfo.processInfo.environment.keys.filter {
            $0.hasPrefix("HERMES_") || $0 == "CREDENTIAL_ENCRYPTION_KEY" || $0 == "CREDENTIALS_DIRECTORY"
        }
        child = try ChildProcess(executable ?? Self.binary.path, arguments, environment: environment, unsetting: inherited)
        child.closeInput()
    }

    var standardError: String { child.error }
    var standardOutput: String { child.output }

    /// Waits until stderr contains `text` or the process ends; returns whether it appeared.
    func waitFor(_ text: String, seconds: Double = 20) async throws -> Bool {
        await child.waitUntil(seconds: seconds) { $0.error.contains(text) }
    }

    func signal(_ number: Int32) { child.kill(number) }

    /// Waits for the process to end and its output to be read; returns its exit status (nil when it was
    /// killed, by a signal or for running past `seconds`).
    func waitForExit(seconds: Double = 20) async throws -> Int32? {
        await child.finish(seconds: seconds).status
    }

    /// Runs a command to completion; `seconds` only catches a hang (a Python client on a loaded machine
    /// can take many seconds just to import its packages).
    static func run(
        executable: String? = nil, _ arguments: [String], environment: [String: String] = [:], seconds: Double = 20
    ) async throws -> (status: Int32?, output: String, error: String) {
        let daemon = try DaemonProcess(arguments, environment: environment, executable: executable)
        let status = try await daemon.waitForExit(seconds: seconds)
        return (status, daemon.standardOutput, daemon.standardError)
    }
}

func temporaryStateDirectory(_ name: String = #function) -> String {
    let path = FileManager.default.temporaryDirectory.path + "/hermes-daemon-tests/\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
