/// What a customer's plan allows: monthly tool calls, request rate, platforms, audit-log retention and MCP
/// sessions.
///
/// The table lives in code so that every daemon of a version enforces the same limits; change it with a
/// release, not per host.
package struct Plan: Sendable, Hashable {
    package let name: String
    /// Tool calls per calendar month (UTC).
    package let monthlyToolCalls: Int
    /// Authenticated requests per minute (a token bucket: bursts up to this many, refilled evenly).
    package let requestsPerMinute: Int
    /// Platforms the plan may use; nil means all of them.
    package let platforms: Set<String>?
    /// Days an audit record is kept before the sweeper deletes it.
    package let auditRetentionDays: Int
    /// MCP sessions (Streamable HTTP and legacy SSE) open at once; the server also holds every customer to
    /// half its own session cap, so one customer can never fill it.
    package let maximumMCPSessions: Int

    package init(name: String, monthlyToolCalls: Int, requestsPerMinute: Int, platforms: Set<String>?, auditRetentionDays: Int, maximumMCPSessions: Int = 10) {
        self.name = name
        self.monthlyToolCalls = monthlyToolCalls
        self.requestsPerMinute = requestsPerMinute
        self.platforms = platforms
        self.auditRetentionDays = auditRetentionDays
        self.maximumMCPSessions = maximumMCPSessions
    }

    package static let free = Plan(name: "free", monthlyToolCalls: 500, requestsPerMinute: 30, platforms: ["telegram", "discord", "obsidian"], auditRetentionDays: 7, maximumMCPSessions: 10)
    package static let starter = Plan(name: "starter", monthlyToolCalls: 5_000, requestsPerMinute: 120, platforms: ["whatsapp", "telegram", "discord", "obsidian"], auditRetentionDays: 30, maximumMCPSessions: 50)
    package static let growth = Plan(name: "growth", monthlyToolCalls: 50_000, requestsPerMinute: 600, platforms: nil, auditRetentionDays: 90, maximumMCPSessions: 200)
    package static let enterprise = Plan(name: "enterprise", monthlyToolCalls: 1_000_000, requestsPerMinute: 3_000, platforms: nil, auditRetentionDays: 365, maximumMCPSessions: 1_000)

    /// Every plan, cheapest first.
    package static let all: [Plan] = [free, starter, growth, enterprise]

    /// The plan with this name, or nil.
    package static func named(_ name: String) -> Plan? { all.first { $0.name == name } }

    /// The plan with this name; an unknown name (a record written by a newer version) gets the free plan's
    /// limits rather than none.
    package static func limits(for name: String) -> Plan { named(name) ?? free }

    /// Whether the plan may use `platform`.
    package func allows(platform: String) -> Bool { platforms?.contains(platform) ?? true }
}
