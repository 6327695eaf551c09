public import HTTP2
public import Store
import Synchronization

/// `GET /healthz`: liveness and readiness in one small JSON document.
///
/// The document is built at most once a second, together with the store probe (a read transaction): a
/// load balancer polling hard costs nothing.
public struct HealthEndpoint: Sendable {
    let store: Store
    let startedAt: ContinuousClock.Instant
    private let cache = Cache()

    private final class Cache: Sendable {
        let last = Mutex<Snapshot?>(nil)
    }

    /// One built document; a class, so reading it under the lock copies one reference.
    private final class Snapshot: Sendable {
        let at: ContinuousClock.Instant
        let uptime: Int64
        let response: HTTPResponse

        init(at: ContinuousClock.Instant, uptime: Int64, response: HTTPResponse) {
            self.at = at
            self.uptime = uptime
            self.response = response
        }
    }

    public init(store: Store, startedAt: ContinuousClock.Instant = .now) {
        self.store = store
        self.startedAt = startedAt
    }

    public func register(in router: inout Router) {
        router.addImmediate(.get, "/healthz") { _ in respond() }
    }

    func respond() -> HTTPResponse {
        let now = ContinuousClock.now
        let uptime = (now - startedAt).components.seconds
        if let last = cache.last.withLock({ $0 }), last.uptime == uptime, now - last.at < .seconds(1) { return last.response }
        let storeOK = (try? store.read { try $0.contains(.meta, "schema.version") }) == true
        let body = "{\"status\":\"\(storeOK ? "ok" : "degraded")\",\"version\":\"\(HermesVersion.current)\",\"uptime_s\":\(uptime),\"store\":\"\(storeOK ? "ok" : "unavailable")\"}"
        let response = HTTPResponse.json(Array(body.utf8), status: storeOK ? 200 : 503)
        let snapshot = Snapshot(at: now, uptime: uptime, response: response)
        cache.last.withLock { $0 = snapshot }
        return response
    }
}
