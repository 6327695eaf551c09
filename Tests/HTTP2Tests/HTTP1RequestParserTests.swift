@testable import HTTP2
import NIOCore
import NIOHTTP1
import Testing

/// The llhttp-based request parser on its own: the parts it hands on, however the bytes are split into reads,
/// and the rules it shares with NIO's decoder (upgrade stops, header cap, errors).
@Suite("HTTP/1.1 request parser")
struct HTTP1RequestParserTests {
    /// A request as the handler sees it: head fields, the body's bytes joined, and whether it ended.
    struct Request: Equatable {
        var method = ""
        var uri = ""
        var version = ""
        var headers: [String] = []
        var body = ""
        var ended = false
        var keepAlive = true
        var upgrade = false
        var size = 0
    }

    private static func requests(_ parts: [HTTP1RequestPart]) -> [Request] {
        var requests: [Request] = []
        for part in parts {
            switch part {
            case .head(let head):
                requests.append(Request(
                    method: head.method.rawValue, uri: head.target, version: "HTTP/1.\(head.minorVersion)",
                    headers: head.headers.map { "\($0.name): \($0.value)" }, keepAlive: head.keepAlive, upgrade: head.asksToUpgrade, size: head.size))
            case .body(let bytes):
                requests[requests.count - 1].body += String(decoding: bytes.readableBytesView, as: UTF8.self)
            case .end:
                requests[requests.count - 1].ended = true
            }
        }
        return requests
    }

    /// Feeds `text` in reads of `size` bytes; returns every part and the first error.
    private static func parse(_ text: String, readsOf size: Int = .max) -> (parts: [HTTP1RequestPart], error: HTTPParserError?) {
        let parser = HTTP1RequestParser()
        let bytes = Array(text.utf8)
        var parts: [HTTP1RequestPart] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            let (found, error) = parser.parse(ByteBuffer(bytes: bytes[start..<end]))
            parts += found
            if let error { return (parts, error) }
            start = end
        }
        return (parts, nil)
    }

    static let pipelined =
        "POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\": 1}\r\n"
        + "PUT /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        + "GET /healthz HTTP/1.0\r\n\r\n"

    @Test func pipelinedRequestsComeOutWholeHoweverTheReadsSplitThem() {
        // Names lower-cased, the trailer dropped; an HTTP/1.0 request without `Connection: keep-alive` ends the
        // connection; sizes are the target plus each field's name, value and 4 bytes.
        let expected = [
            Request(
                method: "POST", uri: "/mcp?x=1", version: "HTTP/1.1", headers: ["host: a", "content-type: application/json", "content-length: 11"],
                body: "{\"id\": 1}\r\n", ended: true, size: 8 + 9 + 32 + 20),
            Request(
                method: "PUT", uri: "/upload", version: "HTTP/1.1", headers: ["host: a", "transfer-encoding: chunked"], body: "hello world", ended: true,
                size: 7 + 9 + 28),
            Request(method: "GET", uri: "/healthz", version: "HTTP/1.0", headers: [], body: "", ended: true, keepAlive: false, size: 8),
        ]
        for size in [Int.max, 1, 2, 3, 7, 16, 64] {
            let (parts, error) = Self.parse(Self.pipelined, readsOf: size)
            #expect(error == nil, "reads of \(size) bytes")
            #expect(Self.requests(parts) == expected, "reads of \(size) bytes")
        }
    }

    @Test func keepAliveFollowsTheVersionAndTheConnectionField() {
        let heads = Self.requests(Self.parse(
            "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.1\r\nConnection: foo, close\r\n\r\n").parts)
        #expect(heads.map(\.keepAlive) == [true, false])
        #expect(heads.first?.headers == ["connection: Keep-Alive"])
    }

    @Test func uncommonAndMixedCaseNamesAreLowerCasedToo() {
        let head = Self.requests(Self.parse("GET / HTTP/1.1\r\nMCP-Protocol-Version: 2025-06-18\r\nX-Custom-Thing: V\r\nACCEPT: */*\r\n\r\n").parts)
        #expect(head.first?.headers == ["mcp-protocol-version: 2025-06-18", "x-custom-thing: V", "accept: */*"])
        let headers = Self.heads(Self.parse("GET / HTTP/1.1\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n").parts).first?.headers
        #expect(headers?["mcp-protocol-version"] == "2025-06-18")
        #expect(headers?["MCP-Protocol-Version"] == "2025-06-18")
    }

    private static func heads(_ parts: [HTTP1RequestPart]) -> [HTTP1RequestHead] {
        parts.compactMap { if case .head(let head) = $0 { head } else { nil } }
    }

    @Test func bodiesAreSlicesOfTheReadNotCopiesOfLaterBytes() {
        let (parts, _) = Self.parse("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nde")
        let bodies = parts.compactMap { part -> String? in
            if case .body(let bytes) = part { String(decoding: bytes.readableBytesView, as: UTF8.self) } else { nil }
        }
        #expect(bodies == ["abc", "de"])
    }

    @Test func parsingStopsAfterAnUpgradeRequestAndHoldsTheRest() {
        let parser = HTTP1RequestParser()
        let upgrade = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        let next = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        let (parts, error) = parser.parse(ByteBuffer(string: upgrade + next))
        #expect(error == nil)
        #expect(Self.requests(parts).map(\.uri) == ["/a"])
        #expect(Self.requests(parts).map(\.upgrade) == [true])
        #expect(parser.isStopped)
        // A later read is held too, after what was held already.
        let (more, _) = parser.parse(ByteBuffer(string: "GET /c HTTP/1.1\r\n\r\n"))
        #expect(more.isEmpty)
        let (resumed, resumeError) = parser.resume()
        #expect(resumeError == nil)
        #expect(Self.requests(resumed).map(\.uri) == ["/b", "/c"])
        #expect(!parser.isStopped)
    }

    @Test func theNextProtocolTakesTheBytesAfterAnUpgradeRequest() {
        let parser = HTTP1RequestParser()
        let request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        _ = parser.parse(ByteBuffer(string: request + preface))
        let remainder = parser.takeRemainder()
        #expect(remainder.map { String(buffer: $0) } == preface)
        #expect(!parser.isStopped)
    }

    @Test func malformedRequestsGetNIOsErrors() {
        #expect(Self.parse("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n").error == .invalidHeaderToken)
        #expect(Self.parse("GET / HTTP/2.0\r\n\r\n").error == .invalidVersion)
        #expect(Self.parse("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").error == .invalidContentLength)
        #expect(Self.parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").error == .invalidChunkSize)
        // What follows a `Connection: close` request is not parsed as another one.
        let closing = Self.parse("GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
        #expect(Self.requests(closing.parts).map(\.uri) == ["/a"])
        #expect(closing.error == .closedConnection)
    }

    @Test func headerBlocksOverEightyKilobytesOverflow() {
        let big = String(repeating: "v", count: 40 * 1024)
        #expect(Self.parse("GET / HTTP/1.1\r\nA: \(big)\r\nB: \(big)\r\n\r\n", readsOf: 4096).error == .headerOverflow)
        // Just under the cap is fine.
        let fits = Self.parse(
            "GET / HTTP/1.1\r\nA: \(String(repeating: "v", count: 70 * 1024))\r\n\r\nGET /b HTTP/1.1\r\nB: c\r\n\r\n", readsOf: 4096)
        #expect(fits.error == nil)
        // The buffers a large field grew are reused for the next request's small ones.
        #expect(Self.requests(fits.parts).map(\.headers.count) == [1, 1])
        #expect(Self.requests(fits.parts).last?.headers == ["b: c"])
    }

    @Test func afterAnErrorNothingMoreIsParsed() {
        let parser = HTTP1RequestParser()
        #expect(parser.parse(ByteBuffer(string: "BAD\u{1} / HTTP/1.1\r\n\r\n")).error != nil)
        let (parts, error) = parser.parse(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(parts.isEmpty)
        #expect(error == nil)
    }
}
