import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("Streamed request bodies")
struct StreamedUploadTests {
    /// `size` bytes of the pattern 0, 1, …, 250, 0, 1, … (the h2 probe sends the same), in a temporary file,
    /// and the answer the upload route gives for them. Made on a thread of its own (see ``onOwnThread(_:)``).
    static func payload(_ size: Int, _ name: String = #function) async throws -> (file: UploadLimitTests.Payload, expected: String) {
        let directory = Paths.temporaryDirectory(name)
        let path = directory.appendingPathComponent("payload.bin").path
        let file = UploadLimitTests.Payload(directory: directory, path: path)
        let expected = try await onOwnThread {
            var bytes = [UInt8](repeating: 0, count: size)
            bytes.withUnsafeMutableBufferPointer { buffer in
                for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index % 251) }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            var hash = FNV1a()
            hash.add(bytes)
            return "count \(size) fnv \(hash.hex)"
        }
        return (file, expected)
    }

    static let window = 1 << 20

    @Test func largeUploadsArriveWholeOverBothProtocols() async throws {
        try await withServer { server in
            let size = 12 << 20
            let (file, expected) = try await Self.payload(size)
            let variants: [(String, [String])] = [
                ("h1", ["--http1.1"]),
                ("h1-chunked", ["--http1.1", "-H", "Transfer-Encoding: chunked"]),
                ("h2", ["--http2-prior-knowledge"]),
            ]
            for (id, options) in variants {
                let response = try await Curl.request(server.url("/stream-upload?id=\(id)"), options + ["--data-binary", "@\(file)"])
                #expect(response.status == 200 && response.body == expected, "\(id): \(response.result)")
                #expect(server.probe.upload(id)?.outcome == "finished", "\(id): \(String(describing: server.probe.upload(id)))")
            }
            // HTTP/2 without content-length: DATA frames until END_STREAM.
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["upload-flow", "--port", "\(server.port)", "--path", "/stream-upload?id=h2-open", "--bytes", "\(size)", "--seconds", "40"])
            #expect(json[object: "response"]?[int: "status"] == 200, "\(json)")
            #expect(json[object: "response"]?[string: "body"] == expected, "\(json)")

            let logged = await server.probe.wait { _ in server.logs.accessLines.filter { $0.metadata["http.path"] == "/stream-upload" }.count >= 4 }
            #expect(logged, "\(server.logs.accessLines)")
            for line in server.logs.accessLines where line.metadata["http.path"] == "/stream-upload" {
                #expect(line.metadata["http.request_bytes"] == "\(size)" && line.metadata["http.status"] == "200", "\(line)")
            }
        }
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func slowHandlerKeepsTheServerBufferBounded(option: String) async throws {
        try await withServer { server in
            // The handler sleeps a millisecond after every chunk: far slower than curl on loopback.
            // 16 MB: sixteen stream windows, far more than the bound below, without starving other tests of CPU.
            let size = 16 << 20
            let (file, expected) = try await Self.payload(size)
            let id = "slow\(option)"
            let response = try await Curl.request(server.url("/stream-upload?id=\(id)&delay=1"), [option, "-H", "Expect:", "--data-binary", "@\(file)"], seconds: 120)
            #expect(response.status == 200 && response.body == expected, "\(response.result)")
            let upload = try #require(server.probe.upload(id))
            #expect(upload.outcome == "finished" && upload.consumed == size, "\(upload)")
            // HTTP/1.1: the high watermark (64 KiB) plus one socket read; HTTP/2: the stream window.
            let bound = option == "--http1.1" ? 256 * 1024 : Self.window
            #expect(upload.peakBuffered > 0 && upload.peakBuffered <= bound, "the server held \(upload.peakBuffered) bytes of a body its handler read slowly")
        }
    }

    @Test func http2WindowOpensOnlyAsTheHandlerReads() async throws {
        try await withServer { server in
            // 16 MB: sixteen stream windows, far more than the bound below, without starving other tests of CPU.
            let size = 16 << 20
            let (_, expected) = try await Self.payload(size)
            let id = "gated"
            // The handler waits at the gate before reading anything, then reads slowly.
            let client = try ChildProcess.python(Paths.script("h2_probe.py"), ["upload-flow", "--port", "\(server.port)", "--path", "/stream-upload?id=\(id)&gate=1&delay=1", "--bytes", "\(size)", "--side-requests", "--seconds", "90"])
            guard await client.waitUntil({ $0.output.contains("blocked") }) else {
                Issue.record("the client was never held up by flow control: \(await client.finish(seconds: 1))")
                server.probe.openGate()
                return
            }
            // Nothing read yet: the client got exactly one stream window ahead, and the server holds no more.
            let held = try #require(server.probe.upload(id))
            #expect(held.consumed == 0, "\(held)")
            #expect(held.outcome == nil, "\(held)")
            server.probe.openGate()

            let result = await client.finish(seconds: 120)
            let json = try result.json()
            let blocked = try #require(json[object: "blocked"], "\(json)")
            #expect(blocked[int: "sent"] == Self.window, "the client sent \(blocked[int: "sent"] ?? -1) bytes before the handler read any: \(json)")
            #expect(blocked[int: "stream_increments"] == 0, "the server reopened the stream's window before the handler read: \(json)")
            #expect((blocked[int: "connection_increments"] ?? 0) >= Self.window / 2, "the connection window was not returned: \(json)")
            // Other streams of the connection were served while this one waited for its handler.
            let side = try #require(json[object: "side"], "\(json)")
            #expect(side[object: "get"]?[int: "status"] == 200 && side[object: "get"]?[string: "body"] == "fast", "\(json)")
            #expect(side[object: "post"]?[int: "status"] == 200 && side[object: "post"]?[string: "body"] == "received \(200 * 1024)", "\(json)")

            #expect(json[object: "response"]?[int: "status"] == 200 && json[object: "response"]?[string: "body"] == expected, "\(json)")
            #expect(json[int: "sent"] == size, "\(json)")
            // The window reopened only by what the handler read.
            #expect((json[int: "stream_increments"] ?? .max) <= size, "\(json)")
            let upload = try #require(server.probe.upload(id))
            #expect(upload.consumed == size && upload.outcome == "finished", "\(upload)")
            #expect(upload.peakBuffered <= Self.window, "the server held \(upload.peakBuffered) bytes for one stream")
        }
    }

    @Test func overLimitBodiesGet413() async throws {
        try await withServer { server in
            let limit = TestServer.smallStreamedUploadLimit
            let tooLarge = "exceeds the limit of \(limit) bytes"
            let (file, _) = try await Self.payload(2 << 20)
            // Announced by content-length: refused from the head, before the handler runs.
            for (id, option) in [("cl-h1", "--http1.1"), ("cl-h2", "--http2-prior-knowledge")] {
                let response = try await Curl.request(server.url("/stream-upload-small?id=\(id)"), [option, "--data-binary", "@\(file)"])
                #expect(response.status == 413 && response.body.contains(tooLarge), "\(response.result)")
                #expect(server.probe.upload(id) == nil, "the handler ran for a body announced too large")
            }
            // Chunked: the handler's sequence throws when the limit is crossed, and the server answers 413.
            let (h1, _) = try await ChildProcess.runPython("h1_probe.py", ["upload", "--port", "\(server.port)", "--path", "/stream-upload-small?id=chunked", "--bytes", "\(10 << 20)", "--chunked", "--seconds", "20"])
            #expect(h1[object: "response"]?[int: "status"] == 413, "\(h1)")
            #expect(h1[object: "response"]?[string: "body"]?.contains(tooLarge) == true, "\(h1)")
            #expect((h1[int: "sent"] ?? .max) < 10 << 20, "the server read the whole body: \(h1)")
            #expect(server.probe.upload("chunked")?.outcome == "tooLarge", "\(String(describing: server.probe.upload("chunked")))")
            // HTTP/2 without content-length, likewise.
            let (h2, _) = try await ChildProcess.runPython("h2_probe.py", ["upload-flow", "--port", "\(server.port)", "--path", "/stream-upload-small?id=open-h2", "--bytes", "\(2 << 20)", "--seconds", "20"])
            #expect(h2[object: "response"]?[int: "status"] == 413, "\(h2)")
            #expect(h2[object: "response"]?[string: "body"]?.contains(tooLarge) == true, "\(h2)")
            #expect(server.probe.upload("open-h2")?.outcome == "tooLarge", "\(String(describing: server.probe.upload("open-h2")))")
            try await expectStillServing(server)
        }
    }

    @Test func clientResetMidBodyFailsTheSequenceAndSparesTheConnection() async throws {
        try await withServer { server in
            let id = "reset"
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["upload-flow", "--port", "\(server.port)", "--path", "/stream-upload?id=\(id)&delay=1", "--bytes", "\(16 << 20)", "--reset-after", "\(3 << 20)", "--side-requests", "--seconds", "30"])
            #expect(json[bool: "reset_sent"] == true, "\(json)")
            let side = try #require(json[object: "side"], "\(json)")
            #expect(side[object: "get"]?[int: "status"] == 200 && side[object: "get"]?[string: "body"] == "fast", "\(json)")
            #expect(side[object: "post"]?[int: "status"] == 200 && side[object: "post"]?[string: "body"] == "received \(200 * 1024)", "\(json)")
            #expect(json[bool: "closed"] == false && json[object: "goaway"] == nil, "\(json)")
            let ended = await server.probe.wait { $0.upload(id)?.outcome != nil }
            #expect(ended, "the handler's body sequence never ended after the reset")
            #expect(server.probe.upload(id)?.outcome == "clientReset", "\(String(describing: server.probe.upload(id)))")
        }
    }

    /// HTTP/1.1 only: curl 7.88 over h2 stops processing frames once it has a whole 2xx answer while it is
    /// still uploading, whatever the server does; the HTTP/2 side is the test below, with a crafted client.
    @Test func handlerThatIgnoresTheBodyStillAnswers() async throws {
        try await withServer { server in
            let (file, _) = try await Self.payload(20 << 20)
            // HTTP/1.1: the answer says `connection: close`; the rest of the body is read and dropped.
            let h1 = try await Curl.request(server.url("/stream-upload-ignore"), ["--http1.1", "-H", "Expect:", "--data-binary", "@\(file)"], seconds: 30)
            #expect(h1.status == 202 && h1.body == "ignored" && h1.result.status == 0, "\(h1.result)")
            try await expectStillServing(server)
            let closed = await server.waitForConnections(atMost: 0)
            #expect(closed, "a connection is still open")
        }
    }

    @Test func http2StreamOfAnIgnoredBodyIsResetWithNoError() async throws {
        try await withServer { server in
            // The client stops sending midway: the server ends the stream with NO_ERROR (RFC 9113 §8.1).
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["upload-flow", "--port", "\(server.port)", "--path", "/stream-upload-ignore", "--bytes", "\(5 << 20)", "--stop-after", "\(1 << 20)", "--await-reset", "--seconds", "10"])
            #expect(json[object: "response"]?[int: "status"] == 202, "\(json)")
            #expect(json[object: "response"]?[int: "reset"] == 0, "no RST_STREAM(NO_ERROR) after the answer: \(json)")
            #expect(json[bool: "closed"] == false && json[object: "goaway"] == nil, "\(json)")
        }
    }

    @Test(arguments: ["h1_probe.py", "h2_probe.py"])
    func stalledStreamedBodyTimesOut(script: String) async throws {
        try await withServer(limits: { $0.requestTimeout = .seconds(1) }) { server in
            let id = "stalled-\(script.prefix(2))"
            let (json, _) = try await ChildProcess.runPython(script, ["request-timeout", "--port", "\(server.port)", "--path", "/stream-upload?id=\(id)", "--seconds", "15"])
            #expect(json[object: "response"]?[int: "status"] == 408, "\(json)")
            #expect(server.probe.upload(id)?.outcome == "timedOut", "\(String(describing: server.probe.upload(id)))")
            try await expectStillServing(server)
        }
    }
}
