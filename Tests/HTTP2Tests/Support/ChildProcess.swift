import Foundation
import Synchronization
import Testing

/// Where the test's files and tools are.
enum Paths {
    /// The repository root (this file is Tests/HTTP2Tests/Support/ChildProcess.swift).
    static let repository: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python client scripts.
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Clients")

    /// The virtual environment's interpreter made by `scripts/python-env`.
    static var python: String { repository.appendingPathComponent(".venv/bin/python").path }

    static func script(_ name: String) -> String { clients.appendingPathComponent(name).path }

    /// The absolute path of a program on PATH (Foundation's `Process` wants one).
    static func tool(_ name: String) -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin", "/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/usr/bin/\(name)"
    }

    /// A fresh temporary directory for one test.
    static func temporaryDirectory(_ name: String = #function) -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hermes-http2-tests/\(safe)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// What a finished child process left behind.
struct ProcessResult: Sendable, CustomStringConvertible {
    /// The exit status, or nil when it was killed (by a signal or for running past its time).
    var status: Int32?
    var output: String
    var error: String
    var timedOut: Bool

    var description: String {
        "status \(status.map(String.init) ?? "none")\(timedOut ? " (timed out)" : "")\nstdout:\n\(output.prefix(4000))\nstderr:\n\(error.prefix(4000))"
    }

    /// The last line of stdout parsed as a JSON object (the Python clients print one).
    func json() throws -> JSONObject {
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            Issue.record("the client printed no JSON result:\n\(self)")
            throw ClientFailure(description: "no JSON result")
        }
        return JSONObject(values: object)
    }
}

struct ClientFailure: Error, CustomStringConvertible {
    var description: String
}

/// Typed access to a decoded JSON object.
struct JSONObject: @unchecked Sendable, CustomStringConvertible {
    // `@unchecked Sendable`: holds only values JSONSerialization produced, never mutated.
    let values: [String: Any]

    subscript(int key: String) -> Int? { (values[key] as? NSNumber)?.intValue }
    subscript(double key: String) -> Double? { (values[key] as? NSNumber)?.doubleValue }
    subscript(bool key: String) -> Bool? { (values[key] as? NSNumber)?.boolValue }
    subscript(string key: String) -> String? { values[key] as? String }
    subscript(object key: String) -> JSONObject? { (values[key] as? [String: Any]).map(JSONObject.init) }
    subscript(list key: String) -> [JSONObject] {
        (values[key] as? [Any])?.compactMap { ($0 as? [String: Any]).map(JSONObject.init) } ?? []
    }
    subscript(strings key: String) -> [String] { (values[key] as? [Any])?.compactMap { $0 as? String } ?? [] }
    subscript(ints key: String) -> [Int] { (values[key] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }

    var description: String {
        (try? JSONSerialization.data(withJSONObject: values, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "\(values)"
    }
}

/// A real client program run as a child process. Output goes to files (read at any time, never blocking a
/// thread of the cooperative pool); waiting polls, so many children can run while tests run in parallel.
///
/// Spawned with `posix_spawn` rather than Foundation's `Process`: that one runs every child through a shared
/// CFRunLoop thread and crashed (once, inside `Process.run`) while many tests spawned clients at once.
final class ChildProcess: @unchecked Sendable {
    // `@unchecked Sendable`: the mutable state (exit status, stdin) is behind `state`.
    let pid: pid_t
    let arguments: [String]
    private let directory: URL
    private let outputURL: URL
    private let errorURL: URL

    private struct State {
        /// The raw wait status once reaped.
        var status: Int32?
        /// The write end of the child's stdin, until closed.
        var input: Int32?
    }

    private let state: Mutex<State>

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.arguments = [executable] + arguments
        directory = Paths.temporaryDirectory("child")
        outputURL = directory.appendingPathComponent("stdout")
        errorURL = directory.appendingPathComponent("stderr")
        var variables = ProcessInfo.processInfo.environment
        variables["PYTHONUNBUFFERED"] = "1"
        variables["PYTHONDONTWRITEBYTECODE"] = "1"
        // Proxies from the environment must not intercept requests to 127.0.0.1.
        for name in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"] { variables[name] = nil }
        variables.merge(environment) { $1 }

        let output = open(outputURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let error = open(errorURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        var pipe: [Int32] = [-1, -1]
        guard output >= 0, error >= 0, Glibc.pipe(&pipe) == 0 else {
            for fd in [output, error] + pipe where fd >= 0 { close(fd) }
            throw ClientFailure(description: "cannot set up the child's files: errno \(errno)")
        }
        defer { for fd in [output, error, pipe[0]] { close(fd) } }
        for fd in pipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, error, 2)
        // Nothing else of this process (server sockets above all) may live on in the child.
        Self.closeOthers(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            close(pipe[1])
            throw ClientFailure(description: "cannot start \(executable): errno \(spawned)")
        }
        self.pid = pid
        state = Mutex(State(status: nil, input: pipe[1]))
    }

    /// Adds "close every descriptor from 3 on" to `actions`: glibc's `addclosefrom_np` when there (the Glibc
    /// module does not import it), else one close per descriptor open now, as Foundation does.
    private static func closeOthers(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
            if closeFrom(&actions, 3) == 0 { return }
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
    }

    /// A Python client from Tests/HTTP2Tests/Clients run with the `.venv` interpreter.
    static func python(_ script: String, _ arguments: [String]) throws -> ChildProcess {
        guard FileManager.default.isExecutableFile(atPath: Paths.python) else {
            throw ClientFailure(description: "no Python environment at \(Paths.python): run scripts/python-env first")
        }
        return try ChildProcess(Paths.python, [Paths.script(script)] + arguments)
    }

    /// A child a test left behind (it failed early) is killed and reaped; its output files go away.
    deinit {
        if isRunning {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        closeInput()
        try? FileManager.default.removeItem(at: directory)
    }

    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }
    var error: String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }

    /// Whether the child still runs (reaps it once it has ended).
    var isRunning: Bool {
        state.withLock { state in
            guard state.status == nil else { return false }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                state.status = status
            } else if reaped < 0 && errno != EINTR {
                state.status = -1  // not our child any more: treat as ended, status unknown
            }
            return state.status == nil
        }
    }

    /// The exit status, or nil while running or when it ended by a signal.
    var exitStatus: Int32? {
        guard !isRunning, let status = state.withLock({ $0.status }), status >= 0, status & 0x7f == 0 else { return nil }
        return (status >> 8) & 0xff
    }

    /// Closes the child's stdin (the Python clients take that as "go on").
    func closeInput() {
        if let fd = state.withLock({ state in defer { state.input = nil }; return state.input }) { close(fd) }
    }

    /// Waits until stdout contains `text`; false when the process ended or time ran out first.
    func waitForOutput(_ text: String, seconds: Double = 30) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if !isRunning { return output.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Waits for the process to end, killing it after `seconds`.
    func finish(seconds: Double = 60) async -> ProcessResult {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var timedOut = false
        while isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                kill()
                break
            }
            try? await Task.sleep(for: .milliseconds(15))
        }
        closeInput()
        // After SIGKILL the process still has to be reaped before its status is readable.
        for _ in 0..<400 where isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        return ProcessResult(status: exitStatus, output: output, error: error, timedOut: timedOut)
    }

    func kill(signal: Int32 = SIGKILL) { Glibc.kill(pid, signal) }

    /// Runs a program to completion, with its stdin closed from the start.
    static func run(_ executable: String, _ arguments: [String], seconds: Double = 60) async throws -> ProcessResult {
        let child = try ChildProcess(executable, arguments)
        child.closeInput()
        return await child.finish(seconds: seconds)
    }

    /// Runs a Python client to completion and returns its JSON result.
    static func runPython(_ script: String, _ arguments: [String], seconds: Double = 60) async throws -> (JSONObject, ProcessResult) {
        let child = try python(script, arguments)
        child.closeInput()
        let result = await child.finish(seconds: seconds)
        guard result.status == 0 else {
            Issue.record("\(script) \(arguments.joined(separator: " ")) failed: \(result)")
            throw ClientFailure(description: "\(script) failed")
        }
        return (try result.json(), result)
    }
}

/// Command-line HTTP clients.
enum Curl {
    /// One curl process; `-s -S` with the response body on stdout and the verbose trace on stderr.
    static func run(_ arguments: [String], seconds: Double = 60) async throws -> ProcessResult {
        try await ChildProcess.run(Paths.tool("curl"), ["-sS", "--noproxy", "*", "--max-time", "\(Int(seconds) - 5)"] + arguments, seconds: seconds)
    }

    /// Status code and protocol version of one request, printed after the body by `-w`.
    static func request(_ url: String, _ extra: [String] = [], seconds: Double = 60) async throws -> (status: Int, version: String, body: String, result: ProcessResult) {
        let marker = "\n--curl-write-out--"
        let result = try await run(extra + ["-w", "\(marker) %{http_code} %{http_version}", url], seconds: seconds)
        guard let range = result.output.range(of: marker, options: .backwards) else {
            return (0, "", result.output, result)
        }
        let fields = result.output[range.upperBound...].split(separator: " ")
        return (Int(fields.first ?? "") ?? 0, fields.dropFirst().first.map(String.init) ?? "", String(result.output[..<range.lowerBound]), result)
    }
}

enum Nghttp {
    static func run(_ arguments: [String], seconds: Double = 60) async throws -> ProcessResult {
        try await ChildProcess.run(Paths.tool("nghttp"), ["-t", "\(Int(seconds) - 5)"] + arguments, seconds: seconds)
    }
}
