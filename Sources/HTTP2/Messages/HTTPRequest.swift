/// The HTTP version a request arrived over.
public enum HTTPProtocolVersion: String, Sendable {
    case http1_1 = "HTTP/1.1"
    case http2 = "HTTP/2"
}

/// A request method; any token is allowed, the common ones have names.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let get = HTTPMethod("GET")
    public static let head = HTTPMethod("HEAD")
    public static let post = HTTPMethod("POST")
    public static let put = HTTPMethod("PUT")
    public static let patch = HTTPMethod("PATCH")
    public static let delete = HTTPMethod("DELETE")
    public static let options = HTTPMethod("OPTIONS")
    public static let connect = HTTPMethod("CONNECT")
}

/// A request: the head, plus the body collected up to the route's limit or, on routes that stream it
/// (``RequestBodyMode/streamed``), read while it arrives from ``bodyStream``.
///
/// A value type whose fields live in one shared, copy-on-write object: handing a request on costs one reference count
/// (docs/adr/0015-per-request-values-as-one-reference.md).
public struct HTTPRequest: Sendable {
    private var storage: RequestStorage

    /// The storage, first copied if another request value shares it.
    private var mutableStorage: RequestStorage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            return storage
        }
    }

    public var method: HTTPMethod {
        get { storage.method }
        set { mutableStorage.method = newValue }
    }
    /// The path without the query, as sent (percent-encoding kept).
    public var path: String {
        get { storage.path }
        set { mutableStorage.path = newValue }
    }
    /// The raw query string after `?`, if any.
    public var query: String? {
        get { storage.query }
        set { mutableStorage.query = newValue }
    }
    public var headers: HTTPHeaders {
        get { storage.headers }
        _modify { yield &mutableStorage.headers }
    }
    /// The collected body; empty on routes that stream it (read ``bodyStream`` there).
    public var body: [UInt8] {
        get { storage.body }
        _modify { yield &mutableStorage.body }
    }
    /// The peer's address, e.g. "127.0.0.1:51234".
    public var remoteAddress: String? {
        get { storage.remoteAddress }
        set { mutableStorage.remoteAddress = newValue }
    }
    /// ``remoteAddress`` without its port, e.g. "127.0.0.1" or "::1": the same for every connection a client
    /// opens, so the key for per-client limits.
    public var remoteHost: String? { remoteAddress.map(TrustedProxies.hostPart) }
    public var protocolVersion: HTTPProtocolVersion {
        get { storage.protocolVersion }
        set { mutableStorage.protocolVersion = newValue }
    }
    /// A per-request id for logs and tracing (also sent back as `x-request-id`).
    public var id: String {
        get { storage.id }
        set { mutableStorage.id = newValue }
    }
    /// Values of the route's `:name` segments.
    public var parameters: [String: String] {
        get { storage.parameters }
        _modify { yield &mutableStorage.parameters }
    }
    /// The body still arriving, on routes that stream it.
    var streamedBody: RequestBodyBuffer? {
        get { storage.streamedBody }
        set { mutableStorage.streamedBody = newValue }
    }
    /// The route found for the head, reused by the responder (see ``HTTPResponder/lookup(_:_:)``).
    package var route: RouteLookup? {
        get { storage.route }
        set { mutableStorage.route = newValue }
    }

    public init(
        method: HTTPMethod,
        path: String,
        query: String? = nil,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        remoteAddress: String? = nil,
        protocolVersion: HTTPProtocolVersion = .http1_1,
        id: String = ""
    ) {
        self.init(
            method: method, path: path, query: query, headers: headers, body: body, remoteAddress: remoteAddress,
            protocolVersion: protocolVersion, id: id, streamedBody: nil, route: nil
        )
    }

    /// A request as a connection hands it to the router: with its body stream (if the route streams it)
    /// and the route its head was looked up to.
    init(
        method: HTTPMethod, path: String, query: String?, headers: HTTPHeaders, body: [UInt8], remoteAddress: String?,
        protocolVersion: HTTPProtocolVersion, id: String, streamedBody: RequestBodyBuffer?, route: RouteLookup?
    ) {
        storage = RequestStorage(
            method: method, path: path, query: query, headers: headers, body: body, remoteAddress: remoteAddress,
            protocolVersion: protocolVersion, id: id, parameters: RouteLookup.noParameters, streamedBody: streamedBody, route: route
        )
    }

    /// A request whose fields are already in `storage`: an HTTP/2 stream is the storage of its own request.
    init(storage: RequestStorage) {
        self.storage = storage
    }

    /// Splits a request target (`/a/b?x=1`) into path and query.
    public static func split(target: String) -> (path: String, query: String?) {
        let bytes = target.utf8
        guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")) else { return (target, nil) }
        return (String(target[..<mark]), String(target[bytes.index(after: mark)...]))
    }

    /// Query parameters, percent-decoded (`+` as space), in order.
    public var queryItems: [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return FormEncoding.decode(query)
    }

    /// The first query parameter named `name`.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The body as a sequence of chunks: on streamed routes as it arrives (once), otherwise ``body`` in one chunk.
    public var bodyStream: RequestBodyStream {
        RequestBodyStream(streamedBody.map { .streamed($0) } ?? .bytes(body))
    }

    /// Whether the body is streamed (read it from ``bodyStream``) rather than collected into ``body``.
    public var isBodyStreamed: Bool { streamedBody != nil }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// The fields of an ``HTTPRequest``. Shared between copies of a request until one of them changes a field
/// (see `mutableStorage`); a storage object's fields are never changed while a request value refers to it,
/// which is what makes it `Sendable`.
///
/// Not final: an HTTP/2 stream is a subclass and the storage of its own request; its request fields are written only
/// before dispatch, its own fields stay the connection's (docs/adr/0015-per-request-values-as-one-reference.md).
class RequestStorage: @unchecked Sendable {
    final var method: HTTPMethod
    final var path: String
    final var query: String?
    final var headers: HTTPHeaders
    final var body: [UInt8]
    final var remoteAddress: String?
    final var protocolVersion: HTTPProtocolVersion
    final var id: String
    final var parameters: [String: String]
    final var streamedBody: RequestBodyBuffer?
    final var route: RouteLookup?

    init(
        method: HTTPMethod, path: String, query: String?, headers: HTTPHeaders, body: [UInt8], remoteAddress: String?,
        protocolVersion: HTTPProtocolVersion, id: String, parameters: [String: String], streamedBody: RequestBodyBuffer?, route: RouteLookup?
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.protocolVersion = protocolVersion
        self.id = id
        self.parameters = parameters
        self.streamedBody = streamedBody
        self.route = route
    }

    /// A plain copy (never a stream), for a request value about to change a field.
    final func copy() -> RequestStorage {
        RequestStorage(
            method: method, path: path, query: query, headers: headers, body: body, remoteAddress: remoteAddress,
            protocolVersion: protocolVersion, id: id, parameters: parameters, streamedBody: streamedBody, route: route
        )
    }
}
