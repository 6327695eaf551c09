#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing

@testable import SystemThreads

@Suite("System threads")
struct SystemThreadTests {
    @Test("a detached thread runs the closure under its name")
    func detached() async {
        let name = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            do {
                try SystemThread.startDetached(name: "hermes-test") { continuation.resume(returning: currentThreadName()) }
            } catch {
                Issue.record("\(error)")
                continuation.resume(returning: nil)
            }
        }
        #expect(name == "hermes-test")
    }

    @Test("join returns after the closure has run")
    func joinable() throws {
        let finished = Flag()
        let thread = try SystemThread.startJoinable(name: "hermes-join") {
            usleep(20_000)  // a closure still running when join is called
            finished.set()
        }
        thread.join()
        #expect(finished.isSet)
    }

    @Test("a joinable thread dropped without joining still runs, detached")
    func droppedHandle() async throws {
        let ran = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            do {
                _ = try SystemThread.startJoinable(name: "hermes-drop") { continuation.resume(returning: true) }
            } catch {
                Issue.record("\(error)")
                continuation.resume(returning: false)
            }
        }
        #expect(ran)
    }

    @Test("a long name is cut to what Linux keeps, at a character boundary")
    func longName() async {
        #expect(SystemThread.truncatedName("hermes-0123456789abcdef") == "hermes-01234567")
        #expect(SystemThread.truncatedName("ééééééééé") == "ééééééé")  // 2 bytes each: 7 fit in 15
        #expect(SystemThread.truncatedName("short") == "short")
        let name = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            do {
                try SystemThread.startDetached(name: "hermes-0123456789abcdef") {
                    continuation.resume(returning: currentThreadName())
                }
            } catch {
                continuation.resume(returning: nil)
            }
        }
        #expect(name == "hermes-01234567")
    }
}

/// The calling thread's name as the system reports it.
private func currentThreadName() -> String {
    var buffer = [UInt8](repeating: 0, count: 64)
    #if canImport(Darwin)
    buffer.withUnsafeMutableBytes { _ = pthread_getname_np(pthread_self(), $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
    return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    #else
    let descriptor = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return "" }
    defer { close(descriptor) }
    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    return String(decoding: buffer.prefix(max(count, 0)).prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    #endif
}

private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
