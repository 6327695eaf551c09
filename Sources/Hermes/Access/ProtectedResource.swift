/// The resources this daemon protects and where clients learn how to get tokens for them (RFC 9728).
///
/// MCP lives at `<public>/mcp` (the legacy `/sse` and `/messages` are the same resource); everything else
/// (`/api/*`) is the bare `<public>` origin.
package struct ProtectedResource: Sendable, Equatable {
    /// The public base URL, no trailing slash (`https://hermes.example.com`).
    package let publicURL: String

    package init(publicURL: String) {
        var url = publicURL
        while url.hasSuffix("/") { url.removeLast() }
        self.publicURL = url
    }

    /// The MCP resource identifier.
    package var mcp: String { publicURL + "/mcp" }

    static let mcpPaths = ["/mcp", "/sse", "/messages"]

    static func isMCP(_ path: String) -> Bool {
        mcpPaths.contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    /// The resource a request's path belongs to.
    package func resource(for path: String) -> String { Self.isMCP(path) ? mcp : publicURL }

    /// The protected resource metadata document describing `path`'s resource.
    package func metadataURL(for path: String) -> String {
        publicURL + "/.well-known/oauth-protected-resource" + (Self.isMCP(path) ? "/mcp" : "")
    }

    /// Whether a token issued for `audience` may be used on `path`. Tokens carry the resource they were
    /// requested for (RFC 8707); one without names the MCP resource, the one every MCP client asks for.
    package func accepts(audience: String?, on path: String) -> Bool {
        var audience = audience ?? mcp
        while audience.hasSuffix("/") { audience.removeLast() }
        return audience == resource(for: path)
    }
}
