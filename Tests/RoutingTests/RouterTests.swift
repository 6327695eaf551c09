import HTTP2
@testable import Routing
import Logging
import Testing

@Suite("Router")
struct RouterTests {
    func router() -> Router {
        var router = Router()
        router.get("/healthz") { _ in .text("ok") }
        router.get("/api/items/:id") { request in .text("item \(request.parameters["id"] ?? "?")") }
        router.delete("/api/items/:id") { _ in HTTPResponse(status: 204) }
        router.get("/files/*") { request in .text("file \(request.parameters["*"] ?? "")") }
        router.post("/upload", bodyLimit: 10) { request in .text("\(request.body.count)") }
        return router
    }

    @Test func routesByMethodAndPattern() async throws {
        let router = router()
        let item = try await router.respond(to: HTTPRequest(method: .get, path: "/api/items/a%20b"))
        #expect(item.status == 200)
        guard case .bytes(let body) = item.body else { Issue.record("expected bytes"); return }
        #expect(String(decoding: body, as: UTF8.self) == "item a b")
        #expect(try await router.respond(to: HTTPRequest(method: .delete, path: "/api/items/1")).status == 204)
        let file = try await router.respond(to: HTTPRequest(method: .get, path: "/files/a/b/c.txt"))
        guard case .bytes(let fileBody) = file.body else { Issue.record("expected bytes"); return }
        #expect(String(decoding: fileBody, as: UTF8.self) == "file a/b/c.txt")
        #expect(try await router.respond(to: HTTPRequest(method: .head, path: "/healthz")).status == 200)
        #expect(try await router.respond(to: HTTPRequest(method: .get, path: "/healthz/")).status == 200)
    }

    @Test func unknownPathsAre404AndWrongMethods405WithAllow() async throws {
        let router = router()
        #expect(try await router.respond(to: HTTPRequest(method: .get, path: "/nope")).status == 404)
        #expect(try await router.respond(to: HTTPRequest(method: .get, path: "/api/items")).status == 404)
        let wrong = try await router.respond(to: HTTPRequest(method: .post, path: "/api/items/7"))
        #expect(wrong.status == 405)
        #expect(wrong.headers["Allow"] == "GET, DELETE")
    }

    @Test func bodyLimitsArePerRoute() {
        var router = router()
        router.add(.put, "/files", body: .streamed(limit: 1 << 30)) { _ in .text("stored") }
        router.post("/stream", body: .streamed) { _ in .text("stored") }
        #expect(router.lookup(.post, "/upload").bodyPlan(default: 1000) == (10, false))
        #expect(router.lookup(.get, "/healthz").bodyPlan(default: 1000) == (1000, false))
        #expect(router.lookup(.get, "/unknown").bodyPlan(default: 1000) == (1000, false))
        #expect(router.lookup(.put, "/files").bodyPlan(default: 1000) == (1 << 30, true))
        #expect(router.lookup(.post, "/stream").bodyPlan(default: 1000) == (1000, true))
    }

    @Test func collectedBodiesReadAsOneChunk() async throws {
        var chunks: [[UInt8]] = []
        for try await chunk in HTTPRequest(method: .post, path: "/", body: [1, 2, 3]).bodyStream { chunks.append(chunk) }
        #expect(chunks == [[1, 2, 3]])
        var none = 0
        for try await _ in HTTPRequest(method: .post, path: "/").bodyStream { none += 1 }
        #expect(none == 0)
        let collected = try await HTTPRequest(method: .post, path: "/", body: [1, 2, 3]).bodyStream.collect(upTo: 3)
        #expect(collected == [1, 2, 3])
        await #expect(throws: RequestBodyError.tooLarge) {
            try await HTTPRequest(method: .post, path: "/", body: [1, 2, 3]).bodyStream.collect(upTo: 2)
        }
    }

    @Test func middlewareRunsInOrderAndMayAnswerAlone() async throws {
        struct Tag: HTTPMiddleware {
            let name: String
            func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
                if request.headers["x-stop"] == name { return .error(401, "stopped by \(name)") }
                var response = try await next(request)
                response.headers.add("x-trail", name)
                return response
            }
        }
        var router = router()
        router.use(Tag(name: "outer"))
        router.use(Tag(name: "inner"))
        let response = try await router.respond(to: HTTPRequest(method: .get, path: "/healthz"))
        #expect(response.headers.values("x-trail") == ["inner", "outer"])
        let stopped = try await router.respond(to: HTTPRequest(method: .get, path: "/healthz", headers: ["X-Stop": "inner"]))
        #expect(stopped.status == 401)
        #expect(stopped.headers.values("x-trail") == ["outer"])
    }

    /// Immediate routes skip the task only where no middleware applies, whichever was added first, and a
    /// trailing slash that brings a path under a middleware's prefix counts.
    @Test func immediateRoutesAnswerWithoutATaskOnlyOutsideMiddleware() throws {
        struct Refuse: HTTPMiddleware {
            func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse { .error(401, "no") }
        }
        var router = Router()
        router.addImmediate(.get, "/healthz") { _ in .text("ok") }
        router.addImmediate(.get, "/api") { _ in .text("api") }
        router.addImmediate(.get, "/public") { _ in .text("public") }
        router.addImmediate(.get, "/public/:name") { request in .text(request.parameters["name"] ?? "") }
        router.use(Refuse(), on: ["/api"])
        router.use(Refuse(), on: ["/public/"])
        router.addImmediate(.get, "/api/late") { _ in .text("late") }

        #expect(router.lookup(.get, "/healthz").immediate)
        #expect(router.lookup(.get, "/healthz/").immediate)
        #expect(!router.lookup(.get, "/api").immediate)
        #expect(!router.lookup(.get, "/api/late").immediate)
        #expect(router.lookup(.get, "/public").immediate)
        #expect(!router.lookup(.get, "/public/").immediate)
        #expect(!router.lookup(.get, "/public/x").immediate)
        #expect(!router.lookup(.post, "/healthz").immediate)

        let healthz = try #require(try router.lookup(.get, "/healthz").respondImmediately(HTTPRequest(method: .get, path: "/healthz")))
        #expect(healthz.status == 200)
        #expect(try router.lookup(.get, "/api/late").respondImmediately(HTTPRequest(method: .get, path: "/api/late")) == nil)
    }

    /// A lookup made for the head is reused only while the request still has that method and path: a
    /// middleware that rewrites the path gets the route of the new one.
    @Test func aRewrittenPathIsRoutedAgain() async throws {
        struct Rewrite: HTTPMiddleware {
            func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
                var request = request
                request.path = "/files/rewritten"
                return try await next(request)
            }
        }
        var router = router()
        router.use(Rewrite(), on: ["/old"])
        var request = HTTPRequest(method: .get, path: "/old")
        request.route = router.lookup(.get, "/old")
        let response = try await router.respond(to: request)
        guard case .bytes(let body) = response.body else { Issue.record("expected bytes"); return }
        #expect(String(decoding: body, as: UTF8.self) == "file rewritten")
    }

    /// A handler that hands the request to a router of its own gets that router's route, not the one the
    /// server looked up with the outer router.
    @Test(.timeLimit(.minutes(1))) func aNestedRouterRoutesTheRequestItself() async throws {
        let inner = router()
        var outer = Router()
        outer.add(.get, "*") { request in try await inner.respond(to: request) }
        var request = HTTPRequest(method: .get, path: "/healthz")
        request.route = outer.lookup(.get, "/healthz")
        let response = try await outer.respond(to: request)
        guard case .bytes(let body) = response.body else { Issue.record("expected bytes"); return }
        #expect(String(decoding: body, as: UTF8.self) == "ok")
    }

    @Test func queryItemsArePercentDecoded() {
        let request = HTTPRequest(method: .get, path: "/", query: "a=1&b=hello+world&c=%E2%9C%93&d")
        #expect(request.queryValue("b") == "hello world")
        #expect(request.queryValue("c") == "✓")
        #expect(request.queryValue("d") == "")
        #expect(request.queryValue("z") == nil)
    }

    @Test func headersAreCaseInsensitiveAndDescriptionsHideValues() {
        var headers: HTTPHeaders = ["Authorization": "Bearer secret-token", "X-Many": "1"]
        headers.add("x-many", "2")
        #expect(headers["authorization"] == "Bearer secret-token")
        #expect(headers.values("X-MANY") == ["1", "2"])
        #expect(!headers.description.contains("secret-token"))
        headers.set("X-Many", "3")
        #expect(headers.values("x-many") == ["3"])
    }

    @Test func aCopiedRequestChangesAloneAndInPlace() {
        let original = HTTPRequest(method: .get, path: "/a", query: "x=1", headers: ["accept": "text/plain"], body: [1, 2], id: "r-1")
        var copy = original
        copy.path = "/b"
        copy.headers.add("x-extra", "1")
        copy.body.append(3)
        copy.parameters["id"] = "7"
        copy.method = .post
        #expect(original.path == "/a" && original.method == .get && original.body == [1, 2])
        #expect(original.headers.count == 1 && original.parameters.isEmpty)
        #expect(copy.path == "/b" && copy.method == .post && copy.body == [1, 2, 3] && copy.parameters["id"] == "7")
        #expect(copy.headers["x-extra"] == "1" && copy.headers["accept"] == "text/plain" && copy.query == "x=1" && copy.id == "r-1")
        // A request nobody shares changes its fields where they are: no copy of the body per append.
        var alone = HTTPRequest(method: .get, path: "/", body: Array(repeating: 0, count: 64))
        let before = alone.body.withUnsafeBufferPointer { $0.baseAddress }
        alone.body[0] = 1
        #expect(alone.body.withUnsafeBufferPointer { $0.baseAddress } == before)
    }
}
