package import JSON
package import Tenancy
/// The one way to run a tool: MCP's `tools/call`, REST's tool endpoint and tests all go through it.
///
/// ```swift
/// let result = try await caller.handleToolCall(name: "whoami", arguments: [:], customer: .singleUser)
/// ```
package protocol ToolCaller: Sendable {
    /// The tools `customer` may see and call, in a stable order.
    func tools(for customer: Customer) -> [Tool]

    /// Validates `arguments` against the tool's input schema, then runs the tool for `customer`.
    ///
    /// A bad argument or a failing handler gives a result with `isError: true` and a message a person can act
    /// on; an unknown tool name, a call over the caller's limits and cancellation are thrown.
    func handleToolCall(name: String, arguments: JSONValue?, customer: Customer, context: ToolCallContext) async throws(ToolCallFailure) -> ToolResult
}

extension ToolCaller {
    package func handleToolCall(name: String, arguments: JSONValue?, customer: Customer) async throws(ToolCallFailure) -> ToolResult {
        try await handleToolCall(name: name, arguments: arguments, customer: customer, context: ToolCallContext())
    }
}

/// Why a tool call produced no result.
package struct ToolCallFailure: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// No tool has this name (for this customer).
        case unknownTool
        /// The caller's limits refuse the call (monthly quota); nothing ran and nothing was counted.
        case limited(LimitExceeded)
        /// The call was cancelled before it finished; no result must be sent.
        case cancelled
    }

    package var kind: Kind
    package var message: String

    package static func unknownTool(_ name: String, known: [String]) -> ToolCallFailure {
        ToolCallFailure(kind: .unknownTool, message: "there is no tool named '\(name)'; the tools are: \(known.joined(separator: ", "))")
    }

    package static let cancelled = ToolCallFailure(kind: .cancelled, message: "the tool call was cancelled")

    package static func limited(_ exceeded: LimitExceeded) -> ToolCallFailure {
        ToolCallFailure(kind: .limited(exceeded), message: exceeded.message)
    }

    package var description: String { message }
}

/// What a running tool may send back before its result: progress and log messages. The transport
/// decides where they go (MCP: the request's event stream, or the session's standalone stream); REST and
/// tests pass no reporter, and both are dropped.
package struct ToolCallContext: Sendable {
    private let reporter: (any ToolCallReporter)?

    package init(reporter: (any ToolCallReporter)? = nil) {
        self.reporter = reporter
    }

    /// Reports progress; `total` and `message` are optional.
    package func progress(_ progress: Double, _ total: Double?, _ message: String?) {
        reporter?.progress(progress, total: total, message: message)
    }

    /// Sends a log message to the client at a level (the client's `logging/setLevel` filters it).
    package func log(_ level: MCPLogLevel, _ data: JSONValue) {
        reporter?.log(level, data)
    }
}

/// Where a tool call's progress and log messages go; a class, so copying a context costs one retain
/// (docs/adr/0015-per-request-values-as-one-reference.md).
package protocol ToolCallReporter: AnyObject, Sendable {
    func progress(_ progress: Double, total: Double?, message: String?)
    func log(_ level: MCPLogLevel, _ data: JSONValue)
}

/// Syslog severities, as MCP's `logging/setLevel` and `notifications/message` name them.
package enum MCPLogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, notice, warning, error, critical, alert, emergency

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}
