public import JSON
public import Logging
import Tenancy

/// Runs tools from a registry: the daemon's ``ToolCaller``.
///
/// Arguments are checked against the tool's input schema before its handler runs; a violation, or an
/// error thrown by the handler, becomes a result with `isError: true` whose text names the field or says
/// what to do. Cancellation of the calling task reaches the handler (its `Task.sleep`, store waits and
/// platform requests stop) and is reported as ``ToolCallFailure/cancelled``.
public struct ToolRuntime: ToolCaller {
    public let registry: ToolRegistry
    private let logger: Logger

    public init(registry: ToolRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    public func tools(for customer: Customer) -> [Tool] {
        registry.tools.filter { Self.planIncludes($0, customer) }
    }

    /// Whether the caller's plan includes the tool's platform (single users have every platform).
    static func planIncludes(_ tool: Tool, _ customer: Customer) -> Bool {
        guard let platform = tool.platform, customer.kind == .customer else { return true }
        return Plan.limits(for: customer.plan).allows(platform: platform)
    }

    public func handleToolCall(name: String, arguments: JSONValue?, customer: Customer, context: ToolCallContext) async throws(ToolCallFailure) -> ToolResult {
        guard let tool = registry.tool(named: name) else { throw .unknownTool(name, known: tools(for: customer).map(\.name)) }
        guard Self.planIncludes(tool, customer) else {
            return .error("the \(customer.plan) plan does not include \(tool.platform ?? "this platform"); ask the operator to move you to a plan that does")
        }
        // Absent and null arguments both mean "no arguments".
        let arguments = arguments.flatMap { $0.isNull ? nil : $0 } ?? .object(JSONObject())
        if let violation = tool.validator.validate(arguments) {
            return .error("invalid arguments for \(name): \(violation.message)")
        }
        guard !Task.isCancelled else { throw .cancelled }
        let invocation = ToolInvocation(arguments: arguments.objectValue ?? JSONObject(), customer: customer, context: context)
        do {
            let result = try await tool.handler(invocation)
            if Task.isCancelled { throw ToolCallFailure.cancelled }
            return result
        } catch let error as ToolError {
            return .error(error.message)
        } catch is CancellationError {
            throw .cancelled
        } catch let failure as ToolCallFailure {
            throw failure
        } catch {
            if Task.isCancelled { throw .cancelled }
            // The error's text may carry internals (paths, platform responses): log it, return a summary.
            logger.error("tool failed", metadata: ["tool.name": "\(name)", "customer.id": "\(customer.id)", "error": "\(error)"])
            return .error("the tool \(name) failed unexpectedly (\(type(of: error))); try again, and if it keeps failing, check the server log")
        }
    }
}
