/// Handles one request.
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// Handles one request without suspending (health checks, metadata documents). The server answers such
/// routes on the connection's event loop directly, without starting a task.
public typealias ImmediateHTTPHandler = @Sendable (HTTPRequest) throws -> HTTPResponse

/// What answers the server's requests; in this package, the `Routing` module's `Router`.
///
/// The server asks ``lookup(_:_:)`` once per request head, before reading the body (the lookup says how to
/// take it), keeps the lookup on the request (``HTTPRequest`` carries it to ``respond(to:)``), and answers
/// an immediate route on the event loop without a task.
public protocol HTTPResponder: Sendable {
    /// The route for a request head.
    func lookup(_ method: HTTPMethod, _ path: String) -> RouteLookup

    /// The response for a request whose head was looked up with ``lookup(_:_:)``.
    func respond(to request: HTTPRequest) async throws -> HTTPResponse
}

/// A request head's route as the responder found it: how the body is taken, and the handler that answers
/// without a task when there is one. A class, shared by the requests of a connection that repeat it
/// (docs/adr/0015-per-request-values-as-one-reference.md); responders subclass it to keep what they resolved.
///
/// `@unchecked Sendable`: every field is a constant set in `init`; subclasses must keep it so.
open class RouteLookup: @unchecked Sendable {
    /// The responder that made the lookup (identity only), so it can tell its own lookups from others'.
    public final let owner: AnyObject?
    public final let method: HTTPMethod
    public final let path: String
    /// How the body is taken; nil when no route serves the head (collected up to the server's default,
    /// then answered 404 or 405).
    public final let body: RequestBodyMode?
    /// The handler of a route that answers without a task, and the path's parameters.
    public final let immediateHandler: ImmediateHTTPHandler?
    public final let immediateParameters: [String: String]

    /// `Dictionary()` rather than `[:]`: the literal is an out-of-line call on every request.
    public static let noParameters = [String: String]()

    public init(
        owner: AnyObject?, method: HTTPMethod, path: String, body: RequestBodyMode?,
        immediateHandler: ImmediateHTTPHandler? = nil, immediateParameters: [String: String] = RouteLookup.noParameters
    ) {
        self.owner = owner
        self.method = method
        self.path = path
        self.body = body
        self.immediateHandler = immediateHandler
        self.immediateParameters = immediateParameters
    }

    /// The route answers without a task.
    public final var immediate: Bool { immediateHandler != nil }

    /// How the request's body is taken and its limit, decided from its head before the body is read.
    package final func bodyPlan(default fallback: Int) -> (limit: Int, streamed: Bool) {
        guard let body else { return (fallback, false) }
        return (body.limit ?? fallback, body.isStreamed)
    }

    /// The response of an immediate route; nil when the request needs the asynchronous path.
    public final func respondImmediately(_ request: HTTPRequest) throws -> HTTPResponse? {
        guard let immediateHandler else { return nil }
        guard !immediateParameters.isEmpty else { return try immediateHandler(request) }
        var request = request
        request.parameters = immediateParameters
        return try immediateHandler(request)
    }
}
