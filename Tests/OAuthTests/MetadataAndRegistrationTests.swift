import JSON
@testable import OAuth
import Testing

@Suite("OAuth metadata and registration")
struct MetadataAndRegistrationTests {
    @Test("metadata documents name the issuer, endpoints, S256 and offline_access; PRM binds /mcp")
    func metadata() async throws {
        try await withHarness { h in
            for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/mcp", "/.well-known/openid-configuration"] {
                let response = try await h.get(path)
                #expect(response.status == 200, "\(path)")
                let doc = try #require(response.json)
                #expect(doc["issuer"]?.stringValue == h.base)
                #expect(doc["authorization_endpoint"]?.stringValue == h.base + "/oauth/authorize")
                #expect(doc["token_endpoint"]?.stringValue == h.base + "/oauth/token")
                #expect(doc["registration_endpoint"]?.stringValue == h.base + "/oauth/register")
                #expect(doc["revocation_endpoint"]?.stringValue == h.base + "/oauth/revoke")
                #expect(doc["code_challenge_methods_supported"] == ["S256"])
                #expect(doc["scopes_supported"]?.arrayValue?.contains("offline_access") == true)
                #expect(doc["grant_types_supported"] == ["authorization_code", "refresh_token"])
                #expect(doc["token_endpoint_auth_methods_supported"] == ["none", "client_secret_post", "client_secret_basic"])
                #expect(doc["client_id_metadata_document_supported"] == true)
            }
            let mcp = try #require(try await h.get("/.well-known/oauth-protected-resource/mcp").json)
            #expect(mcp["resource"]?.stringValue == h.base + "/mcp")
            #expect(mcp["authorization_servers"] == [.string(h.base)])
            let root = try #require(try await h.get("/.well-known/oauth-protected-resource").json)
            #expect(root["resource"]?.stringValue == h.base)
        }
    }

    @Test("the issuer must be an origin")
    func issuerValidation() async throws {
        try await withHarness { h in
            #expect(throws: OAuthError.self) {
                _ = try OAuthServer(configuration: OAuthConfiguration(issuer: "https://example.com/hermes"), store: h.store, directory: h.directory, audit: h.audit, logger: .init(label: "t"))
            }
            #expect(throws: OAuthError.self) {
                _ = try OAuthServer(configuration: OAuthConfiguration(issuer: "example.com"), store: h.store, directory: h.directory, audit: h.audit, logger: .init(label: "t"))
            }
        }
    }

    @Test("registration: the three auth methods; secrets shown once and stored hashed; root alias /register")
    func registrationMethods() async throws {
        try await withHarness { h in
            let none = try await h.register(method: "none")
            #expect(none.secret == nil)
            let post = try await h.register(method: "client_secret_post")
            let secret = try #require(post.secret)
            let basic = try await h.register(method: "client_secret_basic")
            #expect(basic.secret != nil)
            let stored = try #require(try h.store.get(OAuthKeys.clients, OAuthKeys.client(post.id)))
            #expect(!String(decoding: stored, as: UTF8.self).contains(secret))
            let alias = try await h.postJSON("/register", ["redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "client_secret_post"])
            #expect(alias.status == 201)
            #expect(alias.json?["token_endpoint_auth_method"] == "client_secret_post")
            #expect(alias.header("cache-control") == "no-store")
        }
    }

    @Test("registration refuses bad redirect URIs and metadata with RFC 7591 errors")
    func registrationErrors() async throws {
        try await withHarness { h in
            for uri in ["http://example.com/cb", "https://example.com/cb#frag", "javascript:alert(1)", "ftp://x/y", "https://user@example.com/cb"] {
                let response = try await h.postJSON("/oauth/register", ["redirect_uris": [.string(uri)]])
                #expect(response.status == 400, "\(uri)")
                #expect(response.json?["error"] == "invalid_redirect_uri", "\(uri)")
            }
            for uri in ["http://localhost:33418/callback", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "https://chatgpt.com/connector/oauth/abc"] {
                let response = try await h.postJSON("/oauth/register", ["redirect_uris": [.string(uri)], "token_endpoint_auth_method": "none"])
                #expect(response.status == 201, "\(uri): \(response.text)")
            }
            let missing = try await h.postJSON("/oauth/register", ["client_name": "x"])
            #expect(missing.json?["error"] == "invalid_redirect_uri")
            let method = try await h.postJSON("/oauth/register", ["redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"])
            #expect(method.status == 400 && method.json?["error"] == "invalid_client_metadata")
            let grant = try await h.postJSON("/oauth/register", ["redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]])
            #expect(grant.json?["error"] == "invalid_client_metadata")
            let notJSON = try await h.http.send(.init(method: "POST", url: h.base + "/oauth/register", headers: [("Content-Type", "application/json")], body: Array("nope".utf8)))
            #expect(notJSON.status == 400 && notJSON.json?["error"] == "invalid_client_metadata")
        }
    }

    @Test("anonymous registration is bounded per address and in total; unused clients expire")
    func registrationBounds() async throws {
        try await withHarness(manualClock: true, configure: { $0.registrationsPerAddressPerHour = 3; $0.maximumUnusedClients = 1000 }) { h in
            for _ in 0..<3 { _ = try await h.register() }
            let limited = try await h.postJSON("/oauth/register", ["redirect_uris": ["https://a.example/cb"]])
            #expect(limited.status == 429)
            #expect(limited.header("retry-after") != nil)
            h.clock!.advance(seconds: 3601)
            let again = try await h.register()
            // Unused clients vanish after unusedClientLifetime (a day by default).
            h.clock!.advance(seconds: 86_401)
            #expect(try h.store.get(OAuthKeys.clients, OAuthKeys.client(again.id)) == nil)
        }
        try await withHarness(configure: { $0.maximumUnusedClients = 2 }) { h in
            // A client that completed a sign-in no longer counts against the bound.
            _ = try await h.signIn()
            _ = try await h.register()
            _ = try await h.register()
            let full = try await h.postJSON("/oauth/register", ["redirect_uris": ["https://a.example/cb"]])
            #expect(full.status == 503)
        }
    }
}
