import JSON
@testable import Hermes
@testable import MCP
import Store
import Tenancy
import Testing

/// Tool calls through HTTP, MCP and the tool runtime into the usage meter and the store.
@Suite("Metering through MCP")
struct MeteringTests {
    /// Issue 18: a `tools/call` naming a nonexistent tool with a 600-character name was counted, and its
    /// counter then failed every flush. Only a valid call reaches the meter now.
    @Test func onlyValidCallsAreCountedAndAnUnknownLongNameCostsNothing() async throws {
        var tenancy: TestTenancy?
        try await withMCPServer(tenancy: { store in
            let made = TestTenancy(store: store)
            tenancy = made
            return made.parts
        }) { server, driver in
            let tenancy = try #require(tenancy)
            let (customer, key) = try await tenancy.directory.create(email: "m@example.com", plan: "free")
            let session = try await driver.initialize(server, key: key)
            let headers = TestTenancy.headers(key, session: session)
            let unknown = try await driver.request("POST", server.mcp, headers: headers, body: MCPMessages.call(2, String(repeating: "x", count: 600)))
            #expect(unknown.json?["error"]?["code"] == -32602, "\(unknown)")
            let invalid = try await driver.request("POST", server.mcp, headers: headers, body: MCPMessages.call(3, "count_slowly", ["steps": "many"]))
            #expect(invalid.json?["result"]?["isError"] == true, "\(invalid)")
            let valid = try await driver.request("POST", server.mcp, headers: headers, body: MCPMessages.call(4, "whoami"))
            #expect(valid.json?["result"]?["isError"] == false, "\(valid)")
            try await tenancy.meter.flush()
            let restarted = UsageMeter(store: server.store)
            let usage = try restarted.usage(customerID: customer.id)
            #expect(usage.perTool == ["whoami": 1] && usage.toolCalls == 1, "\(usage)")
        }
    }
}
