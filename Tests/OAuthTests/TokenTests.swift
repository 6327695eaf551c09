import Foundation
import JSON
@testable import OAuth
import Store
import Tenancy
import Testing

@Suite("OAuth tokens")
struct TokenTests {
    @Test("code → tokens → protected call → refresh (rotated) → protected call; audited; stored only as hashes")
    func fullFlow() async throws {
        try await withHarness { h in
            let (customer, _, client, tokens) = try await h.signIn()
            #expect(tokens.access.hasPrefix("hat_") && tokens.refresh.hasPrefix("hrt_"))
            let call = try await h.callMCP(tokens.access)
            #expect(call.status == 200)
            #expect(call.json?["customer"]?.stringValue == customer.id)
            let refreshed = try await h.refresh(client, tokens.refresh)
            #expect(refreshed.status == 200, "\(refreshed.text)")
            let body = try #require(refreshed.json)
            let access2 = try #require(body["access_token"]?.stringValue)
            let refresh2 = try #require(body["refresh_token"]?.stringValue)
            #expect(refresh2 != tokens.refresh && access2 != tokens.access)
            #expect(refreshed.header("cache-control") == "no-store")
            #expect(try await h.callMCP(access2).status == 200)
            let events = try h.auditEvents(customer.id)
            #expect(events.contains("oauth.code_issued") && events.contains("oauth.token_issued") && events.contains("oauth.token_refreshed"))
            // No token appears in any stored key or value.
            let dump = try h.store.read { txn in
                try txn.scan(OAuthKeys.tokens).map { $0.key + String(decoding: $0.value, as: UTF8.self) }.joined()
                    + txn.scan(OAuthKeys.codes).map { $0.key + String(decoding: $0.value, as: UTF8.self) }.joined()
            }
            for secret in [tokens.access, tokens.refresh, access2, refresh2] { #expect(!dump.contains(secret)) }
        }
    }

    @Test("client_secret_post and client_secret_basic authenticate; a wrong secret or unknown client is invalid_client 401")
    func clientAuthentication() async throws {
        try await withHarness { h in
            let (_, _, post, _) = try await h.signIn(method: "client_secret_post")
            let (_, apiKey, basic, _) = try await h.signIn(method: "client_secret_basic")
            // Basic header with a percent-encoded id and secret (RFC 6749 section 2.3.1).
            let pkce = OAuthHarness.PKCE()
            let code = try await h.code(basic, apiKey: apiKey, pkce: pkce)
            let credentials = Data("\(basic.id):\(basic.secret!)".utf8).base64EncodedString()
            let viaBasic = try await h.post("/oauth/token", form: [
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", basic.redirectURI), ("code_verifier", pkce.verifier),
            ], headers: [("Authorization", "Basic \(credentials)")])
            #expect(viaBasic.status == 200, "\(viaBasic.text)")
            var wrong = post
            wrong.secret = "hcs_wrong"
            let bad = try await h.refresh(wrong, "hrt_whatever")
            #expect(bad.status == 401 && bad.json?["error"] == "invalid_client")
            let badBasic = try await h.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", "hrt_x")],
                                            headers: [("Authorization", "Basic " + Data("\(basic.id):nope".utf8).base64EncodedString())])
            #expect(badBasic.status == 401 && badBasic.header("www-authenticate")?.hasPrefix("Basic") == true)
            var missingSecret = post
            missingSecret.secret = nil
            #expect(try await h.refresh(missingSecret, "hrt_x").status == 401)
            let unknown = OAuthHarness.Registered(id: "hc_doesnotexist", secret: nil, redirectURI: "http://127.0.0.1:9/callback")
            let response = try await h.refresh(unknown, "hrt_x")
            #expect(response.status == 401 && response.json?["error"] == "invalid_client")
        }
    }

    @Test("wrong PKCE verifier, wrong redirect_uri and another resource are refused at the token endpoint")
    func codeChecks() async throws {
        try await withHarness { h in
            let (_, key) = try await h.directory.create(email: "p@example.com", plan: "starter")
            let client = try await h.register()
            let pkce = OAuthHarness.PKCE()
            let code = try await h.code(client, apiKey: key, pkce: pkce)
            let wrongVerifier = try await h.exchange(client, code: code, pkce: .init())
            #expect(wrongVerifier.status == 400 && wrongVerifier.json?["error"] == "invalid_grant")
            let wrongRedirect = try await h.exchange(client, code: code, pkce: pkce, redirectURI: "http://127.0.0.1:9/other")
            #expect(wrongRedirect.json?["error"] == "invalid_grant")
            let otherResource = try await h.exchange(client, code: code, pkce: pkce, resource: h.base)
            #expect(otherResource.json?["error"] == "invalid_target")
            let foreign = try await h.exchange(client, code: code, pkce: pkce, resource: "https://elsewhere.example/mcp")
            #expect(foreign.json?["error"] == "invalid_target")
            // None of the failures spent the code.
            #expect(try await h.exchange(client, code: code, pkce: pkce).status == 200)
        }
    }

    @Test("a reused code is invalid_grant and revokes the tokens issued from it")
    func reusedCode() async throws {
        try await withHarness { h in
            let (customer, key) = try await h.directory.create(email: "r@example.com", plan: "starter")
            let client = try await h.register()
            let pkce = OAuthHarness.PKCE()
            let code = try await h.code(client, apiKey: key, pkce: pkce)
            let first = try await h.exchange(client, code: code, pkce: pkce)
            let access = try #require(first.json?["access_token"]?.stringValue)
            let refresh = try #require(first.json?["refresh_token"]?.stringValue)
            #expect(try await h.callMCP(access).status == 200)
            let second = try await h.exchange(client, code: code, pkce: pkce)
            #expect(second.status == 400 && second.json?["error"] == "invalid_grant")
            #expect(try await h.callMCP(access).status == 401)
            #expect(try await h.refresh(client, refresh).json?["error"] == "invalid_grant")
            #expect(try h.auditEvents(customer.id).contains("oauth.token_revoked"))
        }
    }

    @Test("codes and access tokens expire (manual clock)")
    func expiry() async throws {
        try await withHarness(manualClock: true) { h in
            let (_, key, client, tokens) = try await h.signIn()
            #expect(try await h.callMCP(tokens.access).status == 200)
            h.clock!.advance(seconds: 3601)
            #expect(try await h.callMCP(tokens.access).status == 401)
            #expect(try h.oauth.verifyAccessToken(tokens.access) == nil)
            // The refresh token still works and gives a working access token.
            let refreshed = try await h.refresh(client, tokens.refresh)
            #expect(try await h.callMCP(try #require(refreshed.json?["access_token"]?.stringValue)).status == 200)
            let pkce = OAuthHarness.PKCE()
            let code = try await h.code(client, apiKey: key, pkce: pkce)
            h.clock!.advance(seconds: 301)
            #expect(try await h.exchange(client, code: code, pkce: pkce).json?["error"] == "invalid_grant")
        }
    }

    @Test("a replayed refresh token revokes its whole family")
    func refreshReplay() async throws {
        try await withHarness { h in
            let (customer, _, client, tokens) = try await h.signIn()
            let rotated = try await h.refresh(client, tokens.refresh)
            let access2 = try #require(rotated.json?["access_token"]?.stringValue)
            let refresh2 = try #require(rotated.json?["refresh_token"]?.stringValue)
            #expect(try await h.callMCP(access2).status == 200)
            let replay = try await h.refresh(client, tokens.refresh)
            #expect(replay.status == 400 && replay.json?["error"] == "invalid_grant")
            #expect(try await h.callMCP(access2).status == 401)
            #expect(try await h.callMCP(tokens.access).status == 401)
            #expect(try await h.refresh(client, refresh2).json?["error"] == "invalid_grant")
            #expect(try h.auditEvents(customer.id).contains("oauth.refresh_replayed"))
        }
    }

    @Test("revocation: an access token alone, a refresh token with its grant; unknown tokens get 200")
    func revocation() async throws {
        try await withHarness { h in
            let (customer, _, client, tokens) = try await h.signIn()
            let unknown = try await h.post("/oauth/revoke", form: [("token", "hat_nothing")] + h.clientAuth(client))
            #expect(unknown.status == 200)
            let rotated = try await h.refresh(client, tokens.refresh)
            let access2 = try #require(rotated.json?["access_token"]?.stringValue)
            let refresh2 = try #require(rotated.json?["refresh_token"]?.stringValue)
            #expect(try await h.post("/oauth/revoke", form: [("token", tokens.access)] + h.clientAuth(client)).status == 200)
            #expect(try await h.callMCP(tokens.access).status == 401)
            #expect(try await h.callMCP(access2).status == 200)
            #expect(try await h.post("/oauth/revoke", form: [("token", refresh2), ("token_type_hint", "refresh_token")] + h.clientAuth(client)).status == 200)
            #expect(try await h.callMCP(access2).status == 401)
            #expect(try await h.refresh(client, refresh2).json?["error"] == "invalid_grant")
            #expect(try h.auditEvents(customer.id).contains("oauth.token_revoked"))
        }
    }

    @Test("a token for another resource is refused by the resource check")
    func resourceBinding() async throws {
        try await withHarness { h in
            let (_, key) = try await h.directory.create(email: "t@example.com", plan: "starter")
            let client = try await h.register()
            let pkce = OAuthHarness.PKCE()
            let code = try await h.code(client, apiKey: key, pkce: pkce, resource: h.base)
            let response = try await h.exchange(client, code: code, pkce: pkce, resource: h.base)
            let access = try #require(response.json?["access_token"]?.stringValue)
            let grant = try #require(try h.oauth.verifyAccessToken(access))
            #expect(grant.resource == h.base)
            #expect(try await h.callMCP(access).status == 401)
        }
    }

    /// Issue 18: after `hermes customers disable`, the refresh token still returned new tokens.
    @Test("disabling a customer revokes its grants: access 403, refresh invalid_grant (every time), and enabling does not revive them")
    func disabledCustomer() async throws {
        try await withHarness { h in
            let (customer, apiKey, client, tokens) = try await h.signIn()
            _ = try await h.directory.setActive(false, customerID: customer.id)
            #expect(try await h.callMCP(tokens.access).status == 403)
            #expect(throws: DisabledCustomerError.self) { _ = try h.oauth.verifyAccessToken(tokens.access) }
            for _ in 0..<2 {
                let refused = try await h.refresh(client, tokens.refresh)
                #expect(refused.status == 400 && refused.json?["error"] == "invalid_grant", "\(refused.status) \(refused.text)")
                #expect(refused.json?["access_token"] == nil)
            }
            _ = try await h.directory.setActive(true, customerID: customer.id)
            #expect(try await h.callMCP(tokens.access).status == 401)
            #expect(try await h.refresh(client, tokens.refresh).json?["error"] == "invalid_grant")
            // Signing in again gives a working grant.
            let pkce = OAuthHarness.PKCE()
            let fresh = try await h.exchange(client, code: try await h.code(client, apiKey: apiKey, pkce: pkce), pkce: pkce)
            #expect(try await h.callMCP(try #require(fresh.json?["access_token"]?.stringValue)).status == 200)
            #expect(try await h.refresh(client, try #require(fresh.json?["refresh_token"]?.stringValue)).status == 200)
        }
    }

    @Test("rotating or revoking a customer's API keys revokes its OAuth grants; a code issued before is refused")
    func keyChangesRevokeGrants() async throws {
        try await withHarness { h in
            let (customer, apiKey, client, tokens) = try await h.signIn()
            let pkce = OAuthHarness.PKCE()
            let pending = try await h.code(client, apiKey: apiKey, pkce: pkce)
            let (_, newKey) = try await h.directory.rotateKey(customerID: customer.id)
            #expect(try await h.callMCP(tokens.access).status == 401)
            #expect(try await h.refresh(client, tokens.refresh).json?["error"] == "invalid_grant")
            #expect(try await h.exchange(client, code: pending, pkce: pkce).json?["error"] == "invalid_grant")
            let second = try await h.exchange(client, code: try await h.code(client, apiKey: newKey, pkce: pkce), pkce: pkce)
            let access = try #require(second.json?["access_token"]?.stringValue)
            let refresh = try #require(second.json?["refresh_token"]?.stringValue)
            #expect(try await h.callMCP(access).status == 200)
            try await h.directory.revokeKeys(customerID: customer.id)
            #expect(try await h.callMCP(access).status == 401)
            #expect(try await h.refresh(client, refresh).json?["error"] == "invalid_grant")
            #expect(try h.auditEvents(customer.id).contains("oauth.refresh_refused"))
        }
    }

    @Test("malformed token requests get RFC 6749 errors with no-store")
    func malformed() async throws {
        try await withHarness { h in
            let (_, _, client, _) = try await h.signIn()
            let grant = try await h.post("/oauth/token", form: [("grant_type", "password")] + h.clientAuth(client))
            #expect(grant.status == 400 && grant.json?["error"] == "unsupported_grant_type")
            #expect(grant.header("cache-control") == "no-store")
            let json = try await h.postJSON("/oauth/token", ["grant_type": "refresh_token"])
            #expect(json.json?["error"] == "invalid_request")
            #expect(try h.oauth.verifyAccessToken("hk_somekey") == nil)
            #expect(try h.oauth.verifyAccessToken("hat_unknown") == nil)
        }
    }
}
