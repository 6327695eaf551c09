import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("Request body limits")
struct UploadLimitTests {
    static let tooLargeMessage = "exceeds the limit of \(TestServer.uploadLimit) bytes"

    /// A file of `size` bytes in a fresh temporary directory, removed when the test ends.
    static func payload(_ size: Int, _ name: String = #function) throws -> Payload {
        let directory = Paths.temporaryDirectory(name)
        let path = directory.appendingPathComponent("payload.bin").path
        try Data(repeating: UInt8(ascii: "p"), count: size).write(to: URL(fileURLWithPath: path))
        return Payload(directory: directory, path: path)
    }

    final class Payload: CustomStringConvertible {
        let directory: URL
        let path: String
        init(directory: URL, path: String) {
            self.directory = directory
            self.path = path
        }
        deinit { try? FileManager.default.removeItem(at: directory) }
        var description: String { path }
    }

    @Test func bodiesWithinTheLimitArriveWhole() async throws {
        try await withServer { server in
            let file = try Self.payload(TestServer.uploadLimit)
            let h1 = try await Curl.request(server.url("/upload"), ["--http1.1", "--data-binary", "@\(file)"])
            #expect(h1.status == 200 && h1.body == "received \(TestServer.uploadLimit)", "\(h1.result)")
            let h2 = try await Curl.request(server.url("/upload"), ["--http2-prior-knowledge", "--data-binary", "@\(file)"])
            #expect(h2.status == 200 && h2.version == "2" && h2.body == "received \(TestServer.uploadLimit)", "\(h2.result)")
            // The default limit (1 MiB) applies to routes without their own.
            let big = try Self.payload(512 * 1024, "big")
            let echo = try await Curl.request(server.url("/echo-length"), ["--http2-prior-knowledge", "--data-binary", "@\(big)"])
            #expect(echo.status == 200 && echo.body == "received \(512 * 1024)", "\(echo.result)")
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await withServer { server in
            // Without "100 Continue" curl would wait its whole --expect100-timeout before sending the body.
            let file = try Self.payload(2000)
            let started = ContinuousClock.now
            let response = try await Curl.request(server.url("/echo-length"), ["--http1.1", "-v", "-H", "Expect: 100-continue", "--expect100-timeout", "45", "--data-binary", "@\(file)"])
            #expect(response.status == 200 && response.body == "received 2000", "\(response.result)")
            #expect(response.result.error.contains("HTTP/1.1 100 Continue"), "\(response.result)")
            #expect(ContinuousClock.now - started < .seconds(40), "the client had to wait out its 100-continue timeout")
        }
    }

    @Test func tenMegabyteUploadGets413OverHTTP1() async throws {
        try await withServer { server in
            let file = try Self.payload(10 << 20)
            // curl announces the length and waits for 100-continue: the server refuses from the head.
            let announced = try await Curl.request(server.url("/upload"), ["--http1.1", "--data-binary", "@\(file)"])
            #expect(announced.status == 413, "\(announced.result)")
            #expect(announced.body.contains(Self.tooLargeMessage), "\(announced.result)")
            // Without Expect: 100-continue curl sends the body at once; the 413 must still reach it (a server
            // that closes with the body unread makes the kernel reset the connection under the answer).
            for _ in 0..<5 {
                let eager = try await Curl.request(server.url("/upload"), ["--http1.1", "-H", "Expect:", "--data-binary", "@\(file)"])
                #expect(eager.status == 413, "\(eager.result)")
                #expect(eager.body.contains(Self.tooLargeMessage), "\(eager.result)")
            }
            // Chunked, so the server only finds out while reading the body.
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["upload", "--port", "\(server.port)", "--path", "/upload", "--bytes", "\(10 << 20)", "--chunked", "--seconds", "20"])
            let response = try #require(json[object: "response"], "no response to the chunked upload: \(json)")
            #expect(response[int: "status"] == 413, "\(json)")
            #expect(response[string: "body"]?.contains(Self.tooLargeMessage) == true, "\(json)")
            #expect((json[int: "sent"] ?? 0) < 10 << 20, "the server read the whole 10 MB body: \(json)")
            try await expectStillServing(server)
        }
    }

    @Test func tenMegabyteUploadGets413OverHTTP2() async throws {
        try await withServer { server in
            let file = try Self.payload(10 << 20)
            let curl = try await Curl.request(server.url("/upload"), ["--http2-prior-knowledge", "--data-binary", "@\(file)"])
            #expect(curl.status == 413, "\(curl.result)")
            #expect(curl.version == "2")
            #expect(curl.body.contains(Self.tooLargeMessage), "\(curl.result)")
            // Without content-length, so the server only finds out while reading DATA frames.
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["upload", "--port", "\(server.port)", "--path", "/upload", "--bytes", "\(10 << 20)", "--seconds", "20"])
            let response = try #require(json[object: "response"], "\(json)")
            #expect(response[int: "status"] == 413, "\(json)")
            #expect(response[string: "body"]?.contains(Self.tooLargeMessage) == true, "\(json)")
            // With content-length: refused from the head.
            let (announced, _) = try await ChildProcess.runPython("h2_probe.py", ["upload", "--port", "\(server.port)", "--path", "/upload", "--bytes", "\(10 << 20)", "--content-length", "--seconds", "20"])
            #expect(announced[object: "response"]?[int: "status"] == 413, "\(announced)")
            try await expectStillServing(server)
        }
    }
}
