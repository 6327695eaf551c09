package import Tenancy

/// Decides, before a tool runs, whether the caller may make one more call (monthly quotas). Asked by
/// ``ToolRuntime`` once the call is known to be valid, so a refused or invalid call never costs quota; a
/// refusal is the call's outcome (``ToolCallFailure/Kind/limited(_:)``), which transports answer with 429.
package protocol ToolCallAdmission: Sendable {
    /// Counts the call if it may go ahead.
    func admit(tool: String, customer: Customer) -> LimitDecision
}

/// Admits every call: single-user daemons and tests without metering.
package struct UnlimitedToolCalls: ToolCallAdmission {
    package init() {}
    package func admit(tool: String, customer: Customer) -> LimitDecision { .allowed }
}
