package import JSON
package import Logging
package import Tenancy

/// Runs tools from a registry: the daemon's ``ToolCaller``.
///
/// Arguments are checked against the tool's input schema before its handler runs; a violation, or an
/// error thrown by the handler, becomes a result with `isError: true` whose text names the field or says
/// what to do. Cancellation of the calling task reaches the handler (its `Task.sleep`, store waits and
/// platform requests stop) and is reported as ``ToolCallFailure/cancelled``.
package struct ToolRuntime: ToolCaller {
    package let registry: ToolRegistry
    private let admission: any ToolCallAdmission
    private let logger: Logger

    /// `admission` is asked once a call is valid and about to run; a refusal is thrown as
    /// ``ToolCallFailure/Kind/limited(_:)``.
    package init(registry: ToolRegistry, admission: any ToolCallAdmission = UnlimitedToolCalls(), logger: Logger) {
        self.registry = registry
        self.admission = admission
        self.logger = logger
    }

    package func tools(for customer: Customer) -> [Tool] {
        registry.tools.filter { Self.planIncludes($0, customer) }
    }

    /// Whether the caller's plan includes the tool's platform (single users have every platform).
    static func planIncludes(_ tool: Tool, _ customer: Customer) -> Bool {
        guard let platform = tool.platform, customer.kind == .customer else { return true }
        return Plan.limits(for: customer.plan).allows(platform: platform)
    }

    // Checks and error mapping stay out of line so this async frame stays small (docs/adr/0016-small-async-frames.md).
    package func handleToolCall(name: String, arguments: JSONValue?, customer: Customer, context: ToolCallContext) async throws(ToolCallFailure) -> ToolResult {
        let tool: Tool
        let invocation: ToolInvocation
        switch try prepare(name: name, arguments: arguments, customer: customer, context: context) {
        case .answered(let result): return result
        case .ready(let found, let prepared):
            tool = found
            invocation = prepared
        }
        do {
            let result = try await tool.handler(invocation)
            if Task.isCancelled { throw ToolCallFailure.cancelled }
            return result
        } catch {
            return try outcome(of: error, name: name, customer: customer)
        }
    }

    private enum Preparation {
        case answered(ToolResult)
        case ready(Tool, ToolInvocation)
    }

    /// Finds the tool and checks the plan and the arguments: the invocation to run, or the result that
    /// answers the call without running it.
    @inline(never)
    private func prepare(name: String, arguments: JSONValue?, customer: Customer, context: ToolCallContext) throws(ToolCallFailure) -> Preparation {
        guard let tool = registry.tool(named: name) else { throw .unknownTool(name, known: tools(for: customer).map(\.name)) }
        guard Self.planIncludes(tool, customer) else {
            return .answered(.error("the \(customer.plan) plan does not include \(tool.platform ?? "this platform"); ask the operator to move you to a plan that does"))
        }
        // Absent and null arguments both mean "no arguments".
        let arguments = arguments.flatMap { $0.isNull ? nil : $0 } ?? .object(JSONObject())
        if let violation = tool.validator.validate(arguments) {
            return .answered(.error("invalid arguments for \(name): \(violation.message)"))
        }
        guard !Task.isCancelled else { throw .cancelled }
        if case .refused(let exceeded) = admission.admit(tool: tool.name, customer: customer) { throw .limited(exceeded) }
        return .ready(tool, ToolInvocation(arguments: arguments.objectValue ?? JSONObject(), customer: customer, context: context))
    }

    /// What a handler's error means for the caller.
    @inline(never)
    private func outcome(of error: any Error, name: String, customer: Customer) throws(ToolCallFailure) -> ToolResult {
        switch error {
        case let error as ToolError:
            return .error(error.message)
        case is CancellationError:
            throw .cancelled
        case let failure as ToolCallFailure:
            throw failure
        default:
            if Task.isCancelled { throw .cancelled }
            // The error's text may carry internals (paths, platform responses): log it, return a summary.
            logger.error("tool failed", metadata: ["tool.name": "\(name)", "customer.id": "\(customer.id)", "error": "\(error)"])
            return .error("the tool \(name) failed unexpectedly (\(type(of: error))); try again, and if it keeps failing, check the server log")
        }
    }
}
