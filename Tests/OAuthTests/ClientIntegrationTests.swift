import Foundation
import JSON
@testable import OAuth
import HTTPClient
import Store
import Tenancy
import TestSupport
import Testing

extension ChildProcess {
    /// Waits for the first line of output.
    func firstLine(seconds: Double = 20) async throws -> String {
        guard await waitUntil(seconds: seconds, { $0.output.contains("\n") }), let line = output.split(separator: "\n").first else {
            throw HarnessFailure(description: "no output from the child: \(error.suffix(2000))")
        }
        return String(line)
    }

    /// Closes stdin (that ends `cimd_server.py`) and waits a little for the end.
    func stop() async {
        closeInput()
        _ = await finish(seconds: 5)
    }
}

/// A throwaway CA and a certificate for localhost/127.0.0.1 signed by it, made with openssl.
struct TestCertificates {
    let directory: String
    var ca: String { directory + "/ca.pem" }
    var certificate: String { directory + "/server.pem" }
    var key: String { directory + "/server.key" }

    static func make() async throws -> TestCertificates {
        let directory = Paths.temporaryDirectory("certs")
        let script = """
        set -e
        cd '\(directory)'
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Hermes OAuth test CA' -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign' 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
        """
        let result = try await ChildProcess.run("/bin/sh", ["-c", script])
        guard result.status == 0 else { throw HarnessFailure(description: "openssl failed to make test certificates: \(result)") }
        return TestCertificates(directory: directory)
    }
}

@Suite("OAuth with real clients", .serialized)
struct ClientIntegrationTests {
    @Test("the Python MCP SDK's OAuthClientProvider completes discovery, registration, consent, token and refresh", arguments: ["client_secret_post", "none"])
    func pythonSDK(method: String) async throws {
        try await withHarness { h in
            let (customer, apiKey) = try await h.directory.create(email: "sdk@example.com", plan: "starter")
            let child = try ChildProcess.python(Paths.script("oauth_sdk_flow.py"), ["--url", h.base + "/mcp", "--api-key", apiKey, "--auth-method", method])
            let status = await child.finish(seconds: 90).status
            #expect(status == 0, "the SDK script failed: \(child.error.suffix(4000))")
            let line = try #require(child.output.split(separator: "\n").last.map(String.init), "no report: \(child.error.suffix(3000))")
            let report = try JSONParser.parse(line)
            #expect(report["consent_status"] == 200)
            #expect(report["consent_shows_name"] == true)
            #expect(report["consent_post_status"] == 302)
            #expect(report["resource"]?.stringValue == h.base + "/mcp")
            #expect(report["scope"]?.stringValue?.split(separator: " ").contains("offline_access") == true)
            #expect(report["registered_method"]?.stringValue == method)
            #expect(report["access_prefix"] == "hat_")
            #expect(report["refresh_prefix"] == "hrt_")
            let steps = try #require(report["steps"]?.arrayValue)
            #expect(steps.count == 2)
            for step in steps {
                #expect(step["status"] == 200, "\(step)")
                #expect(step["body"]?["customer"]?.stringValue == customer.id)
            }
            #expect(report["refreshed_access_differs"] == true)
            #expect(report["refreshed_refresh_differs"] == true)
            let events = try h.auditEvents(customer.id)
            #expect(events.contains("oauth.code_issued") && events.contains("oauth.token_issued") && events.contains("oauth.token_refreshed"))
        }
    }

    @Test("a Client ID Metadata Document client is fetched over https (test CA), checked and completes the flow")
    func metadataDocumentClient() async throws {
        let certificates = try await TestCertificates.make()
        let documents = try ChildProcess.python(Paths.script("cimd_server.py"), ["--cert", certificates.certificate, "--key", certificates.key])
        do {
            try await exerciseMetadataDocuments(documents, certificates)
        } catch {
            await documents.stop()
            throw error
        }
        await documents.stop()
    }

    private func exerciseMetadataDocuments(_ documents: ChildProcess, _ certificates: TestCertificates) async throws {
        let port = try #require(Int(try await documents.firstLine()))
        let origin = "https://localhost:\(port)"
        let setter = HTTPClient(configuration: .init(allowsPrivateAddresses: true, caBundlePath: certificates.ca))
        func publish(_ path: String, _ document: JSONValue) async throws {
            let response = try await setter.send(.init(method: "POST", url: origin + "/_set?path=" + path, body: JSONWriter.encode(document)))
            #expect(response.status == 204)
        }
        try await withHarness(configure: {
            $0.clientMetadataDocuments.caBundlePath = certificates.ca
            $0.clientMetadataDocuments.allowsPrivateAddresses = true
        }) { h in
            let (customer, apiKey) = try await h.directory.create(email: "cimd@example.com", plan: "starter")
            let good = origin + "/clients/good.json"
            try await publish("/clients/good.json", ["client_id": .string(good), "client_name": "CIMD Test App", "redirect_uris": ["http://127.0.0.1:9/callback"], "token_endpoint_auth_method": "none"])
            let client = OAuthHarness.Registered(id: good, secret: nil, redirectURI: "http://127.0.0.1:9/callback")
            let pkce = OAuthHarness.PKCE()
            let form = try await h.openConsent(client, pkce: pkce)
            #expect(form.page.contains("CIMD Test App"))
            let parameters = try OAuthHarness.redirectParameters(try await h.submit(form, apiKey: apiKey))
            let code = try #require(parameters["code"])
            let tokens = try await h.exchange(client, code: code, pkce: pkce)
            #expect(tokens.status == 200, "\(tokens.text)")
            let access = try #require(tokens.json?["access_token"]?.stringValue)
            let call = try await h.callMCP(access)
            #expect(call.json?["client"]?.stringValue == good)
            #expect(call.json?["customer"]?.stringValue == customer.id)

            // A document naming another client_id is refused.
            let liar = origin + "/clients/liar.json"
            try await publish("/clients/liar.json", ["client_id": "https://someone-else.example/client.json", "redirect_uris": ["http://127.0.0.1:9/callback"]])
            let refused = try await h.get("/oauth/authorize?" + h.authorizeQuery(.init(id: liar, secret: nil, redirectURI: "http://127.0.0.1:9/callback"), pkce: pkce))
            #expect(refused.status == 400 && refused.header("location") == nil)
            #expect(refused.text.contains("different client_id"))
            // A redirect URI the document does not list is refused.
            let wrongRedirect = try await h.get("/oauth/authorize?" + h.authorizeQuery(.init(id: good, secret: nil, redirectURI: "http://127.0.0.1:9/elsewhere"), pkce: pkce))
            #expect(wrongRedirect.status == 400 && wrongRedirect.header("location") == nil)
            // A missing document is refused, and so is an unknown client at the token endpoint.
            let missing = origin + "/clients/missing.json"
            let notFound = try await h.get("/oauth/authorize?" + h.authorizeQuery(.init(id: missing, secret: nil, redirectURI: "http://127.0.0.1:9/callback"), pkce: pkce))
            #expect(notFound.status == 400 && notFound.text.contains("404"))
            let token = try await h.refresh(.init(id: missing, secret: nil, redirectURI: ""), "hrt_x")
            #expect(token.status == 401 && token.json?["error"] == "invalid_client")
        }
        // Without the test CA the certificate is not trusted: the fetch fails, nothing is accepted.
        try await withHarness(configure: { $0.clientMetadataDocuments.allowsPrivateAddresses = true }) { h in
            let good = origin + "/clients/good.json"
            let page = try await h.get("/oauth/authorize?" + h.authorizeQuery(.init(id: good, secret: nil, redirectURI: "http://127.0.0.1:9/callback"), pkce: .init()))
            #expect(page.status == 400 && page.text.contains("TLS"))
        }
        // By default a client_id on this host is never fetched (server-side request forgery), by name or by
        // address, even with the CA trusted; the refusal says why.
        try await withHarness(configure: { $0.clientMetadataDocuments.caBundlePath = certificates.ca }) { h in
            for host in ["localhost", "127.0.0.1"] {
                let local = "https://\(host):\(port)/clients/good.json"
                let page = try await h.get("/oauth/authorize?" + h.authorizeQuery(.init(id: local, secret: nil, redirectURI: "http://127.0.0.1:9/callback"), pkce: .init()))
                #expect(page.status == 400 && page.header("location") == nil)
                #expect(page.text.contains("private or local address"), "\(page.text)")
            }
        }
    }

    /// Issue 18 (the other unauthenticated entry points): an https `client_id` makes the server fetch it,
    /// and the fetches share a few slots, so one address naming slow servers could hold every slot while
    /// everyone else's sign-in waited.
    @Test("client metadata document fetches are bounded per address: a third at once from one address gets 429, another address is served")
    func metadataFetchesPerAddress() async throws {
        let certificates = try await TestCertificates.make()
        let documents = try ChildProcess.python(Paths.script("cimd_server.py"), ["--cert", certificates.certificate, "--key", certificates.key])
        do {
            let port = try #require(Int(try await documents.firstLine()))
            let origin = "https://localhost:\(port)"
            try await withHarness(trustedProxies: ["127.0.0.1"], configure: {
                $0.clientMetadataDocuments.caBundlePath = certificates.ca
                $0.clientMetadataDocuments.allowsPrivateAddresses = true
            }) { h in
                @Sendable func slow(_ name: String) -> OAuthHarness.Registered {
                    OAuthHarness.Registered(id: origin + "/slow/4000/\(name).json", secret: nil, redirectURI: "http://127.0.0.1:9/callback")
                }
                let flooder = [("X-Forwarded-For", "203.0.113.7")]
                let firstPath = "/oauth/authorize?" + h.authorizeQuery(slow("a"), pkce: .init())
                let secondPath = "/oauth/authorize?" + h.authorizeQuery(slow("b"), pkce: .init())
                async let first = h.get(firstPath, headers: flooder)
                async let second = h.get(secondPath, headers: flooder)
                let deadline = ContinuousClock.now + .seconds(20)
                while h.oauth.metadataFetches.count(for: "203.0.113.7") < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(h.oauth.metadataFetches.count(for: "203.0.113.7") == 2)
                let third = try await h.get("/oauth/authorize?" + h.authorizeQuery(slow("c"), pkce: .init()), headers: flooder)
                #expect(third.status == 429, "\(third.status) \(third.text.prefix(300))")
                #expect(third.header("retry-after") == "5")
                #expect(third.text.contains("from your address"))
                let token = try await h.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", "hrt_x"), ("client_id", slow("d").id)], headers: flooder)
                #expect(token.status == 429 && token.json?["error"] == "too_many_requests" && token.header("retry-after") == "5", "\(token.status) \(token.text)")
                // Another address is fetched at once, while the first address's fetches still run.
                let quick = OAuthHarness.Registered(id: origin + "/clients/unpublished.json", secret: nil, redirectURI: "http://127.0.0.1:9/callback")
                let other = try await h.get("/oauth/authorize?" + h.authorizeQuery(quick, pkce: .init()), headers: [("X-Forwarded-For", "198.51.100.4")])
                #expect(other.status == 400 && other.text.contains("404"), "\(other.status) \(other.text.prefix(300))")
                #expect(h.oauth.metadataFetches.count(for: "203.0.113.7") == 2)
                for response in try await [first, second] { #expect(response.status == 400 && response.text.contains("404")) }
                #expect(h.oauth.metadataFetches.count(for: "203.0.113.7") == 0)
            }
        } catch {
            await documents.stop()
            throw error
        }
        await documents.stop()
    }

    @Test("the libcurl client enforces the size cap and https-only")
    func httpClientLimits() async throws {
        try await withHarness { h in
            let small = HTTPClient(configuration: .init(maximumResponseBytes: 64, allowsPlainHTTP: true, allowsPrivateAddresses: true))
            await #expect(throws: HTTPClientError.self) { _ = try await small.get(h.base + "/.well-known/oauth-authorization-server") }
            let httpsOnly = HTTPClient()
            do {
                _ = try await httpsOnly.get(h.base + "/.well-known/oauth-authorization-server")
                Issue.record("plain http was fetched")
            } catch {
                #expect((error as? HTTPClientError)?.code == .refusedURL)
            }
            let ok = try await h.get("/.well-known/oauth-protected-resource")
            #expect(ok.status == 200 && ok.header("content-type") == "application/json")
        }
    }
}
