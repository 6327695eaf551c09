import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("Streamed responses")
struct StreamingTests {
    static let chunkCount = 5
    static let chunkSize = 100
    static let chunkDelay = 300
    static var streamPath: String { "/stream?n=\(chunkCount)&size=\(chunkSize)&delay=\(chunkDelay)" }
    static var expectedBody: String {
        (0..<chunkCount).map { String(decoding: TestServer.chunk($0, size: chunkSize), as: UTF8.self) }.joined()
    }

    /// Chunks must arrive as they are written, not all at the end: the first well before the last.
    static func expectIncremental(_ chunks: [JSONObject], _ context: JSONObject, sourceLocation: SourceLocation = #_sourceLocation) {
        let times = chunks.compactMap { $0[double: "t"] }
        #expect(times.count >= chunkCount, "expected at least \(chunkCount) separate chunks: \(context)", sourceLocation: sourceLocation)
        guard let first = times.first, let last = times.last else { return }
        // Written 300 ms apart: 1.2 s between the first and the last.
        #expect(last - first >= 0.8, "all chunks arrived within \(last - first) s: \(context)", sourceLocation: sourceLocation)
        #expect(times == times.sorted(), sourceLocation: sourceLocation)
    }

    @Test func http2ResponseIsReadChunkByChunk() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["stream", "--port", "\(server.port)", "--path", Self.streamPath, "--seconds", "20"])
            let response = try #require(json[object: "response"], "\(json)")
            #expect(response[int: "status"] == 200, "\(json)")
            #expect(response[bool: "ended"] == true && response[int: "reset"] == nil, "\(json)")
            #expect(response[string: "body"] == Self.expectedBody)
            Self.expectIncremental(json[list: "chunks"], json)

            let (httpx, _) = try await ChildProcess.runPython("httpx_client.py", ["stream", server.url(Self.streamPath), "--http2"])
            #expect(httpx[string: "http_version"] == "HTTP/2", "\(httpx)")
            #expect(httpx[string: "body"] == Self.expectedBody)
            Self.expectIncremental(httpx[list: "chunks"], httpx)
        }
    }

    @Test func http1ResponseIsReadChunkByChunk() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("httpx_client.py", ["stream", server.url(Self.streamPath), "--http1"])
            #expect(json[int: "status"] == 200, "\(json)")
            #expect(json[string: "http_version"] == "HTTP/1.1", "\(json)")
            #expect(json[string: "body"] == Self.expectedBody)
            Self.expectIncremental(json[list: "chunks"], json)

            // curl sees a well-formed chunked body (it fails on a truncated one).
            let curl = try await Curl.request(server.url(Self.streamPath), ["--http1.1", "-N"])
            #expect(curl.status == 200 && curl.body == Self.expectedBody, "\(curl.result)")
        }
    }

    /// Samples the bytes a producer handed to `write` until they stop growing; returns the settled count.
    static func settledBytes(_ probe: Probe, _ id: String) async -> (bytes: Int, settled: Bool) {
        var last = -1
        var stableSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let now = probe.producer(id)?.handed ?? 0
            if now != last {
                last = now
                stableSince = .now
            } else if ContinuousClock.now - stableSince >= .seconds(1) {
                return (now, true)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return (last, false)
    }

    /// A client that stops reading blocks the producer (bounded memory); when it then goes away, `write` throws.
    func stalledReaderBlocksTheProducer(_ script: String, id: String, bound: Int, options: [String] = []) async throws {
        try await withServer { server in
            // At most 256 MiB: if nothing holds the producer back it finishes instead of eating memory.
            let path = "/firehose?id=\(id)&total=\(256 << 20)"
            let client = try ChildProcess.python(Paths.script(script), ["stall", "--port", "\(server.port)", "--path", path, "--seconds", "20"] + options)
            guard await client.waitUntil({ $0.output.contains("paused") }) else {
                Issue.record("the client never started reading: \(await client.finish(seconds: 1))")
                return
            }
            let (bytes, settled) = await Self.settledBytes(server.probe, id)
            #expect(settled, "the producer kept writing while the client read nothing (\(bytes) bytes)")
            #expect(bytes >= 64 * 1024, "the producer wrote only \(bytes) bytes")
            #expect(bytes < bound, "the producer handed \(bytes) bytes to write for a client that stopped reading")
            #expect(server.probe.producer(id)?.outcome == nil, "the producer ended: \(String(describing: server.probe.producer(id)))")

            client.closeInput()  // the client now closes its socket
            let result = await client.finish(seconds: 20)
            #expect(result.status == 0, "\(result)")
            let ended = await server.probe.wait(seconds: 20) { $0.producer(id)?.outcome != nil }
            #expect(ended, "the producer's write never threw after the client left")
            #expect(server.probe.producer(id)?.outcome == "closed", "\(String(describing: server.probe.producer(id)))")
            try await expectStillServing(server)
        }
    }

    @Test func http2StalledReaderBlocksTheProducer() async throws {
        // No WINDOW_UPDATE from the client: 64 KiB of window plus the 64 KiB high watermark.
        try await stalledReaderBlocksTheProducer("h2_probe.py", id: "h2stall", bound: 1 << 20)
    }

    @Test func http2StalledReaderWithAHugeWindowBlocksTheProducer() async throws {
        // Flow control allows 2 GiB, so only the socket can push back: socket buffers plus watermarks.
        try await stalledReaderBlocksTheProducer("h2_probe.py", id: "h2bigwindow", bound: 16 << 20, options: ["--big-window"])
    }

    @Test func http1StalledReaderBlocksTheProducer() async throws {
        // Socket buffers (the kernel may grow the send buffer to 4 MiB) plus NIO's 64 KiB watermark.
        try await stalledReaderBlocksTheProducer("h1_probe.py", id: "h1stall", bound: 16 << 20)
    }

    @Test(arguments: [("h1_probe.py", [String]()), ("h2_probe.py", []), ("h2_probe.py", ["--big-window"])])
    func stalledReaderIsCutOffAfterTheIdleTimeout(script: String, options: [String]) async throws {
        try await withServer(limits: { $0.idleTimeout = .seconds(1) }) { server in
            let id = "cutoff-\(script.prefix(2))\(options.count)"
            let client = try ChildProcess.python(Paths.script(script), ["stall", "--port", "\(server.port)", "--path", "/firehose?id=\(id)&total=\(256 << 20)", "--seconds", "30"] + options)
            defer { client.closeInput() }
            guard await client.waitUntil({ $0.output.contains("paused") }) else {
                Issue.record("the client never started reading: \(await client.finish(seconds: 1))")
                return
            }
            // The client holds its socket open but reads nothing: after the idle timeout without progress the
            // server gives up on the response, and the producer's write throws.
            let ended = await server.probe.wait(seconds: 20) { $0.producer(id)?.outcome != nil }
            #expect(ended, "the producer is still blocked on a client that stopped reading")
            #expect(server.probe.producer(id)?.outcome == "closed", "\(String(describing: server.probe.producer(id)))")
            #expect(server.logs.all.contains { $0.message.contains("stopped reading") }, "\(server.logs.all)")
            if script.hasPrefix("h1") || options.contains("--big-window") {
                // The socket itself is stuck: only closing the connection frees it.
                let closed = await server.waitForConnections(atMost: 0)
                #expect(closed, "the stalled connection is still open")
            }
            client.closeInput()
            _ = await client.finish(seconds: 20)
            try await expectStillServing(server)
        }
    }

    @Test(arguments: ["h1_probe.py", "h2_probe.py"])
    func slowReaderOfALargeResponseOutlastsTheIdleTimeout(script: String) async throws {
        // The idle timeout also bounds how long a reader may pause: generous, so a starved client on a loaded
        // machine does not count as stalled.
        try await withServer(limits: { $0.idleTimeout = .seconds(4) }) { server in
            // 16 MiB at 2.5 MiB/s: 6.4 s, past the idle timeout and more than the socket buffers hold.
            let size = 16 << 20
            let (json, _) = try await ChildProcess.runPython(script, ["slow-read", "--port", "\(server.port)", "--path", "/slow?ms=0&bytes=\(size)", "--rate", "\(5 << 19)", "--seconds", "50"], seconds: 60)
            #expect(json[int: "status"] == 200, "\(json)")
            #expect(json[int: "received"] == size, "the response was cut short: \(json)\n\(server.logs.all.map(\.description).joined(separator: "\n"))")
            #expect((json[double: "elapsed"] ?? 0) > 4.5, "the download was not slow enough to outlast the idle timeout: \(json)")
        }
    }

    @Test(arguments: ["h1_probe.py", "h2_probe.py"])
    func clientVanishingMidStreamMakesWriteThrow(script: String) async throws {
        try await withServer { server in
            let id = "vanish-\(script.prefix(2))"
            let (json, _) = try await ChildProcess.runPython(script, ["vanish", "--port", "\(server.port)", "--path", "/firehose?id=\(id)", "--bytes", "\(1 << 20)", "--seconds", "20"])
            #expect(json[int: "status"] == 200, "\(json)")
            #expect((json[int: "received"] ?? 0) >= 1 << 20, "\(json)")
            let ended = await server.probe.wait(seconds: 20) { $0.producer(id)?.outcome != nil }
            #expect(ended, "the producer's write never threw after the client vanished")
            #expect(server.probe.producer(id)?.outcome == "closed", "\(String(describing: server.probe.producer(id)))")
            let closed = await server.waitForConnections(atMost: 0)
            #expect(closed, "the vanished client's connection is still open")
            try await expectStillServing(server)
        }
    }
}
