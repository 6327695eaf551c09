import Crypto
import HTTP2
import JSON
import Logging
import Store

extension OAuthServer {
    /// RFC 7591 dynamic client registration.
    func handleRegistration(_ request: HTTPRequest) async -> HTTPResponse {
        let address = request.remoteHost ?? "unknown"
        if let wait = registrationLimiter.admit(address, now: now) {
            logger.notice("client registration refused: too many from one address", metadata: ["oauth.remote": "\(address)"])
            var response = Self.noStoreJSON([
                "error": "too_many_requests",
                "error_description": .string("too many client registrations from this address; try again in \(wait) seconds"),
            ], status: 429)
            response.headers.set("retry-after", "\(wait)")
            return response
        }
        do {
            let (client, secret) = try parseRegistration(request.body)
            let now = self.now
            let deadline = now.adding(milliseconds: configuration.unusedClientLifetime.milliseconds)
            let limit = configuration.maximumUnusedClients
            let stored = try await store.write { transaction -> Bool in
                guard try transaction.count(OAuthKeys.clients, prefix: OAuthKeys.unusedClientPrefix) < limit else { return false }
                try transaction.put(OAuthKeys.clients, OAuthKeys.client(client.id), client.json, expiresAt: deadline)
                try transaction.put(OAuthKeys.clients, OAuthKeys.unusedClient(client.id), [], expiresAt: deadline)
                return true
            }
            guard stored else {
                logger.warning("client registration refused: too many unused clients", metadata: ["oauth.unused_limit": "\(limit)"])
                var response = Self.noStoreJSON([
                    "error": "temporarily_unavailable",
                    "error_description": "too many clients are registered and not yet used; try again later",
                ], status: 503)
                response.headers.set("retry-after", "600")
                return response
            }
            logger.info("client registered", metadata: ["oauth.client_id": "\(client.id)", "oauth.auth_method": "\(client.authMethod.rawValue)"])
            var body: JSONObject = [
                "client_id": .string(client.id),
                "client_id_issued_at": .integer(now.millisecondsSince1970 / 1000),
                "redirect_uris": .array(client.redirectURIs.map { .string($0) }),
                "token_endpoint_auth_method": .string(client.authMethod.rawValue),
                "grant_types": .array(client.grantTypes.map { .string($0) }),
                "response_types": ["code"],
            ]
            if let name = client.name { body["client_name"] = .string(name) }
            if let secret {
                body["client_secret"] = .string(secret)
                body["client_secret_expires_at"] = 0
            }
            return Self.noStoreJSON(.object(body), status: 201)
        } catch let error as ProtocolError {
            return Self.errorResponse(error)
        } catch {
            logger.error("client registration failed", metadata: ["error": "\(error)"])
            return Self.noStoreJSON(["error": "server_error", "error_description": "the registration could not be stored; try again"], status: 500)
        }
    }

    /// Validates registration metadata; returns the client and, for confidential clients, its secret.
    private func parseRegistration(_ body: [UInt8]) throws(ProtocolError) -> (ClientRecord, String?) {
        guard let object = (try? JSONParser.parse(body))?.objectValue else {
            throw .invalidClientMetadata("the registration body must be a JSON object (RFC 7591)")
        }
        let redirectURIs = try Self.validRedirectURIs(object["redirect_uris"])
        let method: ClientAuthMethod
        switch object["token_endpoint_auth_method"] {
        case nil, .null?: method = .clientSecretBasic  // RFC 7591 section 2 default
        case .string(let text)?:
            guard let known = ClientAuthMethod(rawValue: text) else {
                throw .invalidClientMetadata("token_endpoint_auth_method \"\(text)\" is not supported; use none, client_secret_post or client_secret_basic")
            }
            method = known
        default: throw .invalidClientMetadata("token_endpoint_auth_method must be a string")
        }
        var grantTypes = ["authorization_code", "refresh_token"]
        if let grants = object["grant_types"], !grants.isNull {
            guard let list = grants.arrayValue?.compactMap(\.stringValue), list.count == grants.arrayValue?.count, list.contains("authorization_code") else {
                throw .invalidClientMetadata("grant_types must be a list of strings including authorization_code")
            }
            if let other = list.first(where: { $0 != "authorization_code" && $0 != "refresh_token" }) {
                throw .invalidClientMetadata("grant type \"\(other)\" is not supported; use authorization_code and refresh_token")
            }
            grantTypes = list.contains("refresh_token") ? ["authorization_code", "refresh_token"] : ["authorization_code"]
        }
        if let types = object["response_types"], !types.isNull {
            guard let list = types.arrayValue?.compactMap(\.stringValue), list.count == types.arrayValue?.count, list.allSatisfy({ $0 == "code" }) else {
                throw .invalidClientMetadata("response_types may only contain \"code\"")
            }
        }
        if let scope = object["scope"]?.stringValue {
            if let unknown = scope.split(separator: " ").first(where: { !configuration.scopes.contains(String($0)) }) {
                throw .invalidClientMetadata("scope \"\(unknown)\" is not supported; supported: \(configuration.scopes.joined(separator: " "))")
            }
        }
        var name: String?
        if let given = object["client_name"]?.stringValue {
            name = String(given.unicodeScalars.filter { !$0.properties.isDefaultIgnorableCodePoint && $0.properties.generalCategory != .control }.prefix(100).map(Character.init))
        }
        let id = "hc_" + RandomToken.urlSafe(byteCount: 18)
        let secret = method.usesSecret ? "hcs_" + RandomToken.urlSafe() : nil
        let client = ClientRecord(
            id: id, name: name, redirectURIs: redirectURIs, authMethod: method,
            secretHash: secret.map { Self.clientSecretHash.hexDigest(of: $0) }, grantTypes: grantTypes,
            source: .registered, used: false, created: now
        )
        return (client, secret)
    }

    /// Redirect URIs a client may register: https, or http on a loopback host (any port); no fragment,
    /// no user info; at most 10 of at most 2,000 characters.
    static func validRedirectURIs(_ value: JSONValue?) throws(ProtocolError) -> [String] {
        guard let list = value?.arrayValue, !list.isEmpty else {
            throw .invalidRedirectURI("redirect_uris is required: a non-empty list of https (or http://localhost) URLs")
        }
        guard list.count <= 10 else { throw .invalidRedirectURI("at most 10 redirect_uris may be registered") }
        var uris: [String] = []
        for item in list {
            guard let text = item.stringValue, text.utf8.count <= 2000 else {
                throw .invalidRedirectURI("each redirect URI must be a string of at most 2000 characters")
            }
            guard isAcceptableRedirectURI(text) else {
                throw .invalidRedirectURI("redirect URI \"\(String(text.prefix(200)))\" is not allowed: use https, or http on localhost, 127.0.0.1 or [::1], without a fragment")
            }
            if !uris.contains(text) { uris.append(text) }
        }
        return uris
    }

    static func isAcceptableRedirectURI(_ text: String) -> Bool {
        guard let parts = URLParts(text), !parts.hasFragment, !parts.hasUserInfo else { return false }
        return parts.scheme == "https" || (parts.scheme == "http" && parts.isLoopback)
    }
}
