import CLLHTTP
import Glibc
package import NIOCore
package import NIOHTTP1

/// A request head as ``HTTP1RequestParser`` hands it on, its fields already in the server's own
/// ``HTTPHeaders`` (names lower-cased): nothing is built twice on the way to the router.
package struct HTTP1RequestHead {
    package var method: HTTPMethod
    /// The request target as sent (path and query).
    package var target: String
    /// 1 for HTTP/1.1, 0 for HTTP/1.0 (the parser refuses other versions).
    package var minorVersion: Int
    package var headers: HTTPHeaders
    /// Whether the connection persists after this request (`Connection` and the version, as llhttp reads them).
    package var keepAlive: Bool
    /// Whether the parser stops after this request because it asks to upgrade (see ``HTTP1Upgrade``).
    package var asksToUpgrade: Bool
    /// The head's size as the server's header limit counts it: the target, and each field's name and value
    /// plus 4 bytes.
    package var size: Int
}

/// What ``HTTP1RequestParser`` finds in a connection's bytes, in order.
package enum HTTP1RequestPart {
    case head(HTTP1RequestHead)
    /// Body bytes: a slice of the read they arrived in.
    case body(ByteBuffer)
    case end
}

/// Parses the HTTP/1.1 requests of one connection with llhttp (the parser NIO's own decoder runs, vendored in
/// `CLLHTTP`), called by the connection handler for each read. Why not NIO's decoder stage:
/// docs/adr/0003-llhttp-driven-from-the-connection-handler.md. The errors are NIO's (`HTTPParserError`), and so
/// are the rules: HTTP/1.x only, header fields capped at 80 KB, parsing stops after a request that asks to upgrade
/// (see ``HTTP1Upgrade``), data after `Connection: close` is an error. Package access is for the fuzz harness
/// (FuzzTesting/Sources/FuzzHTTP1Parser).
package final class HTTP1RequestParser {
    /// NIO's caps on one header field and on a whole header block.
    package static let maximumHeaderBytes = 80 * 1024

    private let parser: UnsafeMutablePointer<hermes_llhttp_t>
    private let settings: UnsafeMutablePointer<hermes_llhttp_settings_t>
    /// What one ``parse(_:)`` found, handed on after llhttp returns: delivering from inside its callbacks
    /// would let the handler change the parser while it runs.
    private var parts: [HTTP1RequestPart] = []
    private var url = TokenBytes(capacity: 64)
    private var field = TokenBytes(capacity: 32)
    private var value = TokenBytes(capacity: 128)
    private var headers = HTTPHeaders()
    private var headerBytes = 0
    private var headComplete = false
    /// The read being parsed and where its bytes start in memory (body parts are slices of it).
    private var input: ByteBuffer?
    private var inputStart: UnsafeRawPointer?
    private var failure: HTTPParserError?
    /// Bytes after a request that asked to upgrade: parsed only after ``resume()``, or taken over by the next
    /// protocol with ``takeRemainder()``.
    private var held: ByteBuffer?

    /// Whether parsing stopped after a request that asked to upgrade.
    package var isStopped: Bool { held != nil }

    package init() {
        parser = .allocate(capacity: 1)
        settings = .allocate(capacity: 1)
        hermes_llhttp_settings_init(settings)
        settings.pointee.on_message_begin = { parser in HTTP1RequestParser.of(parser).messageBegan() }
        settings.pointee.on_url = { parser, bytes, count in HTTP1RequestParser.of(parser).append(bytes, count, to: .url) }
        settings.pointee.on_header_field = { parser, bytes, count in HTTP1RequestParser.of(parser).append(bytes, count, to: .field) }
        settings.pointee.on_header_value = { parser, bytes, count in HTTP1RequestParser.of(parser).append(bytes, count, to: .value) }
        settings.pointee.on_header_value_complete = { parser in HTTP1RequestParser.of(parser).fieldComplete() }
        settings.pointee.on_headers_complete = { parser in HTTP1RequestParser.of(parser).headersComplete() }
        settings.pointee.on_body = { parser, bytes, count in HTTP1RequestParser.of(parser).body(bytes, count) }
        settings.pointee.on_message_complete = { parser in HTTP1RequestParser.of(parser).messageComplete() }
        reset()
    }

    deinit {
        parser.deallocate()
        settings.deallocate()
    }

    private static func of(_ parser: UnsafeMutablePointer<hermes_llhttp_t>?) -> HTTP1RequestParser {
        Unmanaged<HTTP1RequestParser>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }

    private func reset() {
        hermes_llhttp_init(parser, CLLHTTP.HTTP_REQUEST, settings)
        // Unretained: the parser belongs to this object and is only run by it.
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Parses a read: the request parts it completes, in order, then the error that stopped it, if any.
    /// After an error nothing more is parsed; after an upgrade request, nothing until ``resume()``.
    package func parse(_ buffer: ByteBuffer) -> (parts: [HTTP1RequestPart], error: HTTPParserError?) {
        guard failure == nil else { return ([], nil) }
        if held != nil {
            held!.writeImmutableBuffer(buffer)
            return ([], nil)
        }
        execute(buffer)
        defer { parts.removeAll(keepingCapacity: true) }
        return (parts, failure)
    }

    /// Parses what was held back after an upgrade request, from a fresh start.
    package func resume() -> (parts: [HTTP1RequestPart], error: HTTPParserError?) {
        guard let rest = held.take() else { return ([], nil) }
        reset()
        return parse(rest)
    }

    /// The bytes held back after an upgrade request, for the protocol that takes the connection over.
    package func takeRemainder() -> ByteBuffer? { held.take() }

    private func execute(_ buffer: ByteBuffer) {
        input = buffer
        defer { input = nil; inputStart = nil }
        let (code, stoppedAt) = buffer.withUnsafeReadableBytes { bytes -> (hermes_llhttp_errno_t, Int) in
            inputStart = bytes.baseAddress
            let code = hermes_llhttp_execute_bytes(parser, bytes.baseAddress, bytes.count)
            guard code == CLLHTTP.HPE_PAUSED_UPGRADE, let base = bytes.baseAddress, let position = hermes_llhttp_get_error_pos(parser) else {
                return (code, bytes.count)
            }
            return (code, UnsafeRawPointer(position) - base)
        }
        switch code {
        case CLLHTTP.HPE_OK:
            break
        case CLLHTTP.HPE_PAUSED_UPGRADE:
            held = buffer.getSlice(at: buffer.readerIndex + stoppedAt, length: buffer.readableBytes - stoppedAt)
                ?? ByteBufferAllocator().buffer(capacity: 0)
        default:
            failure = failure ?? Self.error(code)
        }
    }

    // MARK: llhttp's callbacks (0 goes on, -1 stops with an error)

    private func messageBegan() -> Int32 {
        url.removeAll()
        field.removeAll()
        value.removeAll()
        headers = HTTPHeaders()
        headers.reserveCapacity(12)
        headerBytes = 0
        headComplete = false
        return 0
    }

    private enum Token { case url, field, value }

    private func append(_ bytes: UnsafePointer<CChar>?, _ count: Int, to token: Token) -> Int32 {
        headerBytes += count
        guard headerBytes <= Self.maximumHeaderBytes else {
            failure = .headerOverflow
            return -1
        }
        guard let bytes, count > 0 else { return 0 }
        let chunk = UnsafeBufferPointer(start: UnsafeRawPointer(bytes).assumingMemoryBound(to: UInt8.self), count: count)
        switch token {
        case .url: url.append(contentsOf: chunk)
        case .field: field.append(contentsOf: chunk)
        case .value: value.append(contentsOf: chunk)
        }
        return 0
    }

    private func fieldComplete() -> Int32 {
        // Trailer fields (after a chunked body) are parsed and dropped: nothing here reads them.
        if !headComplete {
            field.lowercase()
            headers.addLowercased(field.withBytes(Self.name), value.withBytes { String(decoding: $0, as: UTF8.self) })
        }
        field.removeAll()
        value.removeAll()
        return 0
    }

    private func headersComplete() -> Int32 {
        headComplete = true
        let major = Int(parser.pointee.http_major), minor = Int(parser.pointee.http_minor)
        guard major == 1 else {
            failure = .invalidVersion
            return -1
        }
        let head = HTTP1RequestHead(
            method: Self.method(parser.pointee.method), target: url.withBytes { String(decoding: $0, as: UTF8.self) }, minorVersion: minor,
            headers: headers, keepAlive: hermes_llhttp_should_keep_alive(parser) != 0,
            // llhttp sets `upgrade` before this callback for exactly the requests it stops after.
            asksToUpgrade: parser.pointee.upgrade != 0,
            size: headerBytes + 4 * headers.count
        )
        headers = HTTPHeaders()
        parts.append(.head(head))
        return 0
    }

    /// Field names most requests carry, as string literals: no allocation for the long ones, no UTF-8
    /// validation for any.
    private static let commonNames: [String] = [
        "host", "accept", "origin", "x-api-key", "connection", "user-agent", "content-type", "authorization",
        "last-event-id", "content-length", "mcp-session-id", "accept-encoding", "accept-language", "x-forwarded-for",
        "transfer-encoding", "mcp-protocol-version",
    ]

    /// The field name in `bytes` (lower-case already): one of ``commonNames`` when it is one.
    private static func name(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for common in commonNames where common.utf8.count == bytes.count {
            let matches = common.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
            if matches == true { return common }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func body(_ bytes: UnsafePointer<CChar>?, _ count: Int) -> Int32 {
        guard let bytes, let inputStart, let input, count > 0 else { return 0 }
        let offset = UnsafeRawPointer(bytes) - inputStart
        if let slice = input.getSlice(at: input.readerIndex + offset, length: count) { parts.append(.body(slice)) }
        return 0
    }

    private func messageComplete() -> Int32 {
        parts.append(.end)
        // As NIO does, for https://github.com/nodejs/llhttp/issues/202.
        parser.pointee.content_length = 0
        return 0
    }

    private static func method(_ code: UInt8) -> HTTPMethod {
        switch hermes_llhttp_method(rawValue: UInt32(code)) {
        case CLLHTTP.HTTP_GET: .get
        case CLLHTTP.HTTP_POST: .post
        case CLLHTTP.HTTP_DELETE: .delete
        case CLLHTTP.HTTP_HEAD: .head
        case CLLHTTP.HTTP_PUT: .put
        case CLLHTTP.HTTP_OPTIONS: .options
        case CLLHTTP.HTTP_PATCH: .patch
        case let other: HTTPMethod(String(cString: hermes_llhttp_method_name(other)))
        }
    }

    /// NIO's mapping of llhttp's error codes (`HTTPParserError.httpError(fromCHTTPParserErrno:)`, internal there).
    private static func error(_ code: hermes_llhttp_errno_t) -> HTTPParserError {
        switch code {
        case CLLHTTP.HPE_INTERNAL: .invalidInternalState
        case CLLHTTP.HPE_STRICT: .strictModeAssertion
        case CLLHTTP.HPE_LF_EXPECTED: .lfExpected
        case CLLHTTP.HPE_UNEXPECTED_CONTENT_LENGTH: .unexpectedContentLength
        case CLLHTTP.HPE_CLOSED_CONNECTION: .closedConnection
        case CLLHTTP.HPE_INVALID_METHOD: .invalidMethod
        case CLLHTTP.HPE_INVALID_URL: .invalidURL
        case CLLHTTP.HPE_INVALID_CONSTANT: .invalidConstant
        case CLLHTTP.HPE_INVALID_VERSION: .invalidVersion
        case CLLHTTP.HPE_INVALID_HEADER_TOKEN, CLLHTTP.HPE_UNEXPECTED_SPACE: .invalidHeaderToken
        case CLLHTTP.HPE_INVALID_CONTENT_LENGTH: .invalidContentLength
        case CLLHTTP.HPE_INVALID_CHUNK_SIZE: .invalidChunkSize
        case CLLHTTP.HPE_INVALID_STATUS: .invalidStatus
        case CLLHTTP.HPE_INVALID_EOF_STATE: .invalidEOFState
        default: .unknown
        }
    }
}

/// A token's bytes while llhttp hands them over in pieces; a raw buffer emptied and reused for the next token (an
/// `Array` cost more: docs/adr/0003-llhttp-driven-from-the-connection-handler.md).
private struct TokenBytes: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int
    private let initialCapacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        initialCapacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        if count + bytes.count > capacity {
            let larger = max(count + bytes.count, capacity * 2)
            let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
            moved.initialize(from: base, count: count)
            base.deallocate()
            base = moved
            capacity = larger
        }
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    /// Empties the buffer; one grown past 4 KiB by a large token goes back to its first size, so a connection
    /// that once sent a large field does not keep the memory for the rest of its life.
    mutating func removeAll() {
        count = 0
        guard capacity > 4096 else { return }
        base.deallocate()
        base = .allocate(capacity: initialCapacity)
        capacity = initialCapacity
    }

    /// ASCII upper-case letters to lower-case, in place (field names are case-insensitive tokens).
    mutating func lowercase() {
        for index in 0..<count where base[index] &- UInt8(ascii: "A") < 26 { base[index] |= 0x20 }
    }

    func withBytes<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        body(UnsafeBufferPointer(start: base, count: count))
    }
}
