import JSON
/// Writes a streamed response body. `write` suspends while the client is not reading (HTTP/2 flow control,
/// HTTP/1.1 socket writability), so a slow reader never makes the server buffer without bound; it throws
/// once the client has gone or the server is shutting down.
public protocol ResponseBodyWriter: Sendable {
    func write(_ bytes: [UInt8]) async throws
}

extension ResponseBodyWriter {
    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }
}

/// A response body: bytes known up front, or chunks produced while the response is sent (server-sent events).
public enum ResponseBody: Sendable {
    case bytes([UInt8])
    /// Called once the head is sent; the body ends when the closure returns.
    case stream(@Sendable (any ResponseBodyWriter) async throws -> Void)
}

/// A response: status, headers and body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: ResponseBody
    /// Runs once a byte body's response has been handed to the socket, or could not be (the connection
    /// ended): for work whose result must not reach the client before this response does (a legacy SSE
    /// POST's 202 before its answer on the event stream).
    public var whenSent: (@Sendable () -> Void)?

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: ResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a UTF-8 text body.
    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: .bytes(Array(text.utf8)))
    }

    /// A response with a JSON body given as already-encoded bytes.
    public static func json(_ bytes: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: jsonHeaders, body: .bytes(bytes))
    }

    /// Built once: a header literal is an array built, and later destroyed, on every response.
    private static let jsonHeaders: HTTPHeaders = ["content-type": "application/json"]

    /// A JSON error body `{"error":{"status":…,"message":"…"}}` with a message a person can act on.
    public static func error(_ status: Int, _ message: String, headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var response = json(Array("{\"error\":{\"status\":\(status),\"message\":\(JSONWriter.quote(message))}}".utf8), status: status)
        for (name, value) in extra { response.headers.add(name, value) }
        return response
    }
}

/// Thrown by a handler to answer with an error status and message.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var headers: HTTPHeaders

    public init(_ status: Int, _ message: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var description: String { "HTTP \(status): \(message)" }
}
