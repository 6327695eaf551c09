import Glibc
import LogOutput
import Logging
import Testing

@Suite("Batched log output")
struct BatchedLogHandlerTests {
    /// A pipe whose read end does not block, and a writer on its write end.
    final class Pipe {
        let read: Int32
        let write: Int32

        init() throws {
            var ends: [Int32] = [0, 0]
            try #require(pipe(&ends) == 0)
            read = ends[0]
            write = ends[1]
            _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
            // Room for a whole batch and more: the writer blocks on a full pipe, and these tests read only after it wrote.
            _ = fcntl(write, 1031 /* F_SETPIPE_SZ */, 1 << 20)
        }

        deinit {
            close(read)
            close(write)
        }

        /// What has been written so far.
        func drain() -> String {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(read, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                bytes.append(contentsOf: chunk[..<count])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    func logger(_ writer: BatchedLogWriter, level: Logger.Level = .info) -> Logger {
        var handler = BatchedLogHandler(label: "hermes.test", writer: writer)
        handler.logLevel = level
        handler[metadataKey: "handler"] = "h"
        return Logger(label: "hermes.test", factory: { _ in handler })
    }

    @Test func linesHaveStreamLogHandlersShapeWithSortedMetadata() throws {
        let pipe = try Pipe()
        let writer = BatchedLogWriter(descriptor: pipe.write, flushInterval: .seconds(3600))
        logger(writer).notice("started", metadata: ["zeta": "1", "alpha": "two words"], source: "Hermes")
        let line = pipe.drain()
        #expect(line.hasSuffix(" notice hermes.test: alpha=two words handler=h zeta=1 [Hermes] started\n"))
        let stamp = line.prefix(24)
        #expect(stamp.count == 24 && stamp.hasSuffix("+0000") && stamp.dropFirst(10).first == "T")
    }

    @Test func quietLinesWaitForABatchAndLoudOnesTakeThemAlongInOrder() throws {
        let pipe = try Pipe()
        let writer = BatchedLogWriter(descriptor: pipe.write, flushInterval: .seconds(3600))
        let log = logger(writer)
        log.info("first")
        log.debug("not at this level")
        log.info("second")
        #expect(pipe.drain().isEmpty)
        log.warning("third")
        let lines = pipe.drain().split(separator: "\n").map { $0.split(separator: "] ").last.map(String.init) ?? "" }
        #expect(lines == ["first", "second", "third"])
        log.info("fourth")
        writer.flush()
        #expect(pipe.drain().hasSuffix("] fourth\n"))
    }

    @Test func aFullBatchGoesOutWithoutWaiting() throws {
        let pipe = try Pipe()
        let writer = BatchedLogWriter(descriptor: pipe.write, flushInterval: .seconds(3600))
        let log = logger(writer)
        let filler = String(repeating: "x", count: 1000)
        var written = ""
        var logged = 0
        while written.isEmpty, logged < 100 {
            log.info("\(logged) \(filler)")
            logged += 1
            written = pipe.drain()
        }
        #expect(written.utf8.count >= BatchedLogWriter.batchBytes)
        #expect(logged < 100)
        let lines = written.split(separator: "\n")
        #expect(lines.count == logged)
        #expect(lines.first?.contains("] 0 xxx") == true && lines.last?.contains("] \(logged - 1) xxx") == true)
    }

    @Test func theFlushThreadWritesWithinItsInterval() async throws {
        let pipe = try Pipe()
        let writer = BatchedLogWriter(descriptor: pipe.write, flushInterval: .milliseconds(50))
        logger(writer).info("eventually", metadata: ["request.id": "abc-1"])
        var seen = ""
        let started = ContinuousClock.now
        while seen.isEmpty, ContinuousClock.now - started < .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
            seen = pipe.drain()
        }
        #expect(seen.contains("request.id=abc-1"))
        #expect(seen.hasSuffix("] eventually\n"))
    }

    @Test func errorsAddTheirMessageAndType() throws {
        struct Broken: Error, CustomStringConvertible {
            var description: String { "it broke" }
        }
        let pipe = try Pipe()
        let writer = BatchedLogWriter(descriptor: pipe.write, flushInterval: .seconds(3600))
        logger(writer).error("failed", error: Broken())
        let line = pipe.drain()
        #expect(line.contains("error.message=it broke"))
        #expect(line.contains("error.type=LogOutputTests.BatchedLogHandlerTests"))
    }
}
