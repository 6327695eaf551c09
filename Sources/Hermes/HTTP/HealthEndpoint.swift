public import HTTP2
public import Store

/// `GET /healthz`: liveness and readiness in one small JSON document.
public struct HealthEndpoint: Sendable {
    let store: Store
    let startedAt: ContinuousClock.Instant

    public init(store: Store, startedAt: ContinuousClock.Instant = .now) {
        self.store = store
        self.startedAt = startedAt
    }

    public func register(in router: inout Router) {
        router.get("/healthz") { _ in respond() }
    }

    func respond() -> HTTPResponse {
        let uptime = (ContinuousClock.now - startedAt).components.seconds
        let storeOK = (try? store.read { try $0.contains(.meta, "schema.version") }) != nil
        let body = "{\"status\":\"\(storeOK ? "ok" : "degraded")\",\"version\":\"\(HermesVersion.current)\",\"uptime_s\":\(uptime),\"store\":\"\(storeOK ? "ok" : "unavailable")\"}"
        return .json(Array(body.utf8), status: storeOK ? 200 : 503)
    }
}
