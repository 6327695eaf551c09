import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import JSON
import Logging
import Synchronization
import Testing

@Suite("Tools by plan")
struct PlanToolTests {
    static func runtime(admission: any ToolCallAdmission = UnlimitedToolCalls()) throws -> ToolRuntime {
        let send = try Tool(
            name: "whatsapp_send", title: "Send", description: "test",
            inputSchema: ["type": "object", "properties": ["to": ["type": "string"]], "additionalProperties": false],
            annotations: ToolAnnotations(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true),
            platform: "whatsapp"
        ) { _ in .text("sent") }
        return ToolRuntime(
            registry: try ToolRegistry([try WhoamiTool.make(), send]), admission: admission,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
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

    /// Records what it is asked and refuses once `allowed` calls were admitted.
    final class CountingAdmission: ToolCallAdmission {
        let admitted = Mutex<[String]>([])
        let allowed: Int

        init(allowed: Int) { self.allowed = allowed }

        func admit(tool: String, customer: Customer) -> LimitDecision {
            admitted.withLock { list in
                guard list.count < allowed else {
                    return .refused(LimitExceeded(limit: .monthlyToolCalls, retryAfterSeconds: 60, message: "monthly quota used up"))
                }
                list.append(tool)
                return .allowed
            }
        }
    }

    @Test func onlyAValidCallIsCountedAndARefusalIsTheCallsOutcome() async throws {
        let admission = CountingAdmission(allowed: 1)
        let runtime = try Self.runtime(admission: admission)
        let free = Customer(id: "cus_free", kind: .customer, plan: "free")
        let growth = Customer(id: "cus_growth", kind: .customer, plan: "growth")

        // An unknown name (however long), a tool outside the plan and invalid arguments cost nothing.
        await #expect(throws: ToolCallFailure.self) {
            try await runtime.handleToolCall(name: String(repeating: "x", count: 600), arguments: nil, customer: growth)
        }
        #expect(try await runtime.handleToolCall(name: "whatsapp_send", arguments: nil, customer: free).isError)
        #expect(try await runtime.handleToolCall(name: "whatsapp_send", arguments: ["to": 5], customer: growth).isError)
        #expect(admission.admitted.withLock { $0 }.isEmpty)

        #expect(try await runtime.handleToolCall(name: "whatsapp_send", arguments: ["to": "+1"], customer: growth) == .text("sent"))
        #expect(admission.admitted.withLock { $0 } == ["whatsapp_send"])

        // Over the quota: thrown as the call's outcome, the handler does not run.
        do {
            _ = try await runtime.handleToolCall(name: "whatsapp_send", arguments: ["to": "+1"], customer: growth)
            Issue.record("a call over the quota ran")
        } catch {
            guard case .limited(let exceeded) = error.kind else { Issue.record("unexpected failure \(error)"); return }
            #expect(exceeded.retryAfterSeconds == 60)
        }
    }
}
