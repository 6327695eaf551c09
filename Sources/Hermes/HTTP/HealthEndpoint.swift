import MCP
import HTTP2
package import Routing
package import Store
import Synchronization

/// `GET /healthz`: liveness and readiness in one small JSON document.
///
/// The document is built at most once a second, together with the store probe (a read transaction): a
/// load balancer polling hard costs nothing.
package struct HealthEndpoint: Sendable {
    let store: Store
    let startedAt: ContinuousClock.Instant
    private let cache = Cache()

    private final class Cache: Sendable {
        let last = Mutex<Snapshot?>(nil)
    }

    /// One built document, good until the uptime it reports changes; a class, so reading it under the lock
    /// copies one reference.
    private final class Snapshot: Sendable {
        /// In ``CoarseClock/milliseconds()``.
        let validUntil: Int64
        let response: HTTPResponse

        init(validUntil: Int64, response: HTTPResponse) {
            self.validUntil = validUntil
            self.response = response
        }
    }

    package init(store: Store, startedAt: ContinuousClock.Instant = .now) {
        self.store = store
        self.startedAt = startedAt
    }

    package func register(in router: inout Router) {
        router.addImmediate(.get, "/healthz") { _ in respond() }
    }

    func respond() -> HTTPResponse {
        let now = CoarseClock.milliseconds()
        // One comparison per request; the uptime arithmetic only when the document is rebuilt.
        if let last = cache.last.withLock({ $0 }), now < last.validUntil { return last.response }
        let uptime = ContinuousClock.now - startedAt
        let storeOK = (try? store.read { try $0.contains(.meta, "schema.version") }) == true
        let body = "{\"status\":\"\(storeOK ? "ok" : "degraded")\",\"version\":\"\(HermesVersion.current)\",\"uptime_s\":\(uptime.components.seconds),\"store\":\"\(storeOK ? "ok" : "unavailable")\"}"
        let response = HTTPResponse.json(Array(body.utf8), status: storeOK ? 200 : 503)
        let untilNextSecond = 1000 - CoarseClock.milliseconds(of: uptime) % 1000
        cache.last.withLock { $0 = Snapshot(validUntil: now + untilNextSecond, response: response) }
        return response
    }
}
