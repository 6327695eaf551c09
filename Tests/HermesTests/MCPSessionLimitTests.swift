import JSON
@testable import Hermes
@testable import MCP
import Tenancy
import Testing

/// Issue 18: five customers opening sessions reached the server-wide cap in seconds, and every other
/// customer's `initialize` and `GET /sse` got 503 until sessions idled out.
@Suite("MCP sessions per customer")
struct MCPSessionLimitTests {
    static func ping(_ driver: HTTPDriver, _ server: MCPTestServer, key: String, session: String) async throws -> Int {
        try await driver.request("POST", server.mcp, headers: TestTenancy.headers(key, session: session), body: MCPMessages.request(9, "ping")).status
    }

    @Test func aCustomerAtItsLimitMakesRoomFromItsOwnIdleSessionsAndNeverFillsTheServer() async throws {
        var tenancy: TestTenancy?
        try await withMCPServer(configure: {
            $0.maximumSessions = 10
            $0.sessionIdleTimeout = .seconds(600)
            // A small limit for free; growth asks for more than half of the server's 10.
            $0.sessionLimit = { customer in customer.plan == "free" ? 3 : 100 }
        }, tenancy: { store in
            let made = TestTenancy(store: store)
            tenancy = made
            return made.parts
        }) { server, driver in
            let directory = try #require(tenancy).directory
            let (_, keyA) = try await directory.create(email: "a@example.com", plan: "free")
            let (_, keyB) = try await directory.create(email: "b@example.com", plan: "growth")

            var sessionsA: [String] = []
            for _ in 0..<3 { sessionsA.append(try await driver.initialize(server, key: keyA)) }
            // A fourth: A's session quiet longest ends to make room, and its id is gone.
            sessionsA.append(try await driver.initialize(server, key: keyA))
            #expect(try await Self.ping(driver, server, key: keyA, session: sessionsA[0]) == 404)
            for session in sessionsA.dropFirst() { #expect(try await Self.ping(driver, server, key: keyA, session: session) == 200) }
            #expect(server.endpoint.activity.sessions == 3)

            // Each of A's sessions holds a stream, so none is idle: A is refused, naming its limit.
            for (index, session) in sessionsA.dropFirst().enumerated() {
                let stream = try await driver.open("a-\(index)", "GET", server.mcp, headers: TestTenancy.headers(keyA, session: session))
                #expect(stream.status == 200, "\(stream)")
            }
            let refused = try await driver.request("POST", server.mcp, headers: TestTenancy.headers(keyA), body: MCPMessages.initialize())
            #expect(refused.status == 503, "\(refused)")
            #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 > 0, "\(refused)")
            #expect(refused.json?["error"]?["message"]?.stringValue?.contains("3 MCP sessions") == true, "\(refused)")

            // B is unaffected, and held to half of the server's 10 whatever its plan asks: its sixth session
            // replaces its own quietest rather than taking a sixth place.
            var sessionsB: [String] = []
            for _ in 0..<6 { sessionsB.append(try await driver.initialize(server, key: keyB)) }
            #expect(try await Self.ping(driver, server, key: keyB, session: sessionsB[0]) == 404)
            #expect(try await Self.ping(driver, server, key: keyB, session: sessionsB[5]) == 200)
            #expect(server.endpoint.activity.sessions == 8)
            // A's sessions were never B's to end, nor B's to use.
            for session in sessionsA.dropFirst() { #expect(try await Self.ping(driver, server, key: keyA, session: session) == 200) }
            #expect(try await Self.ping(driver, server, key: keyB, session: sessionsA[1]) == 404)
            for index in 0..<3 { try await driver.close("a-\(index)") }
        }
    }

    @Test func legacySSESessionsCountAgainstTheSameLimit() async throws {
        var tenancy: TestTenancy?
        try await withMCPServer(configure: {
            $0.maximumSessions = 10
            $0.sessionLimit = { _ in 2 }
        }, tenancy: { store in
            let made = TestTenancy(store: store)
            tenancy = made
            return made.parts
        }) { server, driver in
            let directory = try #require(tenancy).directory
            let (_, keyA) = try await directory.create(email: "a@example.com", plan: "free")
            let (_, keyB) = try await directory.create(email: "b@example.com", plan: "free")
            for index in 0..<2 {
                let stream = try await driver.open("sse-\(index)", "GET", server.base + "/sse", headers: ["authorization": "Bearer \(keyA)"])
                #expect(stream.status == 200, "\(stream)")
            }
            let refused = try await driver.request("GET", server.base + "/sse", headers: ["authorization": "Bearer \(keyA)"])
            #expect(refused.status == 503 && refused.headers["retry-after"] != nil, "\(refused)")
            #expect(refused.body.contains("2 MCP sessions"), "\(refused)")
            let other = try await driver.open("sse-b", "GET", server.base + "/sse", headers: ["authorization": "Bearer \(keyB)"])
            #expect(other.status == 200, "\(other)")
            for name in ["sse-0", "sse-1", "sse-b"] { try await driver.close(name) }
        }
    }

    @Test func theLimitComesFromThePlanAndIsHeldToHalfTheServer() {
        var configuration = MCPConfiguration(maximumSessions: 1_000)
        configuration.sessionLimit = { Plan.limits(for: $0.plan).maximumMCPSessions }
        let customer = { (plan: String) in Customer(id: "cus_\(plan)", kind: .customer, plan: plan) }
        #expect(configuration.sessionLimit(for: customer("free")) == 10)
        #expect(configuration.sessionLimit(for: customer("starter")) == 50)
        #expect(configuration.sessionLimit(for: customer("growth")) == 200)
        #expect(configuration.sessionLimit(for: customer("enterprise")) == 500)
        configuration.sessionLimit = { _ in .max }
        #expect(configuration.sessionLimit(for: .singleUser) == 1_000)
        #expect(MCPConfiguration(maximumSessions: 1).sessionLimit(for: customer("free")) == 1)
    }
}
