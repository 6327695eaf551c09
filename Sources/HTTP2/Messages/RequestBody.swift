/// How a route takes its request body: collected into ``HTTPRequest/body`` before the handler runs, or
/// streamed to a handler that starts as soon as the head has arrived and reads ``HTTPRequest/bodyStream``.
///
/// ```swift
/// router.add(.post, "/files", body: .streamed(limit: 1 << 30)) { request in
///     var count = 0
///     for try await chunk in request.bodyStream { count += chunk.count }
///     return .text("stored \(count) bytes")
/// }
/// ```
public struct RequestBodyMode: Sendable, Equatable {
    /// Whether the body is handed over while it arrives.
    public let isStreamed: Bool
    /// Bytes allowed (413 beyond); nil means the server's ``HTTPServerConfiguration/Limits/defaultBodyBytes``.
    public let limit: Int?

    /// The whole body in ``HTTPRequest/body``, up to the server's default limit.
    public static let collected = RequestBodyMode(isStreamed: false, limit: nil)

    /// The whole body in ``HTTPRequest/body``, up to `limit` bytes.
    public static func collected(limit: Int) -> RequestBodyMode { RequestBodyMode(isStreamed: false, limit: limit) }

    /// The body as it arrives, in ``HTTPRequest/bodyStream``, up to the server's default limit.
    public static let streamed = RequestBodyMode(isStreamed: true, limit: nil)

    /// The body as it arrives, in ``HTTPRequest/bodyStream``, up to `limit` bytes in all.
    ///
    /// The server holds only a small window of it at a time: it stops reading from the client (HTTP/1.1) or
    /// withholds flow-control credit (HTTP/2) until the handler has taken what arrived.
    public static func streamed(limit: Int) -> RequestBodyMode { RequestBodyMode(isStreamed: true, limit: limit) }
}

/// Why a streamed request body ended before its last byte.
///
/// Compare with the named values (`error == .tooLarge`); ``description`` says what happened and what to do.
/// A handler that lets it escape gets the fitting answer: 413 for ``tooLarge``, 408 for ``timedOut``; for the
/// others the client is gone and nothing is sent.
public struct RequestBodyError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case clientReset, connectionClosed, tooLarge, timedOut, cancelled
    }

    private let code: Code
    /// The route's body limit, for ``tooLarge``.
    public let limit: Int?
    /// How long the server waited for body bytes, for ``timedOut``.
    public let waited: Duration?

    private init(_ code: Code, limit: Int? = nil, waited: Duration? = nil) {
        self.code = code
        self.limit = limit
        self.waited = waited
    }

    /// The client reset the HTTP/2 stream (RST_STREAM) before the body ended.
    public static let clientReset = RequestBodyError(.clientReset)
    /// The connection closed before the body ended (the client went away, or the request was malformed).
    public static let connectionClosed = RequestBodyError(.connectionClosed)
    /// The body grew past the route's limit.
    public static let tooLarge = RequestBodyError(.tooLarge)
    /// No body bytes arrived for the request timeout while the server was waiting for them.
    public static let timedOut = RequestBodyError(.timedOut)
    /// The task reading the body was cancelled (the server is shutting down or the request was abandoned).
    public static let cancelled = RequestBodyError(.cancelled)

    static func tooLarge(limit: Int) -> RequestBodyError { RequestBodyError(.tooLarge, limit: limit) }
    static func timedOut(after waited: Duration) -> RequestBodyError { RequestBodyError(.timedOut, waited: waited) }

    /// Equal when the kind matches; the limit and wait are details.
    public static func == (lhs: RequestBodyError, rhs: RequestBodyError) -> Bool { lhs.code == rhs.code }

    public var description: String {
        switch code {
        case .clientReset:
            "the client reset the stream before the request body ended; the body is incomplete"
        case .connectionClosed:
            "the connection closed before the request body ended; the body is incomplete"
        case .tooLarge:
            limit.map(LimitMessage.bodyTooLarge) ?? "the request body exceeds the limit for this endpoint; send a smaller body"
        case .timedOut:
            "no request body bytes arrived within \(waited.map { "\($0)" } ?? "the request timeout"); send the body faster"
        case .cancelled:
            "reading the request body was cancelled (the server is shutting down or the request was abandoned)"
        }
    }
}

/// A request body as an asynchronous sequence of byte chunks; the sequence ends after the last byte and
/// throws a ``RequestBodyError`` when the body cannot be completed.
///
/// For routes with a streamed body the chunks arrive while the client sends, and reading them is what lets
/// the client send more. The sequence can be iterated once; a handler that returns without reading it
/// all leaves the rest to the server, which discards it. For collected bodies it yields
/// ``HTTPRequest/body`` as one chunk, so a handler can be written once for both.
public struct RequestBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = RequestBodyError

    enum Source: Sendable {
        case bytes([UInt8])
        case streamed(RequestBodyBuffer)
    }

    let source: Source

    init(_ source: Source) {
        self.source = source
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .bytes(let bytes): AsyncIterator(bytes: bytes.isEmpty ? nil : bytes, buffer: nil)
        case .streamed(let buffer): AsyncIterator(bytes: nil, buffer: buffer)
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = [UInt8]
        public typealias Failure = RequestBodyError

        private var bytes: [UInt8]?
        private let buffer: RequestBodyBuffer?

        init(bytes: [UInt8]?, buffer: RequestBodyBuffer?) {
            self.bytes = bytes
            self.buffer = buffer
        }

        /// The next chunk, nil after the last.
        public mutating func next() async throws(RequestBodyError) -> [UInt8]? {
            if let buffer { return try await buffer.next() }
            defer { bytes = nil }
            return bytes
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(RequestBodyError) -> [UInt8]? {
            if let buffer { return try await buffer.next() }
            defer { bytes = nil }
            return bytes
        }
    }

    /// Reads the rest of the body into one array; throws ``RequestBodyError/tooLarge`` past `limit` bytes.
    public func collect(upTo limit: Int) async throws(RequestBodyError) -> [UInt8] {
        var collected: [UInt8] = []
        var iterator = makeAsyncIterator()
        while let chunk = try await iterator.next() {
            guard collected.count + chunk.count <= limit else { throw .tooLarge(limit: limit) }
            collected.append(contentsOf: chunk)
        }
        return collected
    }
}
