import Foundation

/// The `hermes` binary built beside the test bundle, run as a real child process.
final class DaemonProcess: @unchecked Sendable {
    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("hermes")
    }

    let process = Process()
    private let lock = NSLock()
    private var errorText = ""
    private var outputText = ""
    private var readers: [Thread] = []

    init(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws {
        process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? Self.binary
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HERMES_") && $0.key != "CREDENTIAL_ENCRYPTION_KEY" && $0.key != "CREDENTIALS_DIRECTORY" }
        variables.merge(environment) { $1 }
        process.environment = variables
        let errorPipe = Pipe()
        let outputPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = outputPipe
        try process.run()
        readers = [drain(errorPipe) { self.errorText += $0 }, drain(outputPipe) { self.outputText += $0 }]
    }

    private func drain(_ pipe: Pipe, _ append: @escaping @Sendable (String) -> Void) -> Thread {
        let thread = Thread { [lock] in
            while true {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { return }
                lock.withLock { append(String(decoding: data, as: UTF8.self)) }
            }
        }
        thread.start()
        return thread
    }

    var standardError: String { lock.withLock { errorText } }
    var standardOutput: String { lock.withLock { outputText } }

    /// Waits until stderr contains `text` or the process ends; returns whether it appeared.
    func waitFor(_ text: String, seconds: Double = 20) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if standardError.contains(text) { return true }
            if !process.isRunning { return standardError.contains(text) }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end and its output to be read; returns its exit status.
    func waitForExit(seconds: Double = 20) async throws -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                return nil
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        while readers.contains(where: { !$0.isFinished }) { try await Task.sleep(for: .milliseconds(5)) }
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// Runs a command to completion.
    static func run(executable: String? = nil, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32?, output: String, error: String) {
        let daemon = try DaemonProcess(arguments, environment: environment, executable: executable)
        let status = try await daemon.waitForExit()
        return (status, daemon.standardOutput, daemon.standardError)
    }
}

func temporaryStateDirectory(_ name: String = #function) -> String {
    let path = FileManager.default.temporaryDirectory.path + "/hermes-daemon-tests/\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
