import Crypto
import Foundation
import HTTP2
import Routing
import JSON
import Logging
@testable import OAuth
import HTTPClient
import Store
import Synchronization
import Tenancy
import Testing

/// Paths of the test files and tools.
enum Paths {
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Clients")
    static func script(_ name: String) -> String { clients.appendingPathComponent(name).path }

    static func temporaryDirectory(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.path + "/hermes-oauth-tests/\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    var description: String
}

/// Routes set after the server has started (the issuer needs the port, the server needs a router).
final class LateRouter: Sendable {
    private let router = Mutex<Router?>(nil)
    func set(_ value: Router) { router.withLock { $0 = value } }
    func respond(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let router = router.withLock({ $0 }) else { return .error(503, "not ready") }
        return try await router.respond(to: request)
    }
}

/// An OAuth server on loopback with a real store, a customer directory, and a stand-in protected `/mcp`
/// that answers 401 with `WWW-Authenticate: Bearer resource_metadata=…` unless a valid token for
/// `<issuer>/mcp` is presented, and then echoes the grant.
final class OAuthHarness: Sendable {
    let store: Store
    let clock: ManualWallClock?
    let directory: CustomerDirectory
    let audit: AuditLog
    let oauth: OAuthServer
    let server: HTTPServer
    let port: Int
    let http = HTTPClient(configuration: .init(timeout: .seconds(30), allowsPlainHTTP: true, allowsPrivateAddresses: true))

    var base: String { "http://127.0.0.1:\(port)" }

    private init(store: Store, clock: ManualWallClock?, directory: CustomerDirectory, audit: AuditLog, oauth: OAuthServer, server: HTTPServer, port: Int) {
        self.store = store
        self.clock = clock
        self.directory = directory
        self.audit = audit
        self.oauth = oauth
        self.server = server
        self.port = port
    }

    static func start(
        _ name: String = #function, manualClock: Bool = false, trustedProxies: [String] = [],
        configure: (inout OAuthConfiguration) -> Void = { _ in }
    ) async throws -> OAuthHarness {
        let clock = manualClock ? ManualWallClock(SystemWallClock().now()) : nil
        let store = try Store(StoreConfiguration(location: .directory(Paths.temporaryDirectory(name)), mapSize: 64 << 20, clock: clock ?? SystemWallClock()))
        let late = LateRouter()
        var outer = Router()
        for method in [HTTPMethod.get, .post, .options, .delete] {
            outer.add(method, "*") { request in try await late.respond(request) }
        }
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoopThreads: 1, trustedProxies: try TrustedProxies(trustedProxies)),
            router: outer, logger: Logger(label: "hermes.oauth.test.http") { _ in SwiftLogNoOpLogHandler() }
        )
        try await server.start()
        let port = try #require(server.localPort)
        var configuration = OAuthConfiguration(issuer: "http://127.0.0.1:\(port)/")
        configure(&configuration)
        let directory = CustomerDirectory(store: store)
        let audit = AuditLog(store: store)
        let oauth = try OAuthServer(configuration: configuration, store: store, directory: directory, audit: audit, logger: Logger(label: "hermes.oauth.test") { _ in SwiftLogNoOpLogHandler() })
        var router = Router()
        oauth.register(in: &router)
        router.add(.post, "/mcp") { request in Self.protected(request, oauth) }
        router.add(.get, "/mcp") { request in Self.protected(request, oauth) }
        late.set(router)
        return OAuthHarness(store: store, clock: clock, directory: directory, audit: audit, oauth: oauth, server: server, port: port)
    }

    /// What the lead's auth step does with a bearer token, in miniature.
    private static func protected(_ request: HTTPRequest, _ oauth: OAuthServer) -> HTTPResponse {
        let header = request.headers["authorization"] ?? ""
        guard header.hasPrefix("Bearer ") else {
            return .error(401, "sign in", headers: ["www-authenticate": oauth.bearerChallenge()])
        }
        do {
            guard let grant = try oauth.verifyAccessToken(String(header.dropFirst(7))), grant.resource == oauth.mcpResource else {
                return .error(401, "invalid token", headers: ["www-authenticate": oauth.bearerChallenge(invalidToken: true)])
            }
            return .json(JSONWriter.encode(["customer": .string(grant.customerID), "client": .string(grant.clientID), "scope": .array(grant.scope.map { .string($0) })]))
        } catch let error as DisabledCustomerError {
            return .error(403, error.description)
        } catch {
            return .error(500, "\(error)")
        }
    }

    func stop() async {
        await server.shutdown()
        store.close()
    }

    // MARK: Requests

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPClient.Response {
        try await http.send(.init(url: path.hasPrefix("http") ? path : base + path, headers: headers))
    }

    func post(_ path: String, form: [(String, String)], headers: [(String, String)] = []) async throws -> HTTPClient.Response {
        try await http.send(.init(method: "POST", url: base + path, headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers,
                                  body: Array(FormEncoding.encode(form).utf8)))
    }

    func postJSON(_ path: String, _ value: JSONValue) async throws -> HTTPClient.Response {
        try await http.send(.init(method: "POST", url: base + path, headers: [("Content-Type", "application/json")], body: JSONWriter.encode(value)))
    }

    // MARK: Flow steps

    struct Registered {
        var id: String
        var secret: String?
        var redirectURI: String
    }

    func register(method: String = "none", redirectURI: String = "http://127.0.0.1:9/callback", name: String = "Test client") async throws -> Registered {
        let response = try await postJSON("/oauth/register", [
            "client_name": .string(name), "redirect_uris": [.string(redirectURI)], "token_endpoint_auth_method": .string(method),
            "grant_types": ["authorization_code", "refresh_token"],
        ])
        guard response.status == 201, let body = try? JSONParser.parse(response.body), let id = body["client_id"]?.stringValue else {
            throw HarnessFailure(description: "registration failed: \(response.status) \(response.text)")
        }
        return Registered(id: id, secret: body["client_secret"]?.stringValue, redirectURI: redirectURI)
    }

    struct PKCE {
        var verifier: String
        var challenge: String
        init() {
            verifier = RandomToken.urlSafe(byteCount: 48)
            challenge = Base64.encode(SHA256.digest(of: verifier), variant: .urlSafeUnpadded)
        }
    }

    /// The authorize query for `client`.
    func authorizeQuery(_ client: Registered, pkce: PKCE, resource: String? = nil, state: String = "xyz", extra: [(String, String)] = []) -> String {
        var pairs: [(String, String)] = [
            ("response_type", "code"), ("client_id", client.id), ("redirect_uri", client.redirectURI), ("state", state),
            ("code_challenge", pkce.challenge), ("code_challenge_method", "S256"), ("scope", "mcp offline_access"),
        ]
        pairs.append(("resource", resource ?? oauth.mcpResource))
        return FormEncoding.encode(pairs + extra)
    }

    struct ConsentForm {
        var requestID: String
        var csrf: String
        var page: String
    }

    static func consentForm(_ page: String) throws -> ConsentForm {
        func hidden(_ name: String) throws -> String {
            guard let range = page.range(of: "name=\"\(name)\" value=\""),
                  let end = page[range.upperBound...].firstIndex(of: "\"")
            else { throw HarnessFailure(description: "no hidden field \(name) in the page: \(page.prefix(1500))") }
            return String(page[range.upperBound..<end])
        }
        return ConsentForm(requestID: try hidden("request_id"), csrf: try hidden("csrf"), page: page)
    }

    /// Opens the consent page for `client`.
    func openConsent(_ client: Registered, pkce: PKCE, resource: String? = nil) async throws -> ConsentForm {
        let page = try await get("/oauth/authorize?" + authorizeQuery(client, pkce: pkce, resource: resource))
        guard page.status == 200 else { throw HarnessFailure(description: "consent page: \(page.status) \(page.text.prefix(800))") }
        return try Self.consentForm(page.text)
    }

    /// Submits a consent form; returns the response (302 on approve or deny).
    func submit(_ form: ConsentForm, apiKey: String?, decision: String = "approve", csrf: String? = nil) async throws -> HTTPClient.Response {
        var fields = [("request_id", form.requestID), ("csrf", csrf ?? form.csrf), ("decision", decision)]
        if let apiKey { fields.append(("api_key", apiKey)) }
        return try await post("/oauth/authorize", form: fields)
    }

    /// The query parameters of a redirect's Location.
    static func redirectParameters(_ response: HTTPClient.Response) throws -> [String: String] {
        guard response.status == 302, let location = response.header("location"), let mark = location.firstIndex(of: "?") else {
            throw HarnessFailure(description: "expected a redirect, got \(response.status) \(response.text.prefix(500))")
        }
        return Dictionary(FormEncoding.decode(String(location[location.index(after: mark)...])).map { ($0.name, $0.value) }) { first, _ in first }
    }

    /// Runs authorize → consent → code for `client` and `apiKey`.
    func code(_ client: Registered, apiKey: String, pkce: PKCE, resource: String? = nil) async throws -> String {
        let form = try await openConsent(client, pkce: pkce, resource: resource)
        let parameters = try Self.redirectParameters(try await submit(form, apiKey: apiKey))
        guard let code = parameters["code"] else { throw HarnessFailure(description: "no code in \(parameters)") }
        return code
    }

    func clientAuth(_ client: Registered) -> [(String, String)] {
        var fields = [("client_id", client.id)]
        if let secret = client.secret { fields.append(("client_secret", secret)) }
        return fields
    }

    func exchange(_ client: Registered, code: String, pkce: PKCE, redirectURI: String? = nil, resource: String? = nil) async throws -> HTTPClient.Response {
        var fields = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI ?? client.redirectURI), ("code_verifier", pkce.verifier)]
        fields.append(("resource", resource ?? oauth.mcpResource))
        return try await post("/oauth/token", form: fields + clientAuth(client))
    }

    func refresh(_ client: Registered, _ token: String) async throws -> HTTPClient.Response {
        try await post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", token)] + clientAuth(client))
    }

    struct Tokens {
        var access: String
        var refresh: String
    }

    /// A customer plus a completed flow: registered client, tokens.
    func signIn(method: String = "none") async throws -> (customer: CustomerRecord, apiKey: String, client: Registered, tokens: Tokens) {
        let (customer, apiKey) = try await directory.create(email: "c\(UUID().uuidString.prefix(6))@example.com", plan: "starter")
        let client = try await register(method: method)
        let pkce = PKCE()
        let code = try await code(client, apiKey: apiKey, pkce: pkce)
        let response = try await exchange(client, code: code, pkce: pkce)
        let body = try JSONParser.parse(response.body)
        guard response.status == 200, let access = body["access_token"]?.stringValue, let refresh = body["refresh_token"]?.stringValue else {
            throw HarnessFailure(description: "token exchange failed: \(response.status) \(response.text)")
        }
        return (customer, apiKey, client, Tokens(access: access, refresh: refresh))
    }

    /// The stand-in MCP endpoint's answer for `token`.
    func callMCP(_ token: String) async throws -> HTTPClient.Response {
        try await http.send(.init(method: "POST", url: base + "/mcp", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: Array("{}".utf8)))
    }

    /// Today's audit events of a customer.
    func auditEvents(_ customerID: String) throws -> [String] {
        try audit.records(customerID: customerID, day: CalendarDay(store.clock.now())).map(\.event)
    }
}

extension HTTPClient.Response {
    var json: JSONValue? { try? JSONParser.parse(body) }
}

/// Runs `body` with a started harness and always stops it.
func withHarness<T>(_ name: String = #function, manualClock: Bool = false, trustedProxies: [String] = [], configure: (inout OAuthConfiguration) -> Void = { _ in },
                    _ body: (OAuthHarness) async throws -> T) async throws -> T {
    let harness = try await OAuthHarness.start(name, manualClock: manualClock, trustedProxies: trustedProxies, configure: configure)
    do {
        let result = try await body(harness)
        await harness.stop()
        return result
    } catch {
        await harness.stop()
        throw error
    }
}
