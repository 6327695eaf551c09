import NIOCore
import NIOHTTP1

/// Turns responses into HTTP/1.1 bytes: the status line, the fields and the framing the connection chose.
///
/// Requests are parsed by ``HTTP1RequestParser``. Why not NIO's encoder and pipelining handler:
/// docs/adr/0002-http1-responses-written-by-the-server.md.
enum HTTP1ResponseEncoder {
    /// How the body's end is told.
    enum Framing: Equatable {
        /// `content-length`.
        case length(Int)
        /// `transfer-encoding: chunked`.
        case chunked
        /// The status has no body (1xx, 204, 304): no framing field at all.
        case none
        /// The connection's close ends the body (a streamed body to an HTTP/1.0 client).
        case untilClose
    }

    /// What the `connection` field says.
    enum Persistence {
        case close
        /// Only HTTP/1.0 clients need it said; HTTP/1.1 connections persist by default.
        case keepAlive
        case unsaid
    }

    /// Whether a response with this status may carry a body (RFC 9110 §6.4.1, §15.3.5, §15.4.5).
    static func allowsBody(_ status: Int) -> Bool {
        status >= 200 && status != 204 && status != 304
    }

    /// The response head: status line, the response's fields (less those this writer owns: framing,
    /// `connection`, and `x-request-id` when `requestID` is given), then `x-request-id`, framing and
    /// `connection`. Fields that would break the message (a name that is not a token, a value with CR, LF
    /// or NUL) are left out and reported to `dropped` by name. `bodyCapacity` bytes of room follow the head.
    static func head(
        _ response: HTTPResponse, requestID: String?, framing: Framing, persistence: Persistence,
        allocator: ByteBufferAllocator, bodyCapacity: Int = 0, dropped: (String) -> Void = { _ in }
    ) -> ByteBuffer {
        let status = min(max(response.status, 100), 999)
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        // Everything but the fields takes at most 95 bytes: the status line's fixed part (15), x-request-id's
        // (16), content-length with 20 digits (38), connection: keep-alive (24) and the blank line (2).
        var size = 100 + reason.utf8.count + (requestID?.utf8.count ?? 0)
        for (name, value) in response.headers { size += name.utf8.count + value.utf8.count + 4 }
        var buffer = allocator.buffer(capacity: size + bodyCapacity)
        // One write into the buffer's memory, not a checked ByteBuffer write per part
        // (docs/adr/0002-http1-responses-written-by-the-server.md).
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { memory in
            var out = ByteCursor(memory)
            out.append("HTTP/1.1 ")
            out.append(decimal: status)
            out.append(" ")
            out.append(reason.utf8)
            out.append("\r\n")
            for (name, value) in response.headers where !isOwned(name, replacingRequestID: requestID != nil) {
                guard isToken(name), isFieldValue(value) else {
                    dropped(name)
                    continue
                }
                out.append(name.utf8)
                out.append(": ")
                out.append(value.utf8)
                out.append("\r\n")
            }
            if let requestID {
                out.append("x-request-id: ")
                out.append(requestID.utf8)
                out.append("\r\n")
            }
            switch framing {
            case .length(let count):
                out.append("content-length: ")
                out.append(decimal: count)
                out.append("\r\n")
            case .chunked:
                out.append("transfer-encoding: chunked\r\n")
            case .none, .untilClose:
                break
            }
            switch persistence {
            case .close: out.append("connection: close\r\n")
            case .keepAlive: out.append("connection: keep-alive\r\n")
            case .unsaid: break
            }
            out.append("\r\n")
            return out.count
        }
        return buffer
    }

    /// `HTTP/1.1 100 Continue`, for a client that waits for it before sending its body.
    static func continueHead(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 25)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        return buffer
    }

    /// One chunk of a chunked body (an empty `bytes` would end the body, so it writes nothing).
    static func chunk(_ bytes: [UInt8], framing: Framing, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard framing == .chunked else {
            var buffer = allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            return buffer
        }
        var buffer = allocator.buffer(capacity: bytes.count + 20)
        guard !bytes.isEmpty else { return buffer }
        buffer.writeString(String(bytes.count, radix: 16))
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// What ends a body framed with `framing`: the last chunk for a chunked one, nothing otherwise.
    static func end(_ framing: Framing, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5)
        if framing == .chunked { buffer.writeStaticString("0\r\n\r\n") }
        return buffer
    }

    /// Fields this writer sets itself from the response it writes.
    private static func isOwned(_ name: String, replacingRequestID: Bool) -> Bool {
        switch name.utf8.count {
        case 10: name == "connection" || name == "keep-alive"
        case 12: replacingRequestID && name == "x-request-id"
        case 14: name == "content-length"
        case 17: name == "transfer-encoding"
        default: false
        }
    }

    /// RFC 9110 §5.6.2: one or more of ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
            default: false
            }
        }
    }

    /// A value that cannot end the field early or smuggle another one: no CR, LF or NUL.
    static func isFieldValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") || $0 == 0 }
    }
}
