import ToolRuntime
/// The MCP protocol revisions this server speaks, negotiated at initialize.
package enum MCPProtocolVersion: String, Sendable, CaseIterable, Comparable {
    case v2024_11_05 = "2024-11-05"
    case v2025_03_26 = "2025-03-26"
    case v2025_06_18 = "2025-06-18"
    case v2025_11_25 = "2025-11-25"

    /// The newest revision, offered when a client asks for one this server does not know.
    package static let latest = v2025_11_25

    /// What a Streamable HTTP request without an `MCP-Protocol-Version` header is taken to speak.
    package static let assumedWithoutHeader = v2025_03_26

    /// The client's requested revision when supported, otherwise the latest (the client then decides
    /// whether it can go on).
    package static func negotiate(_ requested: String?) -> MCPProtocolVersion {
        requested.flatMap(MCPProtocolVersion.init(rawValue:)) ?? latest
    }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// JSON-RPC batches exist only in this revision (added in 2025-03-26, removed in 2025-06-18).
    var allowsBatches: Bool { self == .v2025_03_26 }

    /// Clients on 2025-11-25 or later get a priming event (an id and no data) first on every SSE stream,
    /// so they can resume even before the first real message.
    var wantsPrimingEvent: Bool { self >= .v2025_11_25 }

    /// Tool titles, output schemas and structured results arrived in 2025-06-18.
    var hasStructuredToolResults: Bool { self >= .v2025_06_18 }

    /// Tool annotations and progress messages arrived in 2025-03-26.
    var hasToolAnnotations: Bool { self >= .v2025_03_26 }

    static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
