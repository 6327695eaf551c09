import Crypto
import Foundation
import Hermes
import HTTPClient
import Store
import Tenancy
import Testing

/// One HTTP/1.1 exchange through libcurl (the Platforms module's client, in process: no child process per request).
struct CurlResponse {
    var status: Int
    var headers: [String: String]
    var body: String

    static let client = HTTPClient(configuration: HTTPClient.Configuration(allowsPlainHTTP: true, allowsPrivateAddresses: true))

    static func send(_ method: String, _ url: String, headers: [String: String] = [:], body: String? = nil) async throws -> CurlResponse {
        let response = try await client.send(HTTPClient.Request(
            method: method, url: url, headers: headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, body: body.map { Array($0.utf8) }
        ))
        var parsed: [String: String] = [:]
        for header in response.headers { parsed[header.name.lowercased()] = header.value }
        return CurlResponse(status: response.status, headers: parsed, body: response.text)
    }

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
}

/// A client of the daemon's MCP endpoint with one customer's credential.
struct MCPCaller {
    let base: String
    let headers: [String: String]
    var session: String?

    init(base: String, key: String, header: String = "authorization") {
        self.base = base
        headers = header == "authorization" ? ["Authorization": "Bearer \(key)"] : [header: key]
    }

    mutating func initialize() async throws -> CurlResponse {
        let response = try await post(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"daemon-test","version":"1"}}}"#)
        session = response.headers["mcp-session-id"]
        return response
    }

    func call(_ tool: String, _ arguments: String = "{}", id: Int = 2) async throws -> CurlResponse {
        try await post(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(tool)","arguments":\#(arguments)}}"#)
    }

    func post(_ body: String) async throws -> CurlResponse {
        var all = headers.merging(["Content-Type": "application/json", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"]) { $1 }
        if let session { all["Mcp-Session-Id"] = session }
        return try await CurlResponse.send("POST", base + "/mcp", headers: all, body: body)
    }

    /// `structuredContent` of a tools/call answer.
    static func structured(_ response: CurlResponse) -> [String: Any] {
        ((response.json["result"] as? [String: Any])?["structuredContent"] as? [String: Any]) ?? [:]
    }
}

@Suite("Customers through the daemon", .serialized)
struct TenancyDaemonTests {
    static let masterKey = String(repeating: "5a", count: 32)

    static func cli(_ arguments: [String], state: String) async throws -> (status: Int32?, output: String, error: String) {
        try await DaemonProcess.run(["customers"] + arguments + ["--state-dir", state])
    }

    static func apiKey(in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix("api key:") }.map { String($0.dropFirst("api key:".count)).trimmingCharacters(in: .whitespaces) }
    }

    @Test func customersReplaceTheSingleUserAndNeverSeeEachOther() async throws {
        let state = temporaryStateDirectory()
        let daemon = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"], environment: ["MCP_API_KEY": "single-user-key", "CREDENTIAL_ENCRYPTION_KEY": Self.masterKey])
        #expect(try await daemon.waitFor("hermes ready"))
        let port = try DaemonHTTPTests.port(of: daemon)
        let base = "http://127.0.0.1:\(port)"

        // Single-user mode while no customer exists.
        let single = try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer single-user-key"])
        #expect(single.status == 200)
        #expect(single.json["mode"] as? String == "single-user")
        let empty = try await Self.cli(["list"], state: state)
        #expect(empty.output.contains("single-user mode"))

        // Two customers, created while the daemon runs.
        let createdA = try await Self.cli(["create", "--email", "ada@example.com", "--plan", "free"], state: state)
        #expect(createdA.status == 0, "\(createdA.error)")
        let createdB = try await Self.cli(["create", "--email", "bob@example.com", "--plan", "starter"], state: state)
        let keyA = try #require(Self.apiKey(in: createdA.output))
        let keyB = try #require(Self.apiKey(in: createdB.output))
        #expect(keyA.hasPrefix("hk_") && keyA != keyB)
        let idA = try #require(createdA.output.split(separator: "\n").first { $0.hasPrefix("customer:") }?.split(separator: " ").last.map(String.init))
        let idB = try #require(createdB.output.split(separator: "\n").first { $0.hasPrefix("customer:") }?.split(separator: " ").last.map(String.init))
        let duplicate = try await Self.cli(["create", "--email", "ADA@example.com"], state: state)
        #expect(duplicate.status != 0 && duplicate.error.contains("exists already"))

        // The static key stops working; the challenge points OAuth clients at the resource metadata.
        let refused = try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer single-user-key"])
        #expect(refused.status == 401)
        #expect(refused.headers["www-authenticate"] == "Bearer resource_metadata=\"\(base)/.well-known/oauth-protected-resource\", error=\"invalid_token\"")
        let anonymousMCP = try await CurlResponse.send("POST", base + "/mcp", headers: ["Content-Type": "application/json"], body: "{}")
        #expect(anonymousMCP.status == 401)
        #expect(anonymousMCP.headers["www-authenticate"] == "Bearer resource_metadata=\"\(base)/.well-known/oauth-protected-resource/mcp\"")

        // Each key reaches its own customer, by either header.
        let usageA = try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": keyA])
        #expect(usageA.status == 200)
        #expect(usageA.json["customer"] as? String == idA)
        #expect((usageA.json["limits"] as? [String: Any])?["monthly_tool_calls"] as? Int == 500)

        // B has a sealed Telegram credential, A has none: neither sees the other's.
        let store = try Store(StoreConfiguration(location: .directory(state), mapSize: 1 << 30))
        try CryptoLibrary.initialize()
        let vault = CredentialVault(store: store, keyRing: try KeyRing(parsing: Self.masterKey))
        try await vault.save(Array("bot-token-of-bob".utf8), customerID: idB, platform: "telegram")
        store.close()

        var callerA = MCPCaller(base: base, key: keyA)
        var callerB = MCPCaller(base: base, key: keyB, header: "x-api-key")
        #expect(try await callerA.initialize().status == 200)
        #expect(try await callerB.initialize().status == 200)
        let whoA = MCPCaller.structured(try await callerA.call("whoami"))
        let whoB = MCPCaller.structured(try await callerB.call("whoami"))
        #expect(whoA["customer"] as? String == idA && whoA["plan"] as? String == "free" && whoA["mode"] as? String == "customer")
        #expect(whoA["platforms"] as? [String] == [])
        #expect(whoB["customer"] as? String == idB && whoB["platforms"] as? [String] == ["telegram"])
        _ = try await callerA.call("sandbox_send_message", #"{"to":"carol","text":"from ada"}"#, id: 3)
        let readB = MCPCaller.structured(try await callerB.call("sandbox_read_messages", #"{"to":"carol"}"#, id: 4))
        #expect((readB["messages"] as? [Any])?.isEmpty == true)
        let readA = MCPCaller.structured(try await callerA.call("sandbox_read_messages", #"{"to":"carol"}"#, id: 5))
        #expect((readA["messages"] as? [[String: Any]])?.first?["text"] as? String == "from ada")
        // B's session id is useless with A's key.
        var stolen = MCPCaller(base: base, key: keyA)
        stolen.session = callerB.session
        #expect(try await stolen.call("whoami").status == 404)

        // Disable, enable, rotate.
        #expect(try await Self.cli(["disable", "ada@example.com"], state: state).status == 0)
        let disabled = try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": keyA])
        #expect(disabled.status == 403 && disabled.body.contains("disabled"))
        #expect(try await Self.cli(["enable", idA], state: state).status == 0)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": keyA]).status == 200)
        let rotated = try await Self.cli(["rotate-key", idA], state: state)
        let newKeyA = try #require(Self.apiKey(in: rotated.output))
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": keyA]).status == 401)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": newKeyA]).status == 200)

        #expect(try await Self.cli(["set-plan", idA, "growth"], state: state).status == 0)
        let upgraded = try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": newKeyA])
        #expect(upgraded.json["plan"] as? String == "growth")
        #expect((upgraded.json["limits"] as? [String: Any])?["monthly_tool_calls"] as? Int == 50_000)
        let badPlan = try await Self.cli(["set-plan", idA, "platinum"], state: state)
        #expect(badPlan.status != 0 && badPlan.error.contains("free, starter, growth, enterprise"))
        #expect(try await Self.cli(["revoke-keys", "bob@example.com"], state: state).status == 0)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": keyB]).status == 401)

        let shown = try await Self.cli(["show", idA], state: state)
        #expect(shown.output.contains("ada@example.com") && shown.output.contains("tool calls in"))
        let listed = try await Self.cli(["list"], state: state)
        #expect(listed.output.contains("ada@example.com") && listed.output.contains("bob@example.com"))
        let missing = try await Self.cli(["disable", "nobody@example.com"], state: state)
        #expect(missing.status != 0 && missing.error.contains("customers list"))

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        for secret in [keyA, keyB, newKeyA, "bot-token-of-bob", Self.masterKey] {
            #expect(!daemon.standardError.contains(secret), "a secret reached the log")
        }
    }

    @Test func limitsAnswer429WithRetryAfter() async throws {
        let state = temporaryStateDirectory()
        let daemon = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"], environment: ["CREDENTIAL_ENCRYPTION_KEY": Self.masterKey])
        #expect(try await daemon.waitFor("hermes ready"))
        let base = "http://127.0.0.1:\(try DaemonHTTPTests.port(of: daemon))"
        let created = try await Self.cli(["create", "--email", "quota@example.com", "--plan", "free"], state: state)
        let key = try #require(Self.apiKey(in: created.output))
        let id = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("customer:") }?.split(separator: " ").last.map(String.init))

        // 499 of the free plan's 500 monthly tool calls are used already (counts live in the store).
        let store = try Store(StoreConfiguration(location: .directory(state), mapSize: 1 << 30))
        let month = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
        try await store.put(Keyspace<String, [UInt8]>(.usage), "\(id):\(month):whoami", withUnsafeBytes(of: UInt64(499).bigEndian) { Array($0) })
        store.close()

        var caller = MCPCaller(base: base, key: key)
        #expect(try await caller.initialize().status == 200)
        #expect(try await caller.call("whoami").status == 200)
        let over = try await caller.call("whoami", id: 3)
        #expect(over.status == 429)
        #expect(Int(over.headers["retry-after"] ?? "") ?? 0 > 0)
        let error = over.json["error"] as? [String: Any]
        #expect(error?["message"] as? String ?? "" == "" ? false : (error?["message"] as! String).contains("500 tool calls per month"))
        #expect(over.json["id"] as? Int == 3)
        let usage = try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": key])
        #expect((usage.json["usage"] as? [String: Any])?["tool_calls"] as? Int == 500)

        // The free plan allows 30 requests a minute; a burst beyond gets 429 with Retry-After.
        var limited: CurlResponse?
        for _ in 0..<40 {
            let response = try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": key])
            if response.status == 429 {
                limited = response
                break
            }
            #expect(response.status == 200)
        }
        let refusal = try #require(limited)
        #expect(Int(refusal.headers["retry-after"] ?? "") ?? 0 >= 1)
        #expect(refusal.body.contains("30 requests per minute"))

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        // The counts were written on shutdown.
        let reopened = try Store(StoreConfiguration(location: .directory(state), mapSize: 1 << 30))
        defer { reopened.close() }
        let stored = try reopened.get(Keyspace<String, [UInt8]>(.usage), "\(id):\(month):whoami")
        #expect(stored.map { $0.reduce(0) { $0 << 8 | Int($1) } } == 500)
    }
}

@Suite("OAuth through the daemon")
struct OAuthDaemonTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python MCP SDK (`OAuthClientProvider` + `ClientSession`) against the real daemon: 401 → discovery →
    /// registration → consent form → token → tools/call → refresh → tools/call.
    @Test func thePythonSDKConnectsThroughOAuthAndCallsTools() async throws {
        let state = temporaryStateDirectory()
        let daemon = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"], environment: ["CREDENTIAL_ENCRYPTION_KEY": TenancyDaemonTests.masterKey])
        #expect(try await daemon.waitFor("hermes ready"))
        let base = "http://127.0.0.1:\(try DaemonHTTPTests.port(of: daemon))"
        let created = try await TenancyDaemonTests.cli(["create", "--email", "oauth@example.com", "--plan", "starter"], state: state)
        let key = try #require(TenancyDaemonTests.apiKey(in: created.output))
        let id = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("customer:") }?.split(separator: " ").last.map(String.init))

        let script = Self.repository.appendingPathComponent("Tests/OAuthTests/Clients/oauth_sdk_flow.py").path
        let python = try await DaemonProcess.run(
            executable: Self.repository.appendingPathComponent(".venv/bin/python").path,
            [script, "--url", base + "/mcp", "--api-key", key, "--mcp"], seconds: 180
        )
        #expect(python.status == 0, "the SDK script failed: \(python.error.suffix(3000))")
        let report = try #require((try? JSONSerialization.jsonObject(with: Data((python.output.split(separator: "\n").last ?? "").utf8))) as? [String: Any])
        let steps = try #require(report["steps"] as? [[String: Any]])
        #expect(steps.count == 2)
        for step in steps {
            #expect(step["is_error"] as? Bool == false)
            #expect((step["body"] as? [String: Any])?["customer"] as? String == id, "\(step)")
        }
        #expect(report["access_prefix"] as? String == "hat_")
        #expect(report["refreshed_access_differs"] as? Bool == true && report["refreshed_refresh_differs"] as? Bool == true)

        // The metadata names this daemon; the tool calls were metered; sign-in and tokens were audited.
        let metadata = try await CurlResponse.send("GET", base + "/.well-known/oauth-authorization-server")
        #expect(metadata.json["issuer"] as? String == base)
        let usage = try await CurlResponse.send("GET", base + "/api/usage", headers: ["x-api-key": key])
        #expect((usage.json["usage"] as? [String: Any])?["tool_calls"] as? Int == 2)

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(!daemon.standardError.contains(key))
        let store = try Store(StoreConfiguration(location: .directory(state), mapSize: 1 << 30))
        defer { store.close() }
        let events = try AuditLog(store: store).records(customerID: id, day: CalendarDay(store.clock.now())).map(\.event)
        for event in ["customer.created", "apikey.created", "oauth.code_issued", "oauth.token_issued", "oauth.token_refreshed"] {
            #expect(events.contains(event), "missing \(event) in \(events)")
        }
    }
}

extension OAuthDaemonTests {
    /// A client that walks the OAuth flow by hand with curl, as a browser and a token client would.
    struct ManualClient {
        let base: String
        var clientID = ""
        let redirectURI = "http://127.0.0.1:9/callback"
        let verifier = String(repeating: "verifier-", count: 6)

        var challenge: String { Base64.encode(SHA256.digest(of: verifier), variant: .urlSafeUnpadded) }

        mutating func register() async throws {
            let body = #"{"client_name":"curl client","redirect_uris":["\#(redirectURI)"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}"#
            let response = try await CurlResponse.send("POST", base + "/register", headers: ["Content-Type": "application/json"], body: body)
            clientID = try #require(response.json["client_id"] as? String, "registration failed: \(response.status) \(response.body)")
        }

        static func form(_ pairs: [(String, String)]) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        }

        /// Authorize (consent page, sign-in with the API key, approve) and exchange the code for tokens.
        func tokens(apiKey: String, resource: String) async throws -> (status: Int, access: String?, refresh: String?) {
            let query = Self.form([
                ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("state", "s1"),
                ("code_challenge", challenge), ("code_challenge_method", "S256"), ("scope", "mcp offline_access"), ("resource", resource),
            ])
            let page = try await CurlResponse.send("GET", base + "/authorize?" + query)
            func hidden(_ name: String) -> String {
                guard let range = page.body.range(of: "name=\"\(name)\" value=\""), let end = page.body[range.upperBound...].firstIndex(of: "\"") else { return "" }
                return String(page.body[range.upperBound..<end])
            }
            let consent = try await CurlResponse.send(
                "POST", base + "/authorize", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: Self.form([("request_id", hidden("request_id")), ("csrf", hidden("csrf")), ("api_key", apiKey), ("decision", "approve")])
            )
            guard let location = consent.headers["location"], let code = URLComponents(string: location)?.queryItems?.first(where: { $0.name == "code" })?.value else {
                return (consent.status, nil, nil)
            }
            let token = try await CurlResponse.send(
                "POST", base + "/token", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: Self.form([("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier), ("client_id", clientID), ("resource", resource)])
            )
            return (token.status, token.json["access_token"] as? String, token.json["refresh_token"] as? String)
        }

        func refresh(_ token: String) async throws -> CurlResponse {
            try await CurlResponse.send(
                "POST", base + "/token", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: Self.form([("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", clientID)])
            )
        }
    }

    /// The auth step checks each token's audience against the resource of the path, and a disabled
    /// customer's tokens get 403; disabling it with the CLI while the daemon serves revokes its grants.
    @Test func tokensAreBoundToTheirResourceAndToAnActiveCustomer() async throws {
        let state = temporaryStateDirectory()
        let daemon = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"], environment: ["CREDENTIAL_ENCRYPTION_KEY": TenancyDaemonTests.masterKey])
        #expect(try await daemon.waitFor("hermes ready"))
        let base = "http://127.0.0.1:\(try DaemonHTTPTests.port(of: daemon))"
        let created = try await TenancyDaemonTests.cli(["create", "--email", "aud@example.com", "--plan", "growth"], state: state)
        let key = try #require(TenancyDaemonTests.apiKey(in: created.output))

        var client = ManualClient(base: base)
        try await client.register()
        let forMCP = try #require(try await client.tokens(apiKey: key, resource: base + "/mcp").access)
        let apiGrant = try await client.tokens(apiKey: key, resource: base)
        let forAPI = try #require(apiGrant.access)
        let refresh = try #require(apiGrant.refresh)

        var mcp = MCPCaller(base: base, key: forMCP)
        #expect(try await mcp.initialize().status == 200)
        var wrongAudience = MCPCaller(base: base, key: forAPI)
        let refused = try await wrongAudience.initialize()
        #expect(refused.status == 401 && refused.body.contains("another resource"))
        #expect(refused.headers["www-authenticate"]?.contains("error=\"invalid_token\"") == true)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer \(forAPI)"]).status == 200)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer \(forMCP)"]).status == 401)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer hat_forged"]).status == 401)

        // A wrong API key on the consent page yields no code.
        var other = ManualClient(base: base)
        try await other.register()
        #expect(try await other.tokens(apiKey: "hk_wrong", resource: base + "/mcp").access == nil)

        #expect(try await TenancyDaemonTests.cli(["disable", "aud@example.com"], state: state).status == 0)
        let disabled = try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer \(forAPI)"])
        #expect(disabled.status == 403 && disabled.body.contains("disabled"))
        // Issue 18: the refresh token of a disabled customer gave new tokens, twice in a row.
        for _ in 0..<2 {
            let refused = try await client.refresh(refresh)
            #expect(refused.status == 400 && (refused.json["error"] as? String) == "invalid_grant", "\(refused.status) \(refused.body)")
        }
        #expect(try await TenancyDaemonTests.cli(["enable", "aud@example.com"], state: state).status == 0)
        // Enabled again, the customer signs in again: the grants made before were revoked.
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer \(forAPI)"]).status == 401)
        #expect((try await client.refresh(refresh).json["error"] as? String) == "invalid_grant")
        let again = try #require(try await client.tokens(apiKey: key, resource: base).access)
        #expect(try await CurlResponse.send("GET", base + "/api/usage", headers: ["Authorization": "Bearer \(again)"]).status == 200)

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        for secret in [key, forMCP, forAPI, refresh, again] { #expect(!daemon.standardError.contains(secret)) }
    }
}
