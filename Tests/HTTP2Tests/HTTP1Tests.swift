import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("HTTP/1.1 with real clients")
struct HTTP1Tests {
    @Test func keepAliveReusesOneConnectionForSeveralRequests() async throws {
        try await withServer { server in
            let result = try await Curl.run(["--http1.1", "-v", server.url("/peer"), server.url("/peer"), server.url("/peer"), server.url("/fast")])
            #expect(result.status == 0, "\(result)")
            #expect(result.error.contains("Re-using existing connection"), "\(result)")
            let peers = server.probe.peers
            #expect(peers.count == 3)
            #expect(Set(peers).count == 1, "three requests came from \(Set(peers).count) connections: \(peers)")
            #expect(result.output == peers.joined() + "fast")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer { server in
            // The first is slow: a server that answered as handlers finish would put it last.
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["pipeline", "--port", "\(server.port)", "--paths", "/slow?ms=400", "/echo/b", "/fast", "/echo/d"])
            let responses = json[list: "responses"]
            #expect(responses.map { $0[int: "status"] } == [200, 200, 200, 200], "\(json)")
            #expect(responses.map { $0[string: "body"] } == ["slow done after 400 ms", "tag:b", "fast", "tag:d"], "\(json)")
        }
    }

    /// Answers to requests that arrive in the same event-loop tick are flushed together at its end: every
    /// connection must get its own answer, round after round.
    @Test func requestsArrivingTogetherOnManyConnectionsAreEachAnswered() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython(
                "h1_probe.py", ["fan-out", "--port", "\(server.port)", "--count", "40", "--rounds", "5", "--seconds", "10"])
            #expect(json[strings: "missing"].isEmpty, "\(json)")
            #expect(json[list: "wrong"].isEmpty, "\(json)")
            #expect(json[int: "answered"] == 200, "\(json)")
        }
    }

    @Test func malformedRequestGets400AndTheConnectionCloses() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["malformed", "--port", "\(server.port)", "--seconds", "10"])
            let response = try #require(json[object: "response"], "\(json)")
            #expect(response[int: "status"] == 400, "\(json)")
            #expect(response[string: "body"]?.contains("not valid HTTP/1.1") == true, "\(json)")
            #expect(json[bool: "closed"] == true, "the connection stayed open after a malformed request: \(json)")
            // The valid request sent after the malformed one must not have been served.
            #expect(json[string: "leftover"]?.contains("HTTP/1.1 200") != true, "\(json)")
            try await expectStillServing(server)
        }
    }

    @Test func oversizedHeadersGet431() async throws {
        try await withServer(limits: { $0.maximumHeaderBytes = 8 * 1024 }) { server in
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["big-headers", "--port", "\(server.port)", "--bytes", "12000", "--seconds", "10"])
            let response = try #require(json[object: "response"], "\(json)")
            #expect(response[int: "status"] == 431, "\(json)")
            #expect(response[string: "body"]?.contains("header") == true, "\(json)")
            #expect(json[bool: "closed"] == true, "\(json)")

            let big = String(repeating: "h", count: 12_000)
            let curl = try await Curl.request(server.url("/fast"), ["--http1.1", "-H", "X-Big: \(big)"])
            #expect(curl.status == 431, "\(curl.result)")

            // Past the HTTP/1 parser's own limit (80 KB) the parser reports the overflow.
            let huge = try await ChildProcess.runPython("h1_probe.py", ["big-headers", "--port", "\(server.port)", "--bytes", "120000", "--seconds", "10"]).0
            #expect(huge[object: "response"]?[int: "status"] == 431, "\(huge)")
            #expect(huge[bool: "closed"] == true, "\(huge)")

            // Headers under the limit are fine.
            let small = try await Curl.request(server.url("/fast"), ["--http1.1", "-H", "X-Small: \(String(repeating: "h", count: 4000))"])
            #expect(small.status == 200, "\(small.result)")
        }
    }

    @Test func requestBodyNeverCompletingGets408() async throws {
        try await withServer(limits: { $0.requestTimeout = .seconds(1) }) { server in
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["request-timeout", "--port", "\(server.port)", "--path", "/upload", "--seconds", "15"])
            let response = try #require(json[object: "response"], "no response before the connection closed: \(json)")
            #expect(response[int: "status"] == 408, "\(json)")
            let elapsed = json[double: "elapsed"] ?? 0
            #expect(elapsed >= 0.8 && elapsed < 10, "408 after \(elapsed) s with a 1 s request timeout")
            #expect(json[bool: "closed"] == true, "\(json)")
        }
    }

    @Test func slowlorisIsCutOffAfterTheHeaderTimeout() async throws {
        try await withServer(limits: { $0.headerTimeout = .seconds(1); $0.requestTimeout = .seconds(30) }) { server in
            // One byte every 100 ms would take 1,000 s to finish the head.
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["slowloris", "--port", "\(server.port)", "--interval", "0.1", "--seconds", "15"])
            #expect(json[bool: "closed"] == true, "the trickling client was never cut off: \(json)")
            #expect(json[string: "response"]?.hasPrefix("HTTP/1.1 408") == true, "\(json)")
            let elapsed = json[double: "elapsed"] ?? 0
            #expect(elapsed >= 0.8 && elapsed < 8, "closed after \(elapsed) s with a 1 s header timeout")
            try await expectStillServing(server)
        }
    }

    @Test func idleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        try await withServer(limits: { $0.idleTimeout = .seconds(1) }) { server in
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["idle", "--port", "\(server.port)", "--seconds", "15"])
            #expect(json[object: "response"]?[int: "status"] == 200, "\(json)")
            #expect(json[bool: "closed"] == true, "\(json)")
            let idle = json[double: "idle_for"] ?? 0
            #expect(idle >= 0.8 && idle < 8, "closed after \(idle) s idle with a 1 s idle timeout")
        }
    }

    @Test func connectionThatNeverSendsAByteIsClosed() async throws {
        try await withServer(limits: { $0.headerTimeout = .seconds(1); $0.idleTimeout = .seconds(1) }) { server in
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["silent", "--port", "\(server.port)", "--seconds", "15"])
            #expect(json[bool: "closed"] == true, "a silent connection was held forever: \(json)")
            let elapsed = json[double: "elapsed"] ?? 0
            #expect(elapsed >= 0.8 && elapsed < 8, "closed after \(elapsed) s")
        }
    }

    @Test func connectionsBeyondTheLimitAreRefusedWhileOthersKeepWorking() async throws {
        try await withServer(limits: { $0.maximumConnections = 3 }) { server in
            let (json, _) = try await ChildProcess.runPython("h1_probe.py", ["max-connections", "--port", "\(server.port)", "--count", "3", "--seconds", "10"])
            #expect(json[list: "first"].map { $0[int: "status"] } == [200, 200, 200], "\(json)")
            #expect(json[object: "extra_response"] == nil, "the connection over the limit was served: \(json)")
            #expect(json[bool: "extra_closed"] == true, "\(json)")
            #expect(json[list: "second"].map { $0[int: "status"] } == [200, 200, 200], "existing connections stopped working: \(json)")
            #expect(server.logs.all.contains { $0.message.contains("connection refused") })
        }
    }
}
