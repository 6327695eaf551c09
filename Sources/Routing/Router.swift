public import HTTP2

/// A step in front of every handler (authentication, metering, CORS, ...). Call `next` to go on, or answer
/// without it to stop the request there.
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse
}

/// Routes by method and path pattern. Patterns are `/`-separated segments: literal text, `:name` (one
/// segment, captured into ``HTTPRequest/parameters``) or a final `*` (the rest of the path, captured as `*`).
///
/// Build it once, then hand it to the server; it is immutable while serving.
public struct Router: HTTPResponder {
    /// A class so that a lookup passes one reference around rather than copying closures and segments.
    final class Route: Sendable {
        let method: HTTPMethod
        let segments: [Segment]
        let body: RequestBodyMode
        let handler: HTTPHandler
        let immediate: ImmediateHTTPHandler?

        init(method: HTTPMethod, segments: [Segment], body: RequestBodyMode, handler: @escaping HTTPHandler, immediate: ImmediateHTTPHandler?) {
            self.method = method
            self.segments = segments
            self.body = body
            self.handler = handler
            self.immediate = immediate
        }
    }

    struct ScopedMiddleware: Sendable {
        let step: any HTTPMiddleware
        /// Path prefixes it applies to, each as given and ending in `/` (built once: this runs per request).
        let prefixes: [(exact: String, directory: String)]

        init(step: any HTTPMiddleware, prefixes: [String]) {
            self.step = step
            self.prefixes = prefixes.map { ($0, $0.hasSuffix("/") ? $0 : $0 + "/") }
        }

        func applies(to path: String) -> Bool {
            prefixes.isEmpty || prefixes.contains { path == $0.exact || path.utf8.starts(with: $0.directory.utf8) }
        }
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        case rest
    }

    /// Routes without parameters by path, with whether any middleware applies to that path (worked out
    /// when routes or middleware are added, not per request).
    private var exact: [String: (routes: [Route], middlewareFree: Bool)] = [:]
    private var patterns: [Route] = []
    private var middleware: [ScopedMiddleware] = []
    /// Which router (and which version of it) a ``RouteLookup`` came from: renewed by every change, so a
    /// lookup is reused only by the router value that made it, never by another router the request passes
    /// through (a handler may hand the request to a router of its own).
    private var version = Version()

    final class Version: Sendable {}

    public init() {}

    /// Adds a route. `bodyLimit` overrides the server's default request-body limit for it (413 beyond).
    public mutating func add(_ method: HTTPMethod, _ pattern: String, bodyLimit: Int? = nil, _ handler: @escaping HTTPHandler) {
        add(method, pattern, body: bodyLimit.map { .collected(limit: $0) } ?? .collected, handler)
    }

    /// Adds a route that takes its body as `body` says: collected before the handler runs, or streamed to a
    /// handler that starts once the head has arrived and reads ``HTTPRequest/bodyStream``.
    ///
    /// ```swift
    /// router.add(.put, "/files/:name", body: .streamed(limit: 1 << 30)) { request in
    ///     for try await chunk in request.bodyStream { try await file.write(chunk) }
    ///     return HTTPResponse(status: 201)
    /// }
    /// ```
    public mutating func add(_ method: HTTPMethod, _ pattern: String, body: RequestBodyMode, _ handler: @escaping HTTPHandler) {
        insert(Route(method: method, segments: Self.parse(pattern), body: body, handler: handler, immediate: nil), pattern)
    }

    /// Adds a route whose handler never suspends; see ``ImmediateHTTPHandler``.
    public mutating func addImmediate(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping ImmediateHTTPHandler) {
        let route = Route(method: method, segments: Self.parse(pattern), body: .collected, handler: { try handler($0) }, immediate: handler)
        insert(route, pattern)
    }

    private mutating func insert(_ route: Route, _ pattern: String) {
        version = Version()
        let segments = route.segments
        if segments.allSatisfy({ if case .literal = $0 { true } else { false } }) {
            let path = Self.normalized(pattern)
            exact[path, default: ([], !middleware.contains { $0.applies(to: path) })].routes.append(route)
        } else {
            patterns.append(route)
        }
    }

    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.get, pattern, handler) }
    public mutating func post(_ pattern: String, bodyLimit: Int? = nil, _ handler: @escaping HTTPHandler) {
        add(.post, pattern, bodyLimit: bodyLimit, handler)
    }
    public mutating func post(_ pattern: String, body: RequestBodyMode, _ handler: @escaping HTTPHandler) {
        add(.post, pattern, body: body, handler)
    }
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.delete, pattern, handler) }

    /// Adds a middleware for every path, or only for paths under the given prefixes (`"/api"` covers
    /// `/api` and `/api/…`); the first added runs first.
    public mutating func use(_ step: any HTTPMiddleware, on prefixes: [String] = []) {
        version = Version()
        let scoped = ScopedMiddleware(step: step, prefixes: prefixes)
        middleware.append(scoped)
        for path in exact.keys where scoped.applies(to: path) { exact[path]?.middlewareFree = false }
    }

    /// What a method and path resolve to.
    enum Resolution: Sendable {
        case found(Route, parameters: [String: String])
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    /// The resolution, and for a path with an exact entry whether no middleware applies to it.
    private func resolveScoped(_ method: HTTPMethod, _ path: String) -> (resolution: Resolution, middlewareFree: Bool?) {
        let key = Self.normalized(path)
        if let entry = exact[key] {
            // A trailing slash can change which middleware applies, so only the path as registered uses the flag.
            let middlewareFree = key.utf8.count == path.utf8.count ? entry.middlewareFree : nil
            // The common case, without building a candidate list.
            for route in entry.routes where route.method == method { return (.found(route, parameters: RouteLookup.noParameters), middlewareFree) }
            return (Self.choose(method, entry.routes.map { ($0, RouteLookup.noParameters) }), middlewareFree)
        }
        let parts = Self.split(path)
        return (Self.choose(method, patterns.compactMap { route in Self.match(route.segments, parts).map { (route, $0) } }), nil)
    }

    private static func choose(_ method: HTTPMethod, _ candidates: [(Route, [String: String])]) -> Resolution {
        guard !candidates.isEmpty else { return .notFound }
        if let hit = candidates.first(where: { $0.0.method == method })
            ?? (method == .head ? candidates.first(where: { $0.0.method == .get }) : nil)
        {
            return .found(hit.0, parameters: hit.1)
        }
        var allowed: [HTTPMethod] = []
        for (route, _) in candidates where !allowed.contains(route.method) { allowed.append(route.method) }
        return .methodNotAllowed(allowed: allowed)
    }

    /// Looks a request head up once; the connection keeps the result on the request, so the body plan,
    /// the immediate path and the handler do not resolve it again.
    public func lookup(_ method: HTTPMethod, _ path: String) -> RouteLookup {
        routerLookup(method, path)
    }

    private func routerLookup(_ method: HTTPMethod, _ path: String) -> RouterLookup {
        let (resolution, middlewareFree) = resolveScoped(method, path)
        var immediate = false
        if case .found(let route, _) = resolution, route.immediate != nil {
            immediate = middlewareFree ?? !middleware.contains { $0.applies(to: path) }
        }
        return RouterLookup(router: version, method: method, path: path, resolution: resolution, immediate: immediate)
    }

    /// The lookup this router made for the request's head, or a new one when there is none, another router
    /// made it, or a middleware changed the method or path since.
    private func lookup(for request: HTTPRequest) -> RouterLookup {
        // Only this router's lookups have it as their owner, so the downcast cannot fail.
        if let known = request.route, known.owner === version, known.method == request.method, known.path == request.path {
            return unsafeDowncast(known, to: RouterLookup.self)
        }
        return routerLookup(request.method, request.path)
    }

    /// Runs the request through the middleware and its route; 404 and 405 (with `Allow`) when none fits.
    public func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        try await respond(request, arrivedAt: request.path, from: 0)
    }

    /// The middleware from `index` on that applies to `path` (the path the request arrived with), then the
    /// route. Each step's `next` is a closure that lives only for the call, so passing a request down the
    /// chain allocates nothing.
    private func respond(_ request: HTTPRequest, arrivedAt path: String, from index: Int) async throws -> HTTPResponse {
        var index = index
        while index < middleware.count {
            let scoped = middleware[index]
            index += 1
            guard scoped.applies(to: path) else { continue }
            let rest = index
            return try await scoped.step.handle(request) { request in try await respond(request, arrivedAt: path, from: rest) }
        }
        return try await respondWithRoute(request)
    }

    private func respondWithRoute(_ request: HTTPRequest) async throws -> HTTPResponse {
        switch lookup(for: request).resolution {
        case .found(let route, let parameters):
            guard !parameters.isEmpty else { return try await route.handler(request) }
            var request = request
            request.parameters = parameters
            return try await route.handler(request)
        case .methodNotAllowed(let allowed):
            let list = allowed.map(\.rawValue).joined(separator: ", ")
            return .error(405, "\(request.method) is not allowed on \(request.path); use \(list)", headers: ["allow": list])
        case .notFound:
            return .error(404, "nothing is served at \(request.path)")
        }
    }

    static func parse(_ pattern: String) -> [Segment] {
        split(pattern).map { part in
            if part == "*" { return .rest }
            if part.hasPrefix(":") { return .parameter(String(part.dropFirst())) }
            return .literal(part)
        }
    }

    static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    static func normalized(_ path: String) -> String {
        guard path.utf8.count > 1, path.utf8.last == UInt8(ascii: "/") else { return path }
        return String(path.dropLast())
    }

    static func match(_ segments: [Segment], _ parts: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .rest:
                parameters["*"] = parts[min(index, parts.count)...].joined(separator: "/")
                return parameters
            case .literal(let text):
                guard index < parts.count, parts[index] == text else { return nil }
            case .parameter(let name):
                guard index < parts.count else { return nil }
                parameters[name] = FormEncoding.percentDecode(Substring(parts[index]), plusIsSpace: false)
            }
        }
        return parts.count == segments.count ? parameters : nil
    }
}

/// The router's lookup for a request head: the server's ``RouteLookup`` plus what the router resolved, so
/// the router reuses it for the request instead of resolving the path again.
final class RouterLookup: RouteLookup, @unchecked Sendable {
    let resolution: Router.Resolution

    init(router: Router.Version, method: HTTPMethod, path: String, resolution: Router.Resolution, immediate: Bool) {
        self.resolution = resolution
        var body: RequestBodyMode? = nil
        var immediateHandler: ImmediateHTTPHandler? = nil
        var immediateParameters = RouteLookup.noParameters
        if case .found(let route, let parameters) = resolution {
            body = route.body
            if immediate, let handler = route.immediate {
                immediateHandler = handler
                immediateParameters = parameters
            }
        }
        super.init(
            owner: router, method: method, path: path, body: body,
            immediateHandler: immediateHandler, immediateParameters: immediateParameters
        )
    }
}
