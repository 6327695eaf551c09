public import HTTP2
public import Store
import Synchronization

/// `GET /healthz`: liveness and readiness in one small JSON document.
///
/// The store probe (a read transaction) runs at most once a second; a load balancer polling hard costs nothing.
public struct HealthEndpoint: Sendable {
    let store: Store
    let startedAt: ContinuousClock.Instant
    private let probe = Probe()

    private final class Probe: Sendable {
        let last = Mutex<(at: ContinuousClock.Instant, ok: Bool)?>(nil)
    }

    public init(store: Store, startedAt: ContinuousClock.Instant = .now) {
        self.store = store
        self.startedAt = startedAt
    }

    private func storeIsReadable(now: ContinuousClock.Instant) -> Bool {
        if let last = probe.last.withLock({ $0 }), now - last.at < .seconds(1) { return last.ok }
        let ok = (try? store.read { try $0.contains(.meta, "schema.version") }) == true
        probe.last.withLock { $0 = (now, ok) }
        return ok
    }

    public func register(in router: inout Router) {
        router.addImmediate(.get, "/healthz") { _ in respond() }
    }

    func respond() -> HTTPResponse {
        let now = ContinuousClock.now
        let uptime = (now - startedAt).components.seconds
        let storeOK = storeIsReadable(now: now)
        let body = "{\"status\":\"\(storeOK ? "ok" : "degraded")\",\"version\":\"\(HermesVersion.current)\",\"uptime_s\":\(uptime),\"store\":\"\(storeOK ? "ok" : "unavailable")\"}"
        return .json(Array(body.utf8), status: storeOK ? 200 : 503)
    }
}
