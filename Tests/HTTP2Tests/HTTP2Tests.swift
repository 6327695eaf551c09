import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("HTTP/2 with real clients")
struct HTTP2Tests {
    @Test func curlWithPriorKnowledgeGetsHTTP2() async throws {
        try await withServer { server in
            // Debian's curl 7.88 cannot reuse an h2c prior-knowledge connection: one request per process.
            for path in ["/fast", "/echo/one", "/echo/two"] {
                let response = try await Curl.request(server.url(path), ["--http2-prior-knowledge"])
                #expect(response.status == 200, "\(response.result)")
                #expect(response.version == "2", "\(response.result)")
            }
            let echo = try await Curl.request(server.url("/echo/x%20y"), ["--http2-prior-knowledge"])
            #expect(echo.body == "tag:x y")
            let missing = try await Curl.request(server.url("/nope"), ["--http2-prior-knowledge"])
            #expect(missing.status == 404 && missing.body.contains("nothing is served at /nope"), "\(missing.result)")
        }
    }

    @Test func nghttpMultiplexesSeveralRequestsOnOneConnection() async throws {
        try await withServer { server in
            // nghttp sends each distinct URI once, all on one connection.
            let result = try await Nghttp.run(["-nv", server.url("/peer?n=1"), server.url("/peer?n=2"), server.url("/peer?n=3"), server.url("/slow?ms=200")])
            #expect(result.status == 0, "\(result)")
            let answered = result.output.split(separator: "\n").filter { $0.contains(") :status: 200") }
            #expect(answered.count == 4, "\(result)")
            #expect(result.output.components(separatedBy: "; END_STREAM").count - 1 >= 8, "requests and responses should all end their streams: \(result)")
            let peers = server.probe.peers
            #expect(peers.count == 3)
            #expect(Set(peers).count == 1, "requests came over \(Set(peers).count) connections: \(peers)")
        }
    }

    @Test func httpxSpeaksHTTP2WithPriorKnowledge() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("httpx_client.py", ["get", server.url("/peer"), server.url("/echo/a"), server.url("/peer"), "--http2"])
            let responses = json[list: "responses"]
            #expect(responses.map { $0[int: "status"] } == [200, 200, 200], "\(json)")
            #expect(responses.allSatisfy { $0[string: "http_version"] == "HTTP/2" }, "\(json)")
            #expect(responses[1][string: "body"] == "tag:a")
            #expect(Set(server.probe.peers).count == 1, "httpx opened more than one connection: \(server.probe.peers)")
        }
    }

    /// RFC 9113 §3.4: a wrong preface is a connection error PROTOCOL_ERROR, answered with GOAWAY before the
    /// close, also when it goes wrong within its request line (the PRI method means HTTP/2).
    @Test(arguments: [
        "",
        Array("PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n".utf8).hex,
        Array("PRI * HTTP/2.1\r\n\r\nSM\r\n\r\n".utf8).hex,
        Array("PRI / HTTP/2.0\r\nHost: x\r\n\r\n".utf8).hex,
    ])
    func invalidPrefaceGetsGoawayAndClose(preface: String) async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["bad-preface", "--port", "\(server.port)", "--seconds", "10", "--preface", preface])
            #expect(json[bool: "closed"] == true, "the connection stayed open after a bad preface: \(json)")
            #expect(json[bool: "http1_response"] == false, "a bad preface was answered as HTTP/1.1: \(json)")
            let goaway = try #require(json[object: "goaway"], "no GOAWAY before the close: \(json)")
            #expect(goaway[int: "error"] == 1, "GOAWAY should say PROTOCOL_ERROR: \(json)")
            try await expectStillServing(server)
        }
    }

    @Test func oversizedHeaderBlockGets431() async throws {
        try await withServer(limits: { $0.maximumHeaderBytes = 8 * 1024 }) { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["big-headers", "--port", "\(server.port)", "--bytes", "20000", "--seconds", "10"])
            let first = try #require(json[object: "first"], "\(json)")
            #expect(first[int: "status"] == 431, "\(json)")
            #expect(first[string: "body"]?.contains("header") == true, "\(json)")
            // The limit is per request: the connection goes on serving.
            #expect(json[object: "second"]?[int: "status"] == 200, "\(json)")
            try await expectStillServing(server)
        }
    }

    @Test func continuationFloodEndsTheConnection() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["continuation-flood", "--port", "\(server.port)", "--count", "100000", "--seconds", "10"])
            #expect(json[bool: "closed"] == true, "the server kept reading CONTINUATION frames: \(json)")
            let sent = json[int: "frames_sent"] ?? 0
            #expect(sent < 100_000, "all \(sent) CONTINUATION frames were accepted: \(json)")
            let goaway = try #require(json[object: "goaway"], "no GOAWAY: \(json)")
            #expect(goaway[int: "error"] == 11, "expected ENHANCE_YOUR_CALM: \(json)")
            try await expectStillServing(server)
        }
    }

    @Test func rapidResetFloodGetsGoaway() async throws {
        try await withServer(limits: { $0.streamResetBurst = 200; $0.streamResetRatePerSecond = 10 }) { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["rst-flood", "--port", "\(server.port)", "--count", "5000", "--seconds", "10"])
            let goaway = try #require(json[object: "goaway"], "no GOAWAY after \(json[int: "streams_reset"] ?? 0) resets: \(json)")
            #expect(goaway[int: "error"] != 0, "\(json)")
            #expect(json[bool: "closed"] == true, "\(json)")
            try await expectStillServing(server)
        }
    }

    @Test func windowUpdateOverflowGetsFlowControlError() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["window-overflow", "--port", "\(server.port)", "--seconds", "10"])
            let goaway = try #require(json[object: "goaway"], "\(json)")
            #expect(goaway[int: "error"] == 3, "expected FLOW_CONTROL_ERROR: \(json)")
            #expect(json[bool: "closed"] == true, "\(json)")
            try await expectStillServing(server)
        }
    }

    @Test func dataOnAClosedStreamIsAnError() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["data-after-close", "--port", "\(server.port)", "--seconds", "10"])
            #expect(json[object: "response"]?[int: "status"] == 200, "\(json)")
            let goawayError = json[object: "goaway"]?[int: "error"]
            let resetError = json[object: "resets"]?[int: "1"]
            #expect(goawayError == 5 || resetError == 5, "expected STREAM_CLOSED as GOAWAY or RST_STREAM: \(json)")
            try await expectStillServing(server)
        }
    }

    @Test func incompleteRequestBodyGets408() async throws {
        try await withServer(limits: { $0.requestTimeout = .seconds(1) }) { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["request-timeout", "--port", "\(server.port)", "--path", "/upload", "--seconds", "15"])
            let response = try #require(json[object: "response"], "\(json)")
            #expect(response[int: "status"] == 408, "\(json)")
            let elapsed = json[double: "elapsed"] ?? 0
            #expect(elapsed >= 0.8 && elapsed < 10, "408 after \(elapsed) s with a 1 s request timeout")
        }
    }

    @Test func idleConnectionGetsGoawayAndIsClosed() async throws {
        try await withServer(limits: { $0.idleTimeout = .seconds(1) }) { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["idle", "--port", "\(server.port)", "--seconds", "15"])
            #expect(json[object: "response"]?[int: "status"] == 200, "\(json)")
            #expect(json[bool: "closed"] == true, "\(json)")
            #expect(json[object: "goaway"]?[int: "error"] == 0, "expected GOAWAY NO_ERROR: \(json)")
            let idle = json[double: "idle_for"] ?? 0
            #expect(idle >= 0.8 && idle < 8, "closed after \(idle) s idle with a 1 s idle timeout")
        }
    }

    @Test func connectionThatOpensNoStreamIsClosed() async throws {
        try await withServer(limits: { $0.headerTimeout = .seconds(1) }) { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["silent", "--port", "\(server.port)", "--seconds", "15"])
            #expect(json[bool: "closed"] == true, "\(json)")
            let elapsed = json[double: "elapsed"] ?? 0
            #expect(elapsed >= 0.8 && elapsed < 8, "closed after \(elapsed) s with a 1 s header timeout")
        }
    }

    /// A connection reuses its last route lookup while requests name the same method and path; a new path or
    /// another method on the same path is looked up again (`RecentRoute`).
    @Test func eachRequestOnAConnectionGetsItsOwnRoute() async throws {
        try await withServer { server in
            // h2: nghttp sends each distinct URI once, all on one connection; the query makes the second
            // /echo/a distinct without changing its path.
            let nghttp = try await Nghttp.run([server.url("/echo/a"), server.url("/fast"), server.url("/echo/b"), server.url("/echo/a?again=1")])
            #expect(nghttp.status == 0, "\(nghttp)")
            #expect(nghttp.output.components(separatedBy: "tag:a").count - 1 == 2, "\(nghttp)")
            #expect(nghttp.output.components(separatedBy: "tag:b").count - 1 == 1, "\(nghttp)")
            #expect(nghttp.output.contains("fast"), "\(nghttp)")

            let json = try await server.exchange([
                #"GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"#, #"GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n"#,
                #"GET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n"#, #"DELETE /echo/b HTTP/1.1\r\nHost: x\r\n\r\n"#,
                #"GET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n"#,
            ])
            let responses = json[list: "responses"]
            #expect(responses.map { $0[int: "status"] ?? 0 } == [200, 200, 200, 405, 200], "\(json)")
            #expect(responses.map { $0[string: "body"] ?? "" }.enumerated().filter { $0.offset != 3 }.map(\.element) == ["tag:a", "tag:a", "tag:b", "tag:b"], "\(json)")
        }
    }

    /// Requests on one connection that repeat the previous request's fields share its list; each must still
    /// see exactly its own fields and `host` from its own `:authority` (or its own `host` field), as they change
    /// one at a time: authority, fewer, more, a different value, an explicit host, none.
    @Test func repeatedFieldsOnAConnectionStayEachRequestsOwn() async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython("h2_probe.py", ["header-sequence", "--port", "\(server.port)", "--seconds", "10"])
            let sent = json[list: "sent"]
            let answers = json[list: "answers"]
            #expect(sent.count == 10 && answers.count == sent.count, "\(json)")
            for (request, answer) in zip(sent, answers) {
                let fields = (request.values["fields"] as? [[String]]) ?? []
                var expected = fields.map { "\($0[0]): \($0[1])" }
                if !fields.contains(where: { $0[0] == "host" }) { expected.append("host: \(request[string: "authority"] ?? "")") }
                #expect(answer[int: "status"] == 200, "\(answer)")
                #expect(answer[string: "body"] == expected.joined(separator: "\n"), "sent \(request), got \(answer)")
            }
        }
    }
}

extension [UInt8] {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
