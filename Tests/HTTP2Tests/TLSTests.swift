import Foundation
@testable import HTTP2
import TestSupport
import Testing

/// A self-signed certificate for localhost made by `openssl req` in a fresh temporary directory.
func makeCertificate(_ name: String = #function) async throws -> HTTPServerConfiguration.TLS {
    let directory = Paths.temporaryDirectory(name)
    let key = directory.appendingPathComponent("key.pem").path
    let certificate = directory.appendingPathComponent("cert.pem").path
    let result = try await ChildProcess.run("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-keyout", key, "-out", certificate,
    ])
    try #require(result.status == 0, "openssl could not make a certificate: \(result)")
    return HTTPServerConfiguration.TLS(certificateChainPath: certificate, privateKeyPath: key)
}

func removeCertificate(_ tls: HTTPServerConfiguration.TLS) {
    try? FileManager.default.removeItem(at: URL(fileURLWithPath: tls.certificateChainPath).deletingLastPathComponent())
}

@Suite("TLS with ALPN")
struct TLSTests {
    @Test func curlNegotiatesHTTP2AndReusesTheConnection() async throws {
        let tls = try await makeCertificate()
        defer { removeCertificate(tls) }
        try await withServer(tls: tls) { server in
            let result = try await Curl.run(["-k", "--http2", "-v", "-w", "\n%{http_version} %{http_code}\n", server.url("/peer?n=1"), server.url("/peer?n=2"), server.url("/echo/tls")])
            #expect(result.status == 0, "\(result)")
            #expect(result.error.contains("ALPN: server accepted h2") || result.error.contains("ALPN, server accepted to use h2"), "\(result)")
            let versions = result.output.split(separator: "\n").filter { $0.hasSuffix(" 200") }
            #expect(versions == ["2 200", "2 200", "2 200"], "\(result)")
            #expect(result.output.contains("tag:tls"))
            #expect(Set(server.probe.peers).count == 1, "curl opened \(Set(server.probe.peers).count) TLS connections")

            let h1 = try await Curl.request(server.url("/fast"), ["-k", "--http1.1"])
            #expect(h1.status == 200 && h1.version == "1.1" && h1.body == "fast", "\(h1.result)")
        }
    }

    /// h2c is for cleartext connections (RFC 7540 §3.2): over TLS the request is answered over HTTP/1.1
    /// and the connection goes on serving.
    @Test func anH2CUpgradeOverTLSIsAnsweredOverHTTP1() async throws {
        let tls = try await makeCertificate()
        defer { removeCertificate(tls) }
        try await withServer(tls: tls) { server in
            let upgrade = ["-H", "Connection: Upgrade, HTTP2-Settings", "-H", "Upgrade: h2c", "-H", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"]
            let result = try await Curl.run(["-k", "--http1.1", "-v"] + upgrade + [server.url("/peer?n=1"), server.url("/echo/after")])
            #expect(result.status == 0, "\(result)")
            #expect(!result.error.contains("< HTTP/1.1 101"), "\(result)")  // not a bare "101": the port may contain it
            #expect(result.error.components(separatedBy: "< HTTP/1.1 200").count == 3, "\(result)")
            #expect(result.output.hasSuffix("tag:after"), "\(result)")
        }
    }

    @Test func opensslSeesTheNegotiatedProtocol() async throws {
        let tls = try await makeCertificate()
        defer { removeCertificate(tls) }
        try await withServer(tls: tls) { server in
            for (offered, chosen) in [("h2", "h2"), ("http/1.1", "http/1.1"), ("h2,http/1.1", "h2")] {
                let result = try await ChildProcess.run("openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-alpn", offered], seconds: 30)
                #expect(result.output.contains("ALPN protocol: \(chosen)\n"), "offered \(offered): \(result)")
            }
        }
    }

    @Test func httpxGetsHTTP2OrHTTP1ByALPN() async throws {
        let tls = try await makeCertificate()
        defer { removeCertificate(tls) }
        try await withServer(tls: tls) { server in
            let (h2, _) = try await ChildProcess.runPython("httpx_client.py", ["get", server.url("/peer?n=1"), server.url("/peer?n=2"), "--http2", "--http1", "--insecure"])
            #expect(h2[list: "responses"].map { $0[string: "http_version"] } == ["HTTP/2", "HTTP/2"], "\(h2)")
            #expect(h2[list: "responses"].map { $0[int: "status"] } == [200, 200], "\(h2)")
            #expect(h2[list: "responses"].first?[string: "alpn"] == "h2", "\(h2)")

            let (h1, _) = try await ChildProcess.runPython("httpx_client.py", ["get", server.url("/fast"), server.url("/echo/b"), "--http1", "--insecure"])
            #expect(h1[list: "responses"].map { $0[string: "http_version"] } == ["HTTP/1.1", "HTTP/1.1"], "\(h1)")
            #expect(h1[list: "responses"].map { $0[string: "body"] } == ["fast", "tag:b"], "\(h1)")
            #expect(h1[list: "responses"].first?[string: "alpn"] == "http/1.1", "\(h1)")
        }
    }

    @Test func plainTextClientOnTheTLSPortIsRejected() async throws {
        let tls = try await makeCertificate()
        defer { removeCertificate(tls) }
        try await withServer(tls: tls) { server in
            let plain = try await Curl.request("http://127.0.0.1:\(server.port)/fast", ["--http1.1"])
            #expect(plain.status != 200, "a plain-text request was served on the TLS port: \(plain.result)")
            let secure = try await Curl.request(server.url("/fast"), ["-k", "--http1.1"])
            #expect(secure.status == 200, "\(secure.result)")
        }
    }
}
