#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Operating-system threads, for work that must not run on Swift's cooperative pool or an event loop:
/// blocking C calls (LMDB write transactions, libcurl transfers), a timer loop, benchmark load.
///
/// The closure reaches the new thread through `Unmanaged`: retained here, released by the thread once it
/// has taken the closure (or here, when the thread could not be started). The thread is named before the
/// closure runs, so it shows under that name in `top -H`, `gdb` and crash reports. Threads get the
/// system's default stack size.
package enum SystemThread {
    /// The longest name Linux keeps for a thread, in UTF-8 bytes (16 with the terminating NUL).
    package static let maximumNameByteCount = 15

    /// Starts a detached thread named `name` that runs `body`; its resources go back to the system when
    /// `body` returns.
    ///
    /// A name longer than ``maximumNameByteCount`` bytes is cut to that length (at a character boundary).
    ///
    /// - Throws: ``SystemThreadError`` when the system refuses a new thread (`pthread_create` failed, for
    ///   example with `EAGAIN` when the process is out of threads).
    package static func startDetached(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemThreadError) {
        let thread = try create(name: name, body)
        pthread_detach(thread)
    }

    /// Starts a thread named `name` that runs `body`, for a caller that waits for it with
    /// ``JoinableThread/join()``.
    ///
    /// - Throws: ``SystemThreadError`` when the system refuses a new thread.
    package static func startJoinable(
        name: String, _ body: @escaping @Sendable () -> Void
    ) throws(SystemThreadError) -> JoinableThread {
        JoinableThread(thread: try create(name: name, body))
    }

    private static func create(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemThreadError) -> pthread_t {
        let context = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t? = nil
        #else
        var thread = pthread_t()
        #endif
        let status = pthread_create(&thread, nil, threadMain, context)
        guard status == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(context).release()
            throw SystemThreadError(name: name, code: status)
        }
        #if canImport(Darwin)
        return thread!
        #else
        return thread
        #endif
    }

    /// `name` cut to at most ``maximumNameByteCount`` UTF-8 bytes without splitting a character.
    static func truncatedName(_ name: String) -> String {
        var byteCount = 0
        var end = name.unicodeScalars.startIndex
        for scalar in name.unicodeScalars {
            let scalarByteCount = UTF8.width(scalar)
            guard byteCount + scalarByteCount <= maximumNameByteCount else { break }
            byteCount += scalarByteCount
            end = name.unicodeScalars.index(after: end)
        }
        return String(name.unicodeScalars[..<end])
    }
}

/// A started thread that has not been joined yet.
///
/// Noncopyable, so it is joined at most once: ``join()`` consumes it. Dropping it without joining detaches
/// the thread, so its resources are still returned when it ends.
package struct JoinableThread: ~Copyable {
    private let thread: pthread_t

    fileprivate init(thread: pthread_t) {
        self.thread = thread
    }

    /// Waits until the thread's closure has returned.
    package consuming func join() {
        let thread = self.thread
        discard self
        pthread_join(thread, nil)
    }

    deinit {
        pthread_detach(thread)
    }
}

/// The system refused to start a thread.
package struct SystemThreadError: Error, CustomStringConvertible {
    /// The name of the thread that was to be started.
    package let name: String
    /// The error number `pthread_create` returned, such as `EAGAIN` (out of threads or memory).
    package let code: Int32

    package var description: String {
        "cannot start the thread \(name): pthread_create failed with error \(code) (\(String(cString: strerror(code))))"
    }
}

/// What the new thread needs, handed over as the `pthread_create` argument.
private final class ThreadStart: Sendable {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    func run() {
        setCurrentThreadName(SystemThread.truncatedName(name))
        body()
    }
}

/// Names the calling thread.
private func setCurrentThreadName(_ name: String) {
    #if canImport(Darwin)
    _ = pthread_setname_np(name)
    #else
    // Glibc's module leaves out pthread_setname_np (a GNU extension) and prctl is variadic; the kernel's
    // own file for the thread's name is what both end up setting.
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }  // no /proc: the thread keeps its inherited name
    var name = name
    name.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
    close(descriptor)
    #endif
}

// The start routine's argument is optional in Glibc's declaration and not in Darwin's.
#if canImport(Darwin)
private func threadMain(_ context: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
    Unmanaged<ThreadStart>.fromOpaque(context).takeRetainedValue().run()
    return nil
}
#else
private func threadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue().run()
    return nil
}
#endif
