import HTTP2

/// Which browser origins may call the MCP endpoint (DNS-rebinding protection), and the CORS headers
/// they get.
struct OriginPolicy: Sendable {
    private let allowed: Set<String>
    private let allowAll: Bool

    init(allowedOrigins: [String]) {
        allowAll = allowedOrigins.contains("*")
        allowed = Set(allowedOrigins.map { Self.normalized($0) })
    }

    /// Loopback origins are always allowed: a page on this machine is as trusted as a local client.
    func allows(_ origin: String) -> Bool {
        if allowAll { return true }
        let origin = Self.normalized(origin)
        if allowed.contains(origin) { return true }
        return Self.isLoopback(origin)
    }

    static func normalized(_ origin: String) -> String {
        var text = origin.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    static func isLoopback(_ origin: String) -> Bool {
        for scheme in ["http://", "https://"] where origin.hasPrefix(scheme) {
            let hostAndPort = origin.dropFirst(scheme.count)
            for host in ["localhost", "127.0.0.1", "[::1]"] where hostAndPort.hasPrefix(host) {
                let rest = hostAndPort.dropFirst(host.count)
                if rest.isEmpty { return true }
                if rest.first == ":", rest.count > 1, rest.dropFirst().allSatisfy(\.isNumber) { return true }
            }
        }
        return false
    }

    static let allowedMethods = "GET, POST, DELETE, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, X-Api-Key"
    static let exposedHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"

    /// The headers every response to an allowed cross-origin request carries.
    static func corsHeaders(origin: String, into headers: inout HTTPHeaders) {
        headers.set("access-control-allow-origin", origin)
        headers.set("access-control-expose-headers", exposedHeaders)
        headers.add("vary", "Origin")
    }
}
