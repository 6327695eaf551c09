import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import JSON
import Logging
import Testing

@Suite("Tools by plan")
struct PlanToolTests {
    static func runtime() throws -> ToolRuntime {
        let send = try Tool(
            name: "whatsapp_send", title: "Send", description: "test", inputSchema: ["type": "object"],
            annotations: ToolAnnotations(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true),
            platform: "whatsapp"
        ) { _ in .text("sent") }
        return ToolRuntime(registry: try ToolRegistry([try WhoamiTool.make(), send]), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    @Test func aPlanWithoutThePlatformNeitherSeesNorRunsItsTools() async throws {
        let runtime = try Self.runtime()
        let free = Customer(id: "cus_free", kind: .customer, plan: "free")
        let growth = Customer(id: "cus_growth", kind: .customer, plan: "growth")
        #expect(runtime.tools(for: free).map(\.name) == ["whoami"])
        #expect(runtime.tools(for: growth).map(\.name) == ["whoami", "whatsapp_send"])
        #expect(runtime.tools(for: .singleUser).map(\.name) == ["whoami", "whatsapp_send"])

        let refused = try await runtime.handleToolCall(name: "whatsapp_send", arguments: nil, customer: free)
        #expect(refused.isError)
        #expect(refused.content == [.text("the free plan does not include whatsapp; ask the operator to move you to a plan that does")])
        #expect(try await runtime.handleToolCall(name: "whatsapp_send", arguments: nil, customer: growth) == .text("sent"))
        #expect(try await runtime.handleToolCall(name: "whatsapp_send", arguments: nil, customer: .singleUser) == .text("sent"))
    }
}
