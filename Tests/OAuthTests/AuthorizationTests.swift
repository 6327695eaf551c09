import HTTP2
import Foundation
import JSON
@testable import OAuth
import Store
import Tenancy
import Testing

@Suite("OAuth authorization and consent")
struct AuthorizationTests {
    @Test("consent page escapes the client name and carries a CSRF token; approve redirects with code, state and iss")
    func consentApprove() async throws {
        try await withHarness { h in
            let (customer, key) = try await h.directory.create(email: "a@example.com", plan: "starter")
            let client = try await h.register(name: "<script>alert('x')</script> & Co")
            let pkce = OAuthHarness.PKCE()
            let form = try await h.openConsent(client, pkce: pkce)
            #expect(!form.page.contains("<script>alert"))
            #expect(form.page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"))
            #expect(form.page.contains("127.0.0.1:9"))
            let response = try await h.submit(form, apiKey: key)
            let parameters = try OAuthHarness.redirectParameters(response)
            #expect(response.header("location")?.hasPrefix(client.redirectURI + "?") == true)
            #expect(parameters["code"]?.hasPrefix("hac_") == true)
            #expect(parameters["state"] == "xyz")
            #expect(parameters["iss"] == h.base)
            #expect(try h.auditEvents(customer.id).contains("oauth.code_issued"))
        }
    }

    @Test("deny redirects with access_denied")
    func deny() async throws {
        try await withHarness { h in
            let client = try await h.register()
            let form = try await h.openConsent(client, pkce: .init())
            let parameters = try OAuthHarness.redirectParameters(try await h.submit(form, apiKey: nil, decision: "deny"))
            #expect(parameters["error"] == "access_denied")
            #expect(parameters["code"] == nil)
            #expect(parameters["state"] == "xyz")
        }
    }

    @Test("missing or wrong CSRF token is refused and spends the page")
    func csrf() async throws {
        try await withHarness { h in
            let (_, key) = try await h.directory.create(email: "b@example.com", plan: "starter")
            let client = try await h.register()
            let form = try await h.openConsent(client, pkce: .init())
            let wrong = try await h.submit(form, apiKey: key, csrf: String(form.csrf.reversed()))
            #expect(wrong.status == 403)
            #expect(wrong.header("location") == nil)
            // The page is single-use: even the right token no longer works.
            let retry = try await h.submit(form, apiKey: key)
            #expect(retry.status == 400 && retry.header("location") == nil)
            let other = try await h.openConsent(client, pkce: .init())
            let missing = try await h.post("/oauth/authorize", form: [("request_id", other.requestID), ("api_key", key), ("decision", "approve")])
            #expect(missing.status == 403 && missing.header("location") == nil)
            // A right token on a fresh page works once, then not again.
            let fresh = try await h.openConsent(client, pkce: .init())
            #expect(try await h.submit(fresh, apiKey: key).status == 302)
            #expect(try await h.submit(fresh, apiKey: key).status == 400)
        }
    }

    @Test("a wrong API key shows the page again with an error; a disabled customer's key is audited as a failed sign-in")
    func wrongKey() async throws {
        try await withHarness { h in
            let (customer, key) = try await h.directory.create(email: "c@example.com", plan: "starter")
            let client = try await h.register()
            let form = try await h.openConsent(client, pkce: .init())
            let wrong = try await h.submit(form, apiKey: "hk_not-a-real-key")
            #expect(wrong.status == 401)
            #expect(wrong.text.contains("not valid"))
            #expect(!wrong.text.contains("hk_not-a-real-key"))
            let second = try OAuthHarness.consentForm(wrong.text)
            #expect(second.csrf != form.csrf)
            _ = try await h.directory.setActive(false, customerID: customer.id)
            let disabled = try await h.submit(second, apiKey: key)
            #expect(disabled.status == 401 && disabled.text.contains("disabled"))
            #expect(try h.auditEvents(customer.id).contains("auth.sign_in_failed"))
            _ = try await h.directory.setActive(true, customerID: customer.id)
            let third = try OAuthHarness.consentForm(disabled.text)
            #expect(try await h.submit(third, apiKey: key).status == 302)
        }
    }

    /// Issue 18: plain GETs of the authorize endpoint from one address filled the shared pool of pending
    /// sign-ins, and every customer's consent page said too many sign-ins were in progress.
    @Test("pending sign-ins are bounded per address: one address gets 429, the others still get their consent page")
    func pendingSignInsPerAddress() async throws {
        // The harness's own connection (127.0.0.1) is the trusted proxy; X-Forwarded-For names each client.
        try await withHarness(trustedProxies: ["127.0.0.1"], configure: { $0.maximumPendingConsents = 30 }) { h in
            let (_, key) = try await h.directory.create(email: "flood@example.com", plan: "starter")
            let client = try await h.register()
            let flooder = [("X-Forwarded-For", "203.0.113.7")]
            for index in 0..<20 {
                let page = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: flooder)
                #expect(page.status == 200, "page \(index): \(page.status) \(page.text.prefix(300))")
            }
            let refused = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: flooder)
            #expect(refused.status == 429, "\(refused.status) \(refused.text.prefix(300))")
            #expect(Int(refused.header("retry-after") ?? "") ?? 0 > 0)
            #expect(refused.text.contains("from your address"))
            #expect(refused.header("location") == nil)
            // Another address still gets its page, and can finish signing in.
            let pkce = OAuthHarness.PKCE()
            let other = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: pkce), headers: [("X-Forwarded-For", "198.51.100.4")])
            #expect(other.status == 200, "\(other.status) \(other.text.prefix(300))")
            let approved = try await h.submit(try OAuthHarness.consentForm(other.text), apiKey: key)
            #expect(try OAuthHarness.redirectParameters(approved)["code"] != nil)
            // A finished page frees its place for its own address.
            let first = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: [("X-Forwarded-For", "198.51.100.5")])
            _ = try await h.submit(try OAuthHarness.consentForm(first.text), apiKey: nil, decision: "deny")
            #expect(try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: flooder).status == 429)
        }
    }

    @Test("pending sign-ins of one address free up when they expire (manual clock)")
    func pendingSignInsExpirePerAddress() async throws {
        try await withHarness(manualClock: true, trustedProxies: ["127.0.0.1"]) { h in
            let client = try await h.register()
            let flooder = [("X-Forwarded-For", "203.0.113.9")]
            for _ in 0..<20 { _ = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: flooder) }
            let refused = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: flooder)
            #expect(refused.status == 429)
            #expect(Int(refused.header("retry-after") ?? "") ?? 0 <= 600)
            h.clock!.advance(seconds: 601)
            let again = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()), headers: flooder)
            #expect(again.status == 200, "\(again.status) \(again.text.prefix(300))")
        }
    }

    @Test("wrong or unregistered redirect_uri is an error page, never a redirect")
    func redirectURIs() async throws {
        try await withHarness { h in
            let client = try await h.register()
            let pkce = OAuthHarness.PKCE()
            var other = client
            other.redirectURI = "https://evil.example/cb"
            let response = try await h.get("/oauth/authorize?" + h.authorizeQuery(other, pkce: pkce))
            #expect(response.status == 400)
            #expect(response.header("location") == nil)
            #expect(response.header("content-type")?.hasPrefix("text/html") == true)
            var unknown = client
            unknown.id = "hc_unknown"
            let unknownResponse = try await h.get("/oauth/authorize?" + h.authorizeQuery(unknown, pkce: pkce))
            #expect(unknownResponse.status == 400 && unknownResponse.header("location") == nil)
        }
    }

    /// RFC 8252 section 7.3: native apps listen on an ephemeral loopback port, so the port of a loopback
    /// redirect URI is not compared; everything else is.
    @Test("a loopback redirect URI matches on any port; every other part, and non-loopback URIs, match exactly")
    func loopbackRedirectPorts() async throws {
        try await withHarness { h in
            let (_, key) = try await h.directory.create(email: "native@example.com", plan: "starter")
            for (registered, used) in [
                ("http://127.0.0.1:9999/cb", "http://127.0.0.1:1234/cb"),
                ("http://[::1]:5555/cb?app=1", "http://[::1]:6666/cb?app=1"),
                ("http://localhost:80/cb", "http://localhost:41001/cb"),
                ("http://127.0.0.1/cb", "http://127.0.0.1:50123/cb"),
            ] {
                let client = try await h.register(redirectURI: registered)
                var atPort = client
                atPort.redirectURI = used
                let pkce = OAuthHarness.PKCE()
                let page = try await h.get("/oauth/authorize?" + h.authorizeQuery(atPort, pkce: pkce))
                #expect(page.status == 200, "\(registered) used as \(used): \(page.status) \(page.text.prefix(300))")
                guard page.status == 200 else { continue }
                let approved = try await h.submit(try OAuthHarness.consentForm(page.text), apiKey: key)
                #expect(approved.header("location")?.hasPrefix(used + (used.contains("?") ? "&" : "?")) == true, "\(approved.header("location") ?? "-")")
                let code = try #require(try OAuthHarness.redirectParameters(approved)["code"])
                // The token request names the URI the code was sent to.
                #expect(try await h.exchange(atPort, code: code, pkce: pkce, redirectURI: registered).json?["error"] == "invalid_grant")
                #expect(try await h.exchange(atPort, code: code, pkce: pkce).status == 200)
            }
            for (registered, used) in [
                ("http://127.0.0.1:9999/cb", "http://127.0.0.1:1234/other"),
                ("http://127.0.0.1:9999/cb", "http://localhost:9999/cb"),
                ("http://127.0.0.1:9999/cb", "http://127.0.0.1:1234/cb?x=1"),
                ("http://127.0.0.1:9999/cb", "https://127.0.0.1:1234/cb"),
                ("http://[::1]:5555/cb", "http://[::2]:5555/cb"),
                ("https://app.example/cb", "https://app.example:8443/cb"),
                ("https://localhost:8443/cb", "https://localhost:9443/cb"),
            ] {
                var client = try await h.register(redirectURI: registered)
                client.redirectURI = used
                let page = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: .init()))
                #expect(page.status == 400 && page.header("location") == nil, "\(registered) used as \(used): \(page.status)")
            }
        }
    }

    @Test("plain PKCE, missing PKCE, a foreign resource and unknown scopes go back to the client as errors")
    func requestErrors() async throws {
        try await withHarness { h in
            let client = try await h.register()
            let pkce = OAuthHarness.PKCE()
            let plain = try await h.get("/authorize?" + FormEncoding.encode([
                ("response_type", "code"), ("client_id", client.id), ("redirect_uri", client.redirectURI), ("state", "s"),
                ("code_challenge", pkce.verifier), ("code_challenge_method", "plain"),
            ]))
            #expect(try OAuthHarness.redirectParameters(plain)["error"] == "invalid_request")
            let none = try await h.get("/oauth/authorize?" + FormEncoding.encode([
                ("response_type", "code"), ("client_id", client.id), ("redirect_uri", client.redirectURI),
            ]))
            #expect(try OAuthHarness.redirectParameters(none)["error"] == "invalid_request")
            let foreign = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: pkce, resource: "https://other.example/mcp"))
            let foreignParameters = try OAuthHarness.redirectParameters(foreign)
            #expect(foreignParameters["error"] == "invalid_target")
            #expect(foreignParameters["state"] == "xyz")
            let scope = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: pkce, extra: []).replacingOccurrences(of: "scope=mcp%20offline_access", with: "scope=admin"))
            #expect(try OAuthHarness.redirectParameters(scope)["error"] == "invalid_scope")
            let token = try await h.get("/oauth/authorize?" + h.authorizeQuery(client, pkce: pkce).replacingOccurrences(of: "response_type=code", with: "response_type=token"))
            #expect(try OAuthHarness.redirectParameters(token)["error"] == "unsupported_response_type")
        }
    }
}
