import Crypto
import Glibc
import Logging
import HTTP2
import Routing
import Hermes
import JSON
import OAuth
import Store
import Tenancy

/// `hermes-bench auth`: what the auth step plus metering adds to one request — the ``TenantAuthenticator``
/// (key or token lookup, customer record, request rate) and the tool-call quota — timed call by call on a
/// real store, for a customer API key and for an OAuth access token.
struct AuthBenchmark {
    static let usage = """
        usage: hermes-bench auth [--requests N] [--json] [--scratch DIR]

        Times TenantAuthenticator.authenticate + MeteredToolCalls.admit per request (median, p99), for
        an API key (x-api-key) and an OAuth bearer token, against the single-user static-key check.
        """

    var requests = 100_000
    var json = false
    var scratchParent = "/var/tmp"

    init(arguments: [String]) throws {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--json": json = true
            case "--requests":
                guard let value = rest.popFirst().flatMap(Int.init), value > 0 else { throw BenchmarkUsageError("--requests needs a positive number") }
                requests = value
            case "--scratch":
                guard let value = rest.popFirst() else { throw BenchmarkUsageError("--scratch needs a directory") }
                scratchParent = value
            default: throw BenchmarkUsageError("unknown option \(argument)\n\n\(Self.usage)")
            }
        }
    }

    func run() async throws -> Int32 {
        let reporter = Reporter(descriptor: json ? 2 : 1)
        let directory = "\(scratchParent)/hermes-bench-auth-\(getpid())"
        mkdir(directory, 0o700)
        defer { removeTree(directory) }
        let clock = ManualWallClock()
        let store = try Store(StoreConfiguration(location: .directory(directory), mapSize: 256 << 20, clock: clock))
        defer { store.close() }

        let customers = CustomerDirectory(store: store)
        // A few thousand customers, so lookups walk a realistic B-tree.
        for index in 0..<2_000 { _ = try await customers.create(email: "c\(index)@bench.example", plan: "growth") }
        let (_, apiKey) = try await customers.create(email: "measured@bench.example", plan: "enterprise")
        let meter = UsageMeter(store: store)
        let resource = ProtectedResource(publicURL: "https://hermes.bench.example")
        let oauth = try OAuthServer(
            configuration: OAuthConfiguration(issuer: resource.publicURL), store: store, directory: customers,
            audit: AuditLog(store: store), logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        )
        let authenticator = TenantAuthenticator(
            directory: customers, meter: meter, tokens: oauth,
            singleUser: StaticAPIKeyAuthenticator(apiKey: "unused"), resource: resource, credentials: NoCredentials()
        )
        let admission = MeteredToolCalls(meter: meter)
        // The enterprise plan allows 3,000 requests a minute: advance the clock 20 ms per request so the
        // rate limiter is exercised on its allowing path, as a well-behaved client would.
        let step: Int64 = 60_000 / Int64(Plan.enterprise.requestsPerMinute)

        func measure(_ request: HTTPRequest, authenticator: any CallerAuthenticator, metered: Bool) async -> LatencySummary {
            var samples = [UInt64](repeating: 0, count: requests)
            for index in 0..<requests {
                clock.set(clock.now().adding(milliseconds: step))
                let started = monotonicNanoseconds()
                guard case .authenticated(let customer) = await authenticator.authenticate(request) else { fatalError("refused during the benchmark") }
                if metered, admission.admit(tool: "whoami", customer: customer) != .allowed { fatalError("quota refused during the benchmark") }
                samples[index] = monotonicNanoseconds() - started
            }
            return LatencySummary(samples)
        }

        let keyRequest = HTTPRequest(method: .post, path: "/mcp", headers: ["x-api-key": apiKey])
        let staticRequest = HTTPRequest(method: .post, path: "/mcp", headers: ["authorization": "Bearer single-user-static-key"])
        let staticAuthenticator = StaticAPIKeyAuthenticator(apiKey: "single-user-static-key")

        _ = await measure(keyRequest, authenticator: authenticator, metered: true)  // warm-up
        let key = await measure(keyRequest, authenticator: authenticator, metered: true)
        // Access tokens live an hour and the series moves the clock by `requests` × 20 ms: take a fresh one.
        guard Int64(requests) * step < 3_000_000 else { throw BenchmarkUsageError("--requests must stay under 150,000 so the access token outlives the series") }
        let accessToken = try await Self.accessToken(from: oauth, apiKey: apiKey, resource: resource.mcp)
        let tokenRequest = HTTPRequest(method: .post, path: "/mcp", headers: ["authorization": "Bearer \(accessToken)"])
        let token = await measure(tokenRequest, authenticator: authenticator, metered: true)
        let single = await measure(staticRequest, authenticator: staticAuthenticator, metered: false)

        reporter.line("auth + metering per request (\(requests) requests each)")
        for (name, summary) in [("api key", key), ("oauth bearer", token), ("single-user static key", single)] {
            reporter.line("  \(padded(name, 24)) median \(microseconds(summary.median))  p99 \(microseconds(summary.p99))")
        }
        if json {
            var object = JSONObject()
            object.set("hermes.auth.requests", requests)
            object.set("hermes.auth.api_key.median_us", Double(key.median) / 1000)
            object.set("hermes.auth.api_key.p99_us", Double(key.p99) / 1000)
            object.set("hermes.auth.oauth_bearer.median_us", Double(token.median) / 1000)
            object.set("hermes.auth.oauth_bearer.p99_us", Double(token.p99) / 1000)
            object.set("hermes.auth.single_user.median_us", Double(single.median) / 1000)
            writeStandardOutput(object.render() + "\n")
        }
        return 0
    }
}

extension AuthBenchmark {
    /// An access token obtained the way a client gets one: registration, the consent form signed with the
    /// customer's API key, and the code exchange with PKCE, through the server's own routes.
    static func accessToken(from oauth: OAuthServer, apiKey: String, resource: String) async throws -> String {
        var router = Router()
        oauth.register(in: &router)
        func send(_ method: HTTPMethod, _ path: String, query: String? = nil, contentType: String? = nil, body: String = "") async throws -> HTTPResponse {
            var headers = HTTPHeaders()
            if let contentType { headers.add("content-type", contentType) }
            return try await router.respond(to: HTTPRequest(method: method, path: path, query: query, headers: headers, body: Array(body.utf8), remoteAddress: "127.0.0.1"))
        }
        func bytes(_ response: HTTPResponse) -> [UInt8] { if case .bytes(let body) = response.body { body } else { [] } }
        func form(_ pairs: [(String, String)]) -> String { FormEncoding.encode(pairs) }

        let redirect = "http://127.0.0.1:9/callback"
        let registration = try await send(.post, "/oauth/register", contentType: "application/json", body: #"{"client_name":"bench","redirect_uris":["\#(redirect)"],"token_endpoint_auth_method":"none"}"#)
        guard let clientID = (try? JSONParser.parse(bytes(registration)))?["client_id"]?.stringValue else { throw BenchmarkUsageError("registration failed") }
        let verifier = RandomToken.urlSafe(byteCount: 48)
        let challenge = Base64.encode(SHA256.digest(of: verifier), variant: .urlSafeUnpadded)
        let query = form([
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirect), ("state", "s"),
            ("code_challenge", challenge), ("code_challenge_method", "S256"), ("scope", "mcp offline_access"), ("resource", resource),
        ])
        let page = String(decoding: bytes(try await send(.get, "/oauth/authorize", query: query)), as: UTF8.self)
        func hidden(_ name: String) -> String {
            guard let start = page.range(of: "name=\"\(name)\" value=\""), let end = page[start.upperBound...].firstIndex(of: "\"") else { return "" }
            return String(page[start.upperBound..<end])
        }
        let consent = try await send(.post, "/oauth/authorize", contentType: "application/x-www-form-urlencoded", body: form([
            ("request_id", hidden("request_id")), ("csrf", hidden("csrf")), ("api_key", apiKey), ("decision", "approve"),
        ]))
        guard let location = consent.headers["location"], let codeStart = location.range(of: "code=") else { throw BenchmarkUsageError("consent gave no code") }
        let code = String(location[codeStart.upperBound...].prefix { $0 != "&" })
        let token = try await send(.post, "/oauth/token", contentType: "application/x-www-form-urlencoded", body: form([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("code_verifier", verifier),
            ("client_id", clientID), ("resource", resource),
        ]))
        guard let access = (try? JSONParser.parse(bytes(token)))?["access_token"]?.stringValue else { throw BenchmarkUsageError("token exchange failed") }
        return access
    }
}

struct BenchmarkUsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
