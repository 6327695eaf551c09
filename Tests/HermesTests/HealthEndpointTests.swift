@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import HTTP2
import JSON
import Testing

@Suite("Health endpoint")
struct HealthEndpointTests {
    /// The document reports whole seconds of uptime and the store's state; it is built once and handed out
    /// again until its uptime second is over, then rebuilt.
    @Test func reportsUptimeAndStoreAndIsRebuiltEachSecond() async throws {
        let store = try temporaryStore()
        let health = HealthEndpoint(store: store, startedAt: .now - .milliseconds(5_600))
        let first = health.respond()
        #expect(first.status == 200)
        let document = try JSONParser.parse(Self.body(first))
        #expect(document["status"] == .string("ok"))
        #expect(document["store"] == .string("ok"))
        #expect(document["version"] == .string(HermesVersion.current))
        #expect(document["uptime_s"] == .integer(5))

        #expect(Self.body(health.respond()) == Self.body(first), "within the same second the document is reused")
        try await Task.sleep(for: .milliseconds(500))
        guard case .integer(let later)? = try JSONParser.parse(Self.body(health.respond()))["uptime_s"] else {
            Issue.record("no uptime in the rebuilt document")
            return
        }
        #expect(later >= 6, "a second later the document is rebuilt")
    }

    private static func body(_ response: HTTPResponse) -> [UInt8] {
        if case .bytes(let bytes) = response.body { bytes } else { [] }
    }
}
