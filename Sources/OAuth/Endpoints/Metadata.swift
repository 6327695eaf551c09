import HTTP2
import Routing
import JSON

extension OAuthServer {
    /// RFC 8414 authorization server metadata (also served as `openid-configuration`, which some clients probe).
    var authorizationServerMetadata: JSONValue {
        let methods: [JSONValue] = ["none", "client_secret_post", "client_secret_basic"]
        var object: JSONObject = [
            "issuer": .string(issuer),
            "authorization_endpoint": .string(issuer + "/oauth/authorize"),
            "token_endpoint": .string(issuer + "/oauth/token"),
            "registration_endpoint": .string(issuer + "/oauth/register"),
            "revocation_endpoint": .string(issuer + "/oauth/revoke"),
            "scopes_supported": .array(configuration.scopes.map { .string($0) }),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": .array(methods),
            "revocation_endpoint_auth_methods_supported": .array(methods),
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        ]
        if configuration.clientMetadataDocuments.enabled { object["client_id_metadata_document_supported"] = true }
        return .object(object)
    }

    /// RFC 9728 protected resource metadata for `resource`.
    func protectedResourceMetadata(resource: String) -> JSONValue {
        [
            "resource": .string(resource),
            "authorization_servers": [.string(issuer)],
            "scopes_supported": .array(configuration.scopes.map { .string($0) }),
            "bearer_methods_supported": ["header"],
            "resource_name": "Hermes Appliance",
        ]
    }

    func registerMetadata(in router: inout Router) {
        let server = JSONWriter.encode(authorizationServerMetadata)
        for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/mcp",
                     "/.well-known/openid-configuration", "/.well-known/openid-configuration/mcp"] {
            router.addImmediate(.get, path) { _ in Self.metadataResponse(server) }
        }
        let root = JSONWriter.encode(protectedResourceMetadata(resource: issuer))
        router.addImmediate(.get, "/.well-known/oauth-protected-resource") { _ in Self.metadataResponse(root) }
        let mcp = JSONWriter.encode(protectedResourceMetadata(resource: mcpResource))
        for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource/sse"] {
            router.addImmediate(.get, path) { _ in Self.metadataResponse(mcp) }
        }
    }

    private static func metadataResponse(_ bytes: [UInt8]) -> HTTPResponse {
        var response = HTTPResponse.json(bytes)
        response.headers.set("cache-control", "public, max-age=3600")
        response.headers.set("access-control-allow-origin", "*")
        return response
    }
}
