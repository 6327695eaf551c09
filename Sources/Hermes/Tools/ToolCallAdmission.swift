public import Tenancy

/// Decides, before a tool runs, whether the caller may make one more call (monthly quotas). Checked by the
/// transports before they dispatch a `tools/call`, so a refusal can be answered with HTTP 429.
public protocol ToolCallAdmission: Sendable {
    /// Counts the call if it may go ahead.
    func admit(tool: String, customer: Customer) -> LimitDecision
}

/// Admits every call: single-user daemons and tests without metering.
public struct UnlimitedToolCalls: ToolCallAdmission {
    public init() {}
    public func admit(tool: String, customer: Customer) -> LimitDecision { .allowed }
}
