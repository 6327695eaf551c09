@testable import HTTP2
import TestSupport
import Testing

/// `Upgrade` on HTTP/1.1: h2c is taken (cleartext, no body); anything else is answered over HTTP/1.1 and the
/// connection goes on serving the requests after it.
@Suite("HTTP/1.1 upgrades")
struct HTTP1UpgradeTests {
    /// `curl --http2` on an http:// URL asks for h2c; the answer comes on stream 1 of the new HTTP/2 session,
    /// and the second URL reuses that session.
    @Test func curlGetsHTTP2ByUpgradingACleartextConnection() async throws {
        try await withServer { server in
            let result = try await Curl.run(["--http2", "-sv", server.url("/echo/up"), server.url("/echo/again")])
            #expect(result.status == 0, "\(result)")
            #expect(result.output == "tag:uptag:again", "\(result)")
            #expect(result.error.contains("101 Switching Protocols"), "\(result)")
            #expect(result.error.components(separatedBy: "< HTTP/2 200").count == 3, "both answers should come over HTTP/2: \(result)")
        }
    }

    /// nghttp2's own client (`nghttp -u`) upgrades the same way and reads the answer on stream 1.
    @Test func nghttpUpgradesAndReadsTheAnswerOnStreamOne() async throws {
        try await withServer { server in
            let result = try await Nghttp.run(["-u", "-v", server.url("/echo/nghttp")])
            #expect(result.status == 0, "\(result)")
            #expect(result.output.contains("HTTP Upgrade success"), "\(result)")
            #expect(result.output.contains("recv (stream_id=1) :status: 200"), "\(result)")
            #expect(result.output.contains("tag:nghttp"), "\(result)")
        }
    }

    /// The parser stops after a request that asks to upgrade; a declined upgrade must not leave the
    /// connection deaf (it used to hang until the idle timeout).
    @Test func aDeclinedUpgradeLeavesTheConnectionServing() async throws {
        try await withServer { server in
            let json = try await server.exchange([
                #"GET /echo/a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"#,
                #"GET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n"#,
                // Pipelined right behind another upgrade request: the bytes the stopped parser held back.
                #"GET /echo/c HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\nGET /echo/d HTTP/1.1\r\nHost: x\r\n\r\n"#,
            ])
            let bodies = json[list: "responses"].map { $0[string: "body"] }
            #expect(bodies == ["tag:a", "tag:b", "tag:c", "tag:d"], "\(json)")
            #expect(json[list: "responses"].allSatisfy { $0[string: "status_line"] == "HTTP/1.1 200 OK" }, "\(json)")
        }
    }

    /// h2c is only for requests without a body; one with a body is answered over HTTP/1.1.
    @Test func anUpgradeRequestWithABodyIsAnsweredOverHTTP1() async throws {
        try await withServer { server in
            let json = try await server.exchange([
                #"POST /echo-length HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nbody"#,
                #"GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n"#,
            ])
            let responses = json[list: "responses"]
            #expect(responses.map { $0[string: "status_line"] } == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"], "\(json)")
            #expect(responses.map { $0[string: "body"] } == ["received 4", "tag:next"], "\(json)")
        }
    }

    /// While an upgrade request is being answered (here with a stream that never ends) the parser holds the
    /// bytes behind it, and the connection stops reading: a client that keeps sending waits in TCP flow
    /// control rather than filling the server's memory. The same holds behind a pipelined request.
    @Test(arguments: [
        #"GET /forever HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"#,
        #"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n"#,
    ])
    func bytesBehindARequestBeingAnsweredWaitInTheClient(request: String) async throws {
        try await withServer { server in
            let (json, _) = try await ChildProcess.runPython(
                "h1_probe.py", ["flood-behind", "--port", "\(server.port)", "--requests", request, "--bytes", "\(64 << 20)", "--seconds", "3"])
            #expect(json[int: "status"] == 200, "\(json)")
            // The kernel's buffers on both sides take a few MB; a server that kept reading would take all 64.
            #expect((json[int: "sent"] ?? .max) < 24 << 20, "the server read on behind the request: \(json)")
        }
    }

    /// `Connection`, `Upgrade` and `Expect` are comma-separated lists that may be split over several fields.
    @Test func listedTokensAreFoundAcrossFieldsIgnoringCase() {
        var headers: HTTPHeaders = ["connection": "keep-alive, Upgrade", "expect": " 100-Continue "]
        headers.add("Connection", "HTTP2-Settings;x=1")
        #expect(headers.lists("upgrade", in: "connection"))
        #expect(headers.lists("http2-settings", in: "connection"))
        #expect(headers.lists("100-continue", in: "expect"))
        #expect(!headers.lists("close", in: "connection"))
        #expect(!headers.lists("upgrade", in: "upgrade"))
        // Whole elements only.
        #expect(!(["connection": "upgraded"] as HTTPHeaders).lists("upgrade", in: "connection"))
    }

    @Test func http2SettingsAreBase64URLWithoutPadding() {
        #expect(HTTP1Upgrade.base64URLDecoded("AAMAAABkAARAAAAAAAIAAAAA") == [0, 3, 0, 0, 0, 100, 0, 4, 64, 0, 0, 0, 0, 2, 0, 0, 0, 0])
        #expect(HTTP1Upgrade.base64URLDecoded("-_8") == [0xfb, 0xff])
        #expect(HTTP1Upgrade.base64URLDecoded("") == [])
        #expect(HTTP1Upgrade.base64URLDecoded("AAM=") == nil)  // padding is not base64url as HTTP2-Settings carries it
        #expect(HTTP1Upgrade.base64URLDecoded("A") == nil)
        #expect(HTTP1Upgrade.base64URLDecoded("+/") == nil)
    }
}
