#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SystemThreads

/// Writes log lines to a file descriptor in batches: lines at `notice` and above go out at once (with
/// everything before them, in order), lines below wait at most ``flushInterval`` or until ``batchBytes``
/// have gathered.
///
/// Unlike `StreamLogHandler` (one `write(2)` per line), a busy server pays one write per batch; a quiet one still
/// shows every line within ``flushInterval`` (docs/adr/0013-batched-log-output.md).
///
/// Call ``flush()`` before the process ends normally; ``standardError`` does so itself at `exit`.
package final class BatchedLogWriter: Sendable {
    /// Bytes gathered before a batch goes out without waiting for the interval.
    package static let batchBytes = 64 * 1024

    package let flushInterval: Duration
    private let descriptor: Int32
    /// Lines not written yet. The lock is held across the write, so batches reach the file in order.
    private let pending = Mutex<[UInt8]>([])

    /// Standard error, flushed every 100 ms and at `exit`.
    package static let standardError: BatchedLogWriter = {
        let writer = BatchedLogWriter(descriptor: 2)
        atexit { BatchedLogWriter.standardError.flush() }
        return writer
    }()

    /// A writer for `descriptor` (left open: the caller owns it) with a thread that flushes every `flushInterval`.
    package init(descriptor: Int32, flushInterval: Duration = .milliseconds(100)) {
        self.descriptor = descriptor
        self.flushInterval = flushInterval
        Self.startFlushThread(for: self, every: flushInterval)
    }

    /// Queues a line (its text including the final newline); writes the batch when `urgent` or full.
    package func append(_ line: some Collection<UInt8>, urgent: Bool) {
        pending.withLock { buffer in
            buffer.append(contentsOf: line)
            if urgent || buffer.count >= Self.batchBytes { write(&buffer) }
        }
    }

    /// Writes whatever is queued.
    package func flush() {
        pending.withLock { buffer in
            if !buffer.isEmpty { write(&buffer) }
        }
    }

    private func write(_ buffer: inout [UInt8]) {
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                #else
                let written = Darwin.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                #endif
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    break  // nowhere to log that logging failed; drop the batch rather than spin
                }
            }
        }
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4 * Self.batchBytes)
    }

    /// A detached thread per writer; writers live as long as the process (they are set up once, at start).
    /// Without the thread (the system refused one), lines still go out when urgent, when a batch fills and
    /// on ``flush()``.
    private static func startFlushThread(for writer: BatchedLogWriter, every interval: Duration) {
        let (seconds, attoseconds) = interval.components
        try? SystemThread.startDetached(name: "hermes-logflush") {
            var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            while true {
                var rest = timespec()
                nanosleep(&pause, &rest)
                writer.flush()
            }
        }
    }
}
