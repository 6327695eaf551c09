import Foundation
import Synchronization

/// A program run by the tests as a child process.
///
/// Started with `posix_spawn`, not Foundation's `Process`: on Linux `Process.run()` crashes now and then
/// (swift-corelibs-foundation PR #5472, an over-read while it looks for descriptors to close), and the
/// crash takes the whole test binary with it.
///
/// The child's stdout and stderr are pipes that a thread of its own reads into memory as they fill, so a
/// child that writes a lot never stalls and ``output`` and ``error`` can be read at any time without
/// blocking. Its stdin is a pipe too, open until ``closeInput()``. The child runs in a process group of its
/// own and gets no other descriptor of the test process. Waiting polls, so it never blocks a thread of
/// the cooperative pool and many children can run while tests run in parallel.
///
/// A child still running when its `ChildProcess` goes away (a test failed early) is killed and reaped.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// This signal killed it.
        case signaled(Int32)

        /// The exit status; nil when a signal killed it.
        public var exitStatus: Int32? {
            if case .exited(let status) = self { status } else { nil }
        }

        /// The signal that killed it; nil when it exited.
        public var signal: Int32? {
            if case .signaled(let signal) = self { signal } else { nil }
        }

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// What a finished child left behind.
    public struct Result: Sendable, CustomStringConvertible {
        /// How it ended; nil only when it could not be reaped.
        public var termination: Termination?
        /// Its stdout.
        public var output: String
        /// Its stderr.
        public var error: String
        /// Whether it was killed for running past its time.
        public var timedOut: Bool

        /// The exit status; nil when it was killed (by a signal, or for running past its time).
        public var status: Int32? { termination?.exitStatus }

        public var description: String {
            "\(termination.map(String.init(describing:)) ?? "not reaped")\(timedOut ? " (timed out)" : "")"
                + "\nstdout:\n\(output.prefix(4000))\nstderr:\n\(error.prefix(4000))"
        }
    }

    /// A child that could not be started or written to.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(_ description: String) { self.description = description }
    }

    /// The proxy variables, for `unsetting:`: a child that talks to 127.0.0.1 must not be sent through a proxy.
    public static let proxyVariables = ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"]

    /// The child's process id (also its process group id).
    public let pid: Int32
    /// The program's path (as found on PATH) followed by its arguments.
    public let arguments: [String]

    private enum Life {
        case running
        /// Reaped, or gone without a status to reap (nil).
        case ended(Termination?)
    }

    private let life = Mutex(Life.running)
    /// The write end of the child's stdin, until closed; held while writing.
    private let input: Mutex<Int32?>
    private let streams: OutputStreams

    /// Starts `program` with `arguments`.
    ///
    /// - Parameters:
    ///   - program: a path, or a name looked up on the child's PATH (then /usr/local/bin, /usr/bin, /bin).
    ///   - environment: variables set for the child on top of this process's environment.
    ///   - unsetting: variables of this process's environment the child does not get (`environment` still
    ///     sets them when it names them).
    ///   - directory: the child's working directory; this process's when nil.
    public init(
        _ program: String, _ arguments: [String] = [],
        environment: [String: String] = [:], unsetting: [String] = [], directory: String? = nil
    ) throws {
        var variables = ProcessInfo.processInfo.environment
        for name in unsetting { variables[name] = nil }
        variables.merge(environment) { $1 }
        let executable = try Self.locate(program, path: variables["PATH"])
        self.arguments = [executable] + arguments

        // Every descriptor is close-on-exec, for programs spawned some other way (children spawned here
        // close all but 0, 1 and 2 anyway); the child's ends become its 0, 1 and 2 through dup2, which
        // clears the flag.
        var pipes: [Int32] = []
        defer { for fd in pipes { close(fd) } }
        for _ in 0..<4 {
            var pair: [Int32] = [-1, -1]
            guard pipe(&pair) == 0 else { throw Failure("cannot make a pipe for \(program): errno \(errno)") }
            pipes += pair
            for fd in pair { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        let (stdinRead, stdinWrite, stdoutRead, stdoutWrite) = (pipes[0], pipes[1], pipes[2], pipes[3])
        let (stderrRead, stderrWrite, stopRead, stopWrite) = (pipes[4], pipes[5], pipes[6], pipes[7])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinRead, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutWrite, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrWrite, 2)
        // Nothing else of this process (server sockets above all) may live on in the child.
        Self.closeOthers(&actions)
        if let directory {
            guard let changeDirectory = Self.addChangeDirectory, changeDirectory(&actions, directory) == 0 else {
                throw Failure("cannot run \(program) in \(directory): posix_spawn_file_actions_addchdir_np is missing")
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // SIGPIPE at its default even if this process ignores it: curl and friends expect that.
        var brokenPipe = sigset_t()
        sigemptyset(&brokenPipe)
        sigaddset(&brokenPipe, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &brokenPipe)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = self.arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw Failure("cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        input = Mutex(stdinWrite)
        streams = OutputStreams(output: stdoutRead, error: stderrRead, stop: stopRead, stopper: stopWrite)
        // Ours now: the input's write end and the reading thread's descriptors.
        pipes.removeAll { [stdinWrite, stdoutRead, stderrRead, stopRead, stopWrite].contains($0) }
    }

    deinit {
        if isRunning {
            signalGroup(SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        closeInput()
        streams.stop()
    }

    /// Runs `program` to completion with its stdin closed from the start (see ``init(_:_:environment:unsetting:directory:)``
    /// and ``finish(seconds:)``).
    public static func run(
        _ program: String, _ arguments: [String] = [],
        environment: [String: String] = [:], unsetting: [String] = [], directory: String? = nil, seconds: Double = 60
    ) async throws -> Result {
        let child = try ChildProcess(program, arguments, environment: environment, unsetting: unsetting, directory: directory)
        child.closeInput()
        return await child.finish(seconds: seconds)
    }

    /// Its stdout so far.
    public var output: String { streams.output }
    /// Its stderr so far.
    public var error: String { streams.error }

    /// Whether the child still runs (reaps it once it has ended).
    public var isRunning: Bool {
        life.withLock { life in
            guard case .running = life else { return false }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                // Not traced or stopped (no WUNTRACED): it either exited or a signal killed it.
                life = .ended(status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f))
                return false
            }
            if result < 0 && errno != EINTR {
                life = .ended(nil)  // not our child any more: ended, how is unknown
                return false
            }
            return true
        }
    }

    /// How it ended; nil while it runs (or when it could not be reaped).
    public var termination: Termination? {
        guard !isRunning else { return nil }
        return life.withLock { life in
            if case .ended(let termination) = life { termination } else { nil }
        }
    }

    /// Writes `text` to the child's stdin; blocks while the pipe is full.
    public func write(_ text: String) throws {
        try input.withLock { fd in
            guard let fd else { throw Failure("the stdin of \(arguments[0]) is closed") }
            try Self.writeAll(Array(text.utf8), to: fd)
        }
    }

    /// Closes the child's stdin (many of the test clients take that as "go on" or "stop").
    public func closeInput() {
        input.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    /// Sends `signal` to the child; SIGKILL (9) by default.
    public func kill(_ signal: Int32 = 9) {
        _ = Glibc.kill(pid, signal)
    }

    /// Waits until `condition` holds, checking every 20 ms; false when the child ended and all its output
    /// was read without it holding, or when `seconds` ran out.
    public func waitUntil(seconds: Double = 30, _ condition: (ChildProcess) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            if !isRunning && streams.isComplete { return condition(self) }
            await Self.pause(.milliseconds(20))
        }
        return condition(self)
    }

    /// Waits for the child to end and its output to be read, then closes its stdin. After `seconds` (or when
    /// the task is cancelled) the child and its process group are killed with SIGKILL.
    public func finish(seconds: Double = 60) async -> Result {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var timedOut = false
        while isRunning || !streams.isComplete {
            if ContinuousClock.now >= deadline || Task.isCancelled {
                timedOut = signalGroup(SIGKILL)
                break
            }
            await Self.pause(.milliseconds(15))
        }
        closeInput()
        // After SIGKILL the child still has to be reaped and its pipes read to the end.
        let grace = ContinuousClock.now + .seconds(10)
        while (isRunning || !streams.isComplete) && ContinuousClock.now < grace { await Self.pause(.milliseconds(10)) }
        return Result(termination: termination, output: output, error: error, timedOut: timedOut)
    }

    /// Sends `signal` to the child's process group (and the child, should it have left the group); false
    /// when the child has already been reaped. The group id cannot have been reused while the child is unreaped.
    @discardableResult
    private func signalGroup(_ signal: Int32) -> Bool {
        life.withLock { life in
            guard case .running = life else { return false }
            _ = Glibc.kill(-pid, signal)
            _ = Glibc.kill(pid, signal)
            return true
        }
    }

    /// Sleeps; a cancelled task sleeps too (briefly blocking its thread) rather than spinning.
    private static func pause(_ duration: Duration) async {
        do {
            try await Task.sleep(for: duration)
        } catch {
            usleep(UInt32(duration.components.attoseconds / 1_000_000_000_000))
        }
    }

    /// Writes every byte, with SIGPIPE held back on this thread: a child that is gone yields EPIPE, not a
    /// signal that would end the test process.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) throws {
        var brokenPipe = sigset_t()
        sigemptyset(&brokenPipe)
        sigaddset(&brokenPipe, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &brokenPipe, &previous)
        defer {
            // Take back a SIGPIPE raised here before unblocking it (unless it was blocked already).
            if sigismember(&previous, SIGPIPE) == 0 {
                var pending = sigset_t()
                sigpending(&pending)
                if sigismember(&pending, SIGPIPE) == 1 {
                    var now = timespec(tv_sec: 0, tv_nsec: 0)
                    _ = sigtimedwait(&brokenPipe, nil, &now)
                }
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure("cannot write to the child's stdin: \(String(cString: strerror(errno)))")
            }
            written += count
        }
    }

    /// `program` itself when it holds a slash, else the first executable file of that name on `path`,
    /// then in /usr/local/bin, /usr/bin and /bin.
    private static func locate(_ program: String, path: String?) throws -> String {
        if program.contains("/") { return program }
        let directories: [Substring] = (path ?? "").split(separator: ":") + ["/usr/local/bin", "/usr/bin", "/bin"]
        for directory in directories where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        throw Failure("\(program) is not on PATH (\(path ?? "unset")) nor in /usr/local/bin, /usr/bin, /bin")
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private typealias AddChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` and `_addchdir_np` (2.34, 2.29), which the Glibc
    /// module does not import.
    private static let addCloseFrom = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }
    private static let addChangeDirectory = dlsym(nil, "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: AddChangeDirectory.self) }

    /// Adds "close every descriptor from 3 on" to `actions`: with `addclosefrom_np` when there, else one
    /// close per descriptor open now.
    private static func closeOthers(_ actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom, addCloseFrom(&actions, 3) == 0 { return }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
    }
}

/// A child's stdout and stderr, read to the end by a thread of their own and kept in memory.
private final class OutputStreams: Sendable {
    private struct Buffers {
        var output: [UInt8] = []
        var error: [UInt8] = []
        var complete = false
    }

    private let buffers = Mutex(Buffers())
    /// Closed to make the reading thread stop before the end of the streams.
    private let stopper: Int32

    init(output: Int32, error: Int32, stop: Int32, stopper: Int32) {
        self.stopper = stopper
        Thread { [self] in read(output: output, error: error, stop: stop) }.start()
    }

    var output: String { String(decoding: buffers.withLock { $0.output }, as: UTF8.self) }
    var error: String { String(decoding: buffers.withLock { $0.error }, as: UTF8.self) }
    /// Whether both streams were read to their end (or reading was stopped).
    var isComplete: Bool { buffers.withLock { $0.complete } }

    /// Makes the reading thread stop and close its descriptors, should something (a grandchild) still hold
    /// the other ends. Call once.
    func stop() { close(stopper) }

    private func read(output: Int32, error: Int32, stop: Int32) {
        var watched = [output, error, stop].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while watched[0].fd >= 0 || watched[1].fd >= 0 {
            if poll(&watched, nfds_t(watched.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if watched[2].revents != 0 { break }
            for index in 0..<2 where watched[index].revents != 0 {
                let count = Glibc.read(watched[index].fd, &chunk, chunk.count)
                if count > 0 {
                    buffers.withLock { buffers in
                        if index == 0 { buffers.output += chunk[..<count] } else { buffers.error += chunk[..<count] }
                    }
                } else if count == 0 || errno != EINTR {
                    close(watched[index].fd)
                    watched[index].fd = -1
                }
            }
        }
        for entry in watched where entry.fd >= 0 { close(entry.fd) }
        buffers.withLock { $0.complete = true }
    }
}
