import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("Access log")
struct AccessLogTests {
    /// The `x-request-id` header of a response printed with `curl -i`.
    static func requestID(_ output: String) -> String? {
        for line in output.split(separator: "\r\n") where line.lowercased().hasPrefix("x-request-id:") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    @Test func oneLinePerRequestWithTheFieldsAndNoSecrets() async throws {
        try await withServer { server in
            let secrets = ["SECRET-H1-BEARER", "SECRET-H1-QUERY", "SECRET-H2-BEARER", "SECRET-H2-QUERY", "SECRET-404-QUERY", "SECRET-413-BEARER", "SECRET-413-QUERY"]
            let h1 = try await Curl.run(["-i", "--http1.1", "-H", "Authorization: Bearer SECRET-H1-BEARER", server.url("/secret?token=SECRET-H1-QUERY&x=1")])
            let h2 = try await Curl.run(["-i", "--http2-prior-knowledge", "-H", "Authorization: Bearer SECRET-H2-BEARER", server.url("/secret?api_key=SECRET-H2-QUERY")])
            let missing = try await Curl.run(["-i", "--http2-prior-knowledge", server.url("/nothing/here?token=SECRET-404-QUERY")])
            let streamed = try await Curl.run(["-i", "--http1.1", server.url("/stream?n=4&size=50")])
            let streamed2 = try await Curl.run(["-i", "--http2-prior-knowledge", server.url("/stream?n=3&size=40")])
            let refused = try await Curl.run(["-i", "--http1.1", "-H", "Authorization: Bearer SECRET-413-BEARER", "--data-binary", String(repeating: "b", count: 2000), server.url("/upload?token=SECRET-413-QUERY")])
            #expect(refused.output.hasPrefix("HTTP/1.1 413"), "\(refused)")

            let expected: [(ChildProcess.Result, protocol: String, path: String, status: String, bytes: String)] = [
                (h1, "HTTP/1.1", "/secret", "200", "10"),
                (h2, "HTTP/2", "/secret", "200", "10"),
                (missing, "HTTP/2", "/nothing/here", "404", nil),
                (streamed, "HTTP/1.1", "/stream", "200", "200"),
                (streamed2, "HTTP/2", "/stream", "200", "120"),
            ].map { ($0.0, $0.1, $0.2, $0.3, $0.4 ?? "") }
            // HTTP/2 logs when the stream closes, just after the client has its answer.
            let logged = await server.probe.wait { _ in server.logs.accessLines.count >= expected.count }
            #expect(logged, "access lines: \(server.logs.accessLines)")
            let lines = server.logs.accessLines
            #expect(lines.count == expected.count, "one line per served request: \(lines)")

            for (result, version, path, status, bytes) in expected {
                #expect(result.status == 0, "\(result)")
                let id = try #require(Self.requestID(result.output), "no x-request-id: \(result)")
                let matching = lines.filter { $0.metadata["request.id"] == id }
                #expect(matching.count == 1, "request \(id) has \(matching.count) access lines")
                guard let line = matching.first else { continue }
                #expect(line.level == .info)
                #expect(line.metadata["http.method"] == "GET", "\(line)")
                #expect(line.metadata["http.path"] == path, "\(line)")
                #expect(line.metadata["http.status"] == status, "\(line)")
                #expect(line.metadata["http.protocol"] == version, "\(line)")
                if !bytes.isEmpty { #expect(line.metadata["http.bytes"] == bytes, "\(line)") }
                #expect(Int(line.metadata["http.bytes"] ?? "") != nil, "\(line)")
                #expect((Int(line.metadata["http.duration_us"] ?? "") ?? -1) >= 0, "\(line)")
            }
            let slow = try await Curl.run(["-i", "--http1.1", server.url("/slow?ms=300")])
            let slowID = try #require(Self.requestID(slow.output))
            _ = await server.probe.wait { _ in server.logs.accessLines.contains { $0.metadata["request.id"] == slowID } }
            let slowLine = try #require(server.logs.accessLines.first { $0.metadata["request.id"] == slowID })
            #expect((Int(slowLine.metadata["http.duration_us"] ?? "") ?? 0) >= 250_000, "\(slowLine)")

            // The refused upload is logged (without its query) as rejected, under the id the client got.
            let refusedID = try #require(Self.requestID(refused.output), "no x-request-id on the 413: \(refused)")
            let rejected = try #require(server.logs.all.first { $0.message == "request rejected" && $0.metadata["request.id"] == refusedID })
            #expect(rejected.metadata["http.status"] == "413" && rejected.metadata["http.path"] == "/upload")
            #expect((Int(rejected.metadata["http.bytes"] ?? "") ?? 0) > 20, "\(rejected)")
            #expect(rejected.metadata["http.protocol"] == "HTTP/1.1")

            for record in server.logs.all {
                let text = record.message + " " + record.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                for secret in secrets {
                    #expect(!text.contains(secret), "a secret reached the log: \(record)")
                }
                #expect(!text.contains("Bearer"), "an Authorization header reached the log: \(record)")
            }
        }
    }
}
