import Foundation
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Logging
import Store
import Synchronization
import Testing

/// `handleToolCall`, the single dispatch MCP, REST and tests use.
@Suite("Tool runtime")
struct MCPToolRuntimeTests {
    struct Broken: Error {}

    static func runtime(_ extra: [Tool] = [], store: Store? = nil) throws -> ToolRuntime {
        var tools = [try WhoamiTool.make()] + extra
        if let store { tools += try SandboxTools(store: store).tools() }
        return ToolRuntime(registry: try ToolRegistry(tools), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    static let hints = ToolAnnotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)

    @Test func whoamiTellsWhoIsCalling() async throws {
        let runtime = try Self.runtime()
        let single = try await runtime.handleToolCall(name: "whoami", arguments: nil, customer: .singleUser)
        #expect(!single.isError)
        #expect(single.structuredContent?["mode"] == "single-user" && single.structuredContent?["plan"] == "single-user")
        let customer = Customer(id: "cus_42", kind: .customer, plan: "pro")
        let other = try await runtime.handleToolCall(name: "whoami", arguments: [:], customer: customer)
        #expect(other.structuredContent?["customer"] == "cus_42" && other.structuredContent?["mode"] == "customer" && other.structuredContent?["plan"] == "pro")
        #expect(other.text.contains("cus_42"), "the text block carries the same data for clients without structured content")
    }

    @Test func unknownToolsAreThrownNamingTheKnownOnes() async throws {
        let runtime = try Self.runtime()
        do throws(ToolCallFailure) {
            _ = try await runtime.handleToolCall(name: "nope", arguments: nil, customer: .singleUser)
            Issue.record("an unknown tool must throw")
        } catch {
            #expect(error.kind == .unknownTool && error.message.contains("whoami"))
        }
    }

    @Test func handlerErrorsBecomeErrorResults() async throws {
        let actionable = try Tool(name: "actionable", title: "a", description: "d", inputSchema: ["type": "object"], annotations: Self.hints) { _ in
            throw ToolError("the recipient has blocked you; pick another recipient")
        }
        let broken = try Tool(name: "broken", title: "b", description: "d", inputSchema: ["type": "object"], annotations: Self.hints) { _ in throw Broken() }
        let runtime = try Self.runtime([actionable, broken])
        let first = try await runtime.handleToolCall(name: "actionable", arguments: nil, customer: .singleUser)
        #expect(first.isError && first.text == "the recipient has blocked you; pick another recipient")
        let second = try await runtime.handleToolCall(name: "broken", arguments: nil, customer: .singleUser)
        #expect(second.isError && second.text.contains("broken") && second.text.contains("server log"), "\(second.text)")
    }

    @Test func invalidArgumentsNeverReachTheHandler() async throws {
        let ran = Atomic<Int>(0)
        let tool = try Tool(name: "strict", title: "s", description: "d",
                            inputSchema: ["type": "object", "properties": ["n": ["type": "integer"]], "required": ["n"]], annotations: Self.hints) { _ in
            ran.add(1, ordering: .relaxed)
            return .text("ran")
        }
        let runtime = try Self.runtime([tool])
        let result = try await runtime.handleToolCall(name: "strict", arguments: ["n": "seven"], customer: .singleUser)
        #expect(result.isError && result.text.contains("'n'"), "\(result.text)")
        let runsBefore = ran.load(ordering: .relaxed)
        #expect(runsBefore == 0)
        let good = try await runtime.handleToolCall(name: "strict", arguments: ["n": 7], customer: .singleUser)
        let runsAfter = ran.load(ordering: .relaxed)
        #expect(!good.isError && runsAfter == 1)
    }

    @Test func cancellationStopsTheHandler() async throws {
        let stopped = Atomic<Bool>(false)
        let slow = try Tool(name: "slow", title: "s", description: "d", inputSchema: ["type": "object"], annotations: Self.hints) { _ in
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                stopped.store(true, ordering: .relaxed)
                throw error
            }
            return .text("done")
        }
        let runtime = try Self.runtime([slow])
        let task = Task { () -> ToolCallFailure? in
            do throws(ToolCallFailure) {
                _ = try await runtime.handleToolCall(name: "slow", arguments: nil, customer: .singleUser)
                return nil
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let failure = await task.value
        #expect(failure?.kind == .cancelled)
        let handlerStopped = stopped.load(ordering: .relaxed)
        #expect(handlerStopped)
    }

    @Test func sandboxMessagesRoundTripPerCustomer() async throws {
        let store = try temporaryStore()
        defer { store.close() }
        let runtime = try Self.runtime(store: store)
        let alice = Customer(id: "cus_alice", kind: .customer, plan: "free")
        let bob = Customer(id: "cus_bob", kind: .customer, plan: "free")
        for index in 1...3 {
            let sent = try await runtime.handleToolCall(name: "sandbox_send_message", arguments: ["to": index == 2 ? "carol" : "dave", "text": .string("m\(index)")], customer: alice)
            #expect(!sent.isError && sent.structuredContent?["id"] == .string("\(index)"), "\(sent)")
        }
        let all = try await runtime.handleToolCall(name: "sandbox_read_messages", arguments: [:], customer: alice)
        #expect(all.structuredContent?["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["m1", "m2", "m3"])
        let last = try await runtime.handleToolCall(name: "sandbox_read_messages", arguments: ["limit": 2], customer: alice)
        #expect(last.structuredContent?["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["m2", "m3"])
        let dave = try await runtime.handleToolCall(name: "sandbox_read_messages", arguments: ["to": "dave"], customer: alice)
        #expect(dave.structuredContent?["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["m1", "m3"])
        let other = try await runtime.handleToolCall(name: "sandbox_read_messages", arguments: [:], customer: bob)
        #expect(other.structuredContent?["messages"] == [], "one customer never sees another's outbox")
        // Every result conforms to the tool's own output schema.
        for tool in runtime.registry.tools {
            guard let output = tool.outputSchema else { continue }
            let schema = try JSONSchema(output)
            let sample = try await runtime.handleToolCall(name: tool.name, arguments: tool.name == "sandbox_send_message" ? ["to": "x", "text": "y"] : [:], customer: alice)
            #expect(schema.validate(sample.structuredContent ?? .null, path: "result") == nil, "\(tool.name): \(String(describing: schema.validate(sample.structuredContent ?? .null, path: "result")))")
        }
    }
}
