import HTTP2
package import Routing
package import MCP
package import Tenancy
import JSON

/// `GET /api/usage`: the caller's tool calls this month and the limits of their plan. Runs behind the
/// gate of `/api`, so it always answers for the authenticated caller and nobody else.
package struct UsageEndpoint: Sendable {
    let meter: UsageMeter

    package init(meter: UsageMeter) {
        self.meter = meter
    }

    package func register(in router: inout Router, gate: any CallerGate) {
        let meter = self.meter
        router.get("/api/usage", gate.guarded { _, call in try Self.respond(for: call.caller, meter: meter) })
    }

    static func respond(for customer: Customer, meter: UsageMeter) throws -> HTTPResponse {
        var object: JSONObject = ["customer": .string(customer.id), "mode": .string(customer.kind.rawValue), "plan": .string(customer.plan)]
        guard customer.kind == .customer else {
            object["limits"] = .null
            return .json(JSONWriter.encode(.object(object)))
        }
        let usage = try meter.usage(customerID: customer.id)
        let plan = Plan.limits(for: customer.plan)
        object["month"] = .string(usage.month)
        object["usage"] = [
            "tool_calls": .integer(Int64(usage.toolCalls)),
            "per_tool": .object(JSONObject(usage.perTool.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.integer(Int64($0.value))) })),
        ]
        object["limits"] = [
            "monthly_tool_calls": .integer(Int64(plan.monthlyToolCalls)),
            "remaining_tool_calls": .integer(Int64(max(0, plan.monthlyToolCalls - usage.toolCalls))),
            "requests_per_minute": .integer(Int64(plan.requestsPerMinute)),
            "platforms": plan.platforms.map { .array($0.sorted().map(JSONValue.string)) } ?? .string("all"),
            "audit_retention_days": .integer(Int64(plan.auditRetentionDays)),
        ]
        return .json(JSONWriter.encode(.object(object)))
    }
}
