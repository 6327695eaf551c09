import NIOCore
@testable import HTTP2
import TestSupport
import Testing

/// How HTTP/1.1 responses are framed on the wire, read back by a raw-socket client: what the server writes
/// itself (``HTTP1ResponseEncoder``) has to be exactly what clients of every vintage parse.
@Suite("HTTP/1.1 response framing")
struct HTTP1ResponseFramingTests {
    @Test func anHTTP10ClientKeepsItsConnectionOnlyWhenItAsks() async throws {
        try await withServer { server in
            let json = try await server.exchange([#"GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"#, #"GET /echo/ten HTTP/1.0\r\n\r\n"#])
            let responses = json[list: "responses"]
            #expect(responses.count == 2, "\(json)")
            #expect(responses.first?[object: "headers"]?[string: "connection"] == "keep-alive", "\(json)")
            #expect(responses.first?[string: "body"] == "fast", "\(json)")
            #expect(responses.last?[object: "headers"]?[string: "connection"] == "close", "\(json)")
            #expect(responses.last?[string: "body"] == "tag:ten", "\(json)")
            #expect(json[bool: "closed"] == true, "\(json)")
        }
    }

    /// HTTP/1.0 has no chunked coding: a streamed body ends with the connection.
    @Test func aStreamedBodyToAnHTTP10ClientEndsWithTheConnection() async throws {
        try await withServer { server in
            let json = try await server.exchange([#"GET /stream?n=3 HTTP/1.0\r\n\r\n"#])
            let response = try #require(json[list: "responses"].first, "\(json)")
            #expect(response[int: "status"] == 200, "\(json)")
            #expect(response[object: "headers"]?[string: "transfer-encoding"] == nil, "\(json)")
            #expect(response[object: "headers"]?[string: "connection"] == "close", "\(json)")
            let expected = (0..<3).map { String(decoding: TestServer.chunk($0, size: 16), as: UTF8.self) }.joined()
            #expect(response[string: "body"] == expected, "\(json)")
            #expect(json[bool: "closed"] == true, "\(json)")
        }
    }

    /// A HEAD answer announces the GET's length and sends no body: the next response on the connection
    /// starts right after the head.
    @Test func headAnnouncesTheLengthAndSendsNoBody() async throws {
        try await withServer { server in
            let json = try await server.exchange([#"HEAD /fast HTTP/1.1\r\nHost: x\r\n\r\n"#, #"GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n"#])
            let responses = json[list: "responses"]
            #expect(responses.first?[object: "headers"]?[string: "content-length"] == "4", "\(json)")
            #expect(responses.last?[string: "status_line"] == "HTTP/1.1 200 OK", "\(json)")
            #expect(responses.last?[string: "body"] == "tag:after", "\(json)")
            #expect(json[string: "stray"] == "", "\(json)")
        }
    }

    /// RFC 9110 §15.3.5: a 204 has no body and no framing fields.
    @Test func noContentCarriesNoFraming() async throws {
        try await withServer { server in
            let json = try await server.exchange([#"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"#, #"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"#])
            let responses = json[list: "responses"]
            let headers = try #require(responses.first?[object: "headers"], "\(json)")
            #expect(responses.first?[int: "status"] == 204, "\(json)")
            #expect(headers[string: "content-length"] == nil && headers[string: "transfer-encoding"] == nil, "\(json)")
            #expect(responses.last?[string: "body"] == "fast", "\(json)")
        }
    }

    /// A field whose value holds CR LF would end the head early and smuggle a field of the handler's
    /// choosing; such fields, and names that are not tokens, are left out and the response still goes out.
    @Test func fieldsThatWouldBreakTheHeadAreLeftOut() async throws {
        try await withServer { server in
            let json = try await server.exchange([#"GET /bad-field HTTP/1.1\r\nHost: x\r\n\r\n"#, #"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"#])
            let responses = json[list: "responses"]
            let headers = try #require(responses.first?[object: "headers"], "\(json)")
            #expect(responses.first?[int: "status"] == 200, "\(json)")
            #expect(headers[string: "x-good"] == "yes", "\(json)")
            #expect(headers[string: "x-bad"] == nil && headers[string: "x-injected"] == nil && headers[string: "bad name"] == nil, "\(json)")
            #expect(responses.first?[string: "body"] == "body", "\(json)")
            #expect(responses.last?[string: "body"] == "fast", "\(json)")
        }
    }

    /// The head is written into room worked out beforehand: its longest fixed parts (a 20-digit length,
    /// keep-alive, a request id) and every field must fit, whatever the status.
    @Test func theLongestHeadFitsTheRoomWorkedOutForIt() {
        let fields: [(String, String)] = (0..<40).map { ("x-field-\($0)", String(repeating: "v", count: $0 * 7)) }
        for status in [100, 200, 404, 599, 700, 1_000_000, -5] {
            let response = HTTPResponse(status: status, headers: HTTPHeaders(fields), body: .bytes([]))
            let id = String(repeating: "i", count: 64)
            let head = String(buffer: HTTP1ResponseEncoder.head(response, requestID: id, framing: .length(Int.max), persistence: .keepAlive, allocator: ByteBufferAllocator()))
            let clamped = min(max(status, 100), 999)
            #expect(head.hasPrefix("HTTP/1.1 \(clamped) "), "\(head.prefix(40))")
            #expect(head.hasSuffix("x-request-id: \(id)\r\ncontent-length: \(Int.max)\r\nconnection: keep-alive\r\n\r\n"))
            #expect(head.contains("x-field-39: \(String(repeating: "v", count: 39 * 7))\r\n"))
        }
    }

    @Test func theHeadIsWrittenInOneBufferWithTheBody() {
        let response = HTTPResponse(status: 201, headers: ["content-type": "text/plain", "content-length": "999", "x-request-id": "old"], body: .bytes([]))
        let head = HTTP1ResponseEncoder.head(response, requestID: "r-1", framing: .length(2), persistence: .close, allocator: ByteBufferAllocator())
        #expect(String(buffer: head) == "HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\nx-request-id: r-1\r\ncontent-length: 2\r\nconnection: close\r\n\r\n")
        let chunk = HTTP1ResponseEncoder.chunk(Array("sixteen bytes!!!".utf8), framing: .chunked, allocator: ByteBufferAllocator())
        #expect(String(buffer: chunk) == "10\r\nsixteen bytes!!!\r\n")
        #expect(String(buffer: HTTP1ResponseEncoder.end(.chunked, allocator: ByteBufferAllocator())) == "0\r\n\r\n")
        #expect(HTTP1ResponseEncoder.isToken("x-request-id") && !HTTP1ResponseEncoder.isToken("a b") && !HTTP1ResponseEncoder.isToken(""))
        #expect(HTTP1ResponseEncoder.isFieldValue("text/plain; q=1") && !HTTP1ResponseEncoder.isFieldValue("a\nb") && !HTTP1ResponseEncoder.isFieldValue("a\u{0}"))
    }
}
