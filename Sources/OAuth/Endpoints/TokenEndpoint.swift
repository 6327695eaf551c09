import Crypto
import HTTP2
import JSON
import Logging
import Store

extension OAuthServer {
    /// POST `/oauth/token` (form-encoded): `authorization_code` and `refresh_token` grants.
    func handleToken(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            let fields = try Self.formBody(request)
            let client = try await authenticateClient(request, fields)
            switch fields["grant_type"] {
            case "authorization_code": return try await redeemCode(fields, client: client)
            case "refresh_token": return try await refresh(fields, client: client)
            case nil: throw ProtocolError.invalidRequest("grant_type is required")
            case let other?:
                throw ProtocolError(code: "unsupported_grant_type", description: "grant_type \(other) is not supported; use authorization_code or refresh_token")
            }
        } catch let error as ProtocolError {
            return Self.errorResponse(error)
        } catch {
            logger.error("the token endpoint failed", metadata: ["error": "\(error)"])
            return Self.noStoreJSON(["error": "server_error", "error_description": "the request could not be completed; try again"], status: 500)
        }
    }

    static func formBody(_ request: HTTPRequest) throws(ProtocolError) -> FormFields {
        let type = request.headers["content-type"]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw .invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let fields = FormFields(request.bodyText)
        if let name = fields.repeated.first { throw .invalidRequest("parameter \(name) appears more than once") }
        return fields
    }

    /// Client authentication (RFC 6749 section 2.3): HTTP Basic or `client_secret` in the body for
    /// confidential clients (either is accepted for both secret methods), `client_id` alone for public ones.
    func authenticateClient(_ request: HTTPRequest, _ fields: FormFields) async throws(ProtocolError) -> ClientRecord {
        var basic: (id: String, secret: String)?
        if let header = request.headers["authorization"], header.lowercased().hasPrefix("basic ") {
            guard let decoded = Self.decodeBasicCredentials(String(header.dropFirst(6).trimmingSpacesSubstring)).flatMap({ String(validating: $0, as: UTF8.self) }),
                  let colon = decoded.firstIndex(of: ":")
            else { throw .invalidClient("the Basic authorization header is malformed", basic: true) }
            basic = (FormEncoding.percentDecode(decoded[..<colon], plusIsSpace: true),
                     FormEncoding.percentDecode(decoded[decoded.index(after: colon)...], plusIsSpace: true))
        }
        if basic != nil, fields["client_secret"] != nil {
            throw .invalidRequest("send the client secret once: in the Authorization header or in the body, not both")
        }
        guard let id = basic?.id ?? fields["client_id"] else {
            throw .invalidClient("client authentication is required: send client_id (and the client secret if one was issued)")
        }
        if let bodyID = fields["client_id"], bodyID != id { throw .invalidClient("client_id in the body differs from the Authorization header", basic: basic != nil) }
        let client: ClientRecord?
        do {
            client = try await resolveClient(id, for: request.remoteHost ?? "unknown")
        } catch {
            if let busy = error.busy {
                throw ProtocolError(code: busy.status == 429 ? "too_many_requests" : "temporarily_unavailable", description: error.description, status: busy.status, retryAfterSeconds: busy.retryAfterSeconds)
            }
            throw .invalidClient("the client could not be verified: \(error.description)", basic: basic != nil)
        }
        guard let client else {
            throw .invalidClient("unknown client; register again", basic: basic != nil)
        }
        guard let stored = client.secretHash else { return client }
        guard let secret = basic?.secret ?? fields["client_secret"] else {
            throw .invalidClient("this client was registered with \(client.authMethod.rawValue) and must send its client secret", basic: basic != nil)
        }
        guard ConstantTime.equals(Self.clientSecretHash.digest(of: secret), Self.hexBytes(stored)) else {
            logger.notice("client authentication failed", metadata: ["oauth.client_id": "\(client.id)"])
            throw .invalidClient("client authentication failed; register again if the secret was lost", basic: basic != nil)
        }
        return client
    }

    private enum Redemption: Sendable {
        case issued(CodeRecord)
        case unknown
        case reused(CodeRecord)
        case rejected(String, code: String)
        /// The customer was disabled, removed, or had its grants revoked since the code was issued.
        case customerRefused(CodeRecord)
    }

    private func redeemCode(_ fields: FormFields, client: ClientRecord) async throws -> HTTPResponse {
        guard let code = fields["code"] else { throw ProtocolError.invalidRequest("code is required") }
        guard let verifier = fields["code_verifier"] else { throw ProtocolError.invalidRequest("code_verifier is required (PKCE)") }
        guard (43...128).contains(verifier.utf8.count), verifier.utf8.allSatisfy({ Self.isBase64URLByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "~") }) else {
            throw ProtocolError.invalidRequest("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)")
        }
        let requestedResource = try requestedResource(fields)
        let challenge = Array(Base64.encode(SHA256.digest(of: verifier), variant: .urlSafeUnpadded).utf8)
        let redirectURI = fields["redirect_uri"]
        let codeKey = Self.codeHash.hexDigest(of: code)
        let tokens = IssuedTokens(refresh: client.issuesRefreshTokens)
        let now = self.now
        let accessExpiry = now.adding(milliseconds: configuration.accessTokenLifetime.milliseconds)
        let refreshExpiry = now.adding(milliseconds: configuration.refreshTokenLifetime.milliseconds)
        let clientID = client.id
        let directory = self.directory

        let outcome = try await store.write { transaction -> Redemption in
            guard let bytes = try transaction.get(OAuthKeys.codes, codeKey) else { return .unknown }
            var record = try CodeRecord(json: bytes)
            guard record.clientID == clientID else { return .rejected("the code was issued to another client", code: "invalid_grant") }
            if record.used {
                try Self.revokeFamily(record.familyID, in: transaction)
                return .reused(record)
            }
            guard ConstantTime.equals(challenge, Array(record.challenge.utf8)) else {
                return .rejected("code_verifier does not match the code_challenge", code: "invalid_grant")
            }
            guard redirectURI == record.redirectURI else {
                return .rejected("redirect_uri must be the one sent to the authorization endpoint", code: "invalid_grant")
            }
            if let requestedResource, requestedResource != record.resource {
                return .rejected("resource differs from the one authorized (\(record.resource))", code: "invalid_target")
            }
            record.used = true
            try transaction.put(OAuthKeys.codes, codeKey, record.json, expiresAt: try transaction.deadline(OAuthKeys.codes, codeKey))
            let family = FamilyRecord(customerID: record.customerID, clientID: clientID, grantEpoch: record.grantEpoch, revoked: false)
            guard let customer = try directory.customer(id: record.customerID, in: transaction), family.stands(for: customer) else {
                return .customerRefused(record)
            }
            let familyExpiry = tokens.refreshHash == nil ? accessExpiry : refreshExpiry
            try transaction.put(OAuthKeys.tokens, OAuthKeys.family(record.familyID), family.json, expiresAt: familyExpiry)
            try Self.storeTokens(tokens, family: record.familyID, customerID: record.customerID, clientID: clientID, scope: record.scope,
                                 resource: record.resource, accessExpiry: accessExpiry, refreshExpiry: refreshExpiry, in: transaction)
            try Self.markClientUsed(clientID, in: transaction)
            return .issued(record)
        }
        switch outcome {
        case .unknown:
            throw ProtocolError.invalidGrant("the authorization code is unknown or expired")
        case .rejected(let text, let code):
            throw ProtocolError(code: code, description: text)
        case .customerRefused(let record):
            logger.notice("authorization code refused: the customer was disabled or its grants revoked since it was issued", metadata: ["oauth.client_id": "\(clientID)", "customer.id": "\(record.customerID)"])
            await audit.record("oauth.code_refused", customerID: record.customerID, detail: ["client_id": clientID, "reason": "account disabled or its keys changed since the sign-in"])
            throw ProtocolError.invalidGrant("the authorization code is no longer valid: the account was disabled or its API keys changed since the sign-in; sign in again")
        case .reused(let record):
            logger.warning("authorization code reused; its tokens are revoked", metadata: ["oauth.client_id": "\(clientID)", "customer.id": "\(record.customerID)"])
            await audit.record("oauth.token_revoked", customerID: record.customerID, detail: ["reason": "authorization code reused", "client_id": clientID])
            throw ProtocolError.invalidGrant("the authorization code was already used; every token issued from it has been revoked")
        case .issued(let record):
            await audit.record("oauth.token_issued", customerID: record.customerID, detail: [
                "client_id": clientID, "scope": record.scope.joined(separator: " "), "resource": record.resource,
                "refresh_token": tokens.refresh == nil ? "no" : "yes",
            ])
            logger.info("tokens issued", metadata: ["oauth.client_id": "\(clientID)", "customer.id": "\(record.customerID)"])
            return tokenResponse(tokens, scope: record.scope)
        }
    }

    /// The token request's `resource` (RFC 8707) in canonical form; nil when absent.
    private func requestedResource(_ fields: FormFields) throws(ProtocolError) -> String? {
        guard let given = fields["resource"] else { return nil }
        guard let canonical = canonicalResource(given) else { throw ProtocolError.invalidTarget("resource must be \(mcpResource) (or \(issuer))") }
        return canonical
    }

    private enum Rotation: Sendable {
        case rotated(TokenRecord)
        case unknown
        case replayed(TokenRecord)
        case rejected(String, code: String)
        /// The customer is disabled, removed, or had its grants revoked: the family is now revoked.
        case customerRefused(TokenRecord)
    }

    private func refresh(_ fields: FormFields, client: ClientRecord) async throws -> HTTPResponse {
        guard let presented = fields["refresh_token"] else { throw ProtocolError.invalidRequest("refresh_token is required") }
        guard presented.hasPrefix(Self.refreshTokenPrefix), presented.utf8.count <= 128 else {
            throw ProtocolError.invalidGrant("the refresh token is unknown, expired or revoked")
        }
        guard client.issuesRefreshTokens else { throw ProtocolError(code: "unauthorized_client", description: "this client was not registered for the refresh_token grant") }
        let requestedResource = try requestedResource(fields)
        let requestedScope = fields["scope"].map { $0.split(separator: " ").map(String.init) }
        let key = OAuthKeys.refresh(Self.tokenHash.hexDigest(of: presented))
        let tokens = IssuedTokens(refresh: true)
        let now = self.now
        let accessExpiry = now.adding(milliseconds: configuration.accessTokenLifetime.milliseconds)
        let refreshExpiry = now.adding(milliseconds: configuration.refreshTokenLifetime.milliseconds)
        let clientID = client.id
        let directory = self.directory

        let outcome = try await store.write { transaction -> Rotation in
            guard let bytes = try transaction.get(OAuthKeys.tokens, key) else { return .unknown }
            var record = try TokenRecord(json: bytes)
            guard record.clientID == clientID else { return .rejected("the refresh token was issued to another client", code: "invalid_grant") }
            let familyKey = OAuthKeys.family(record.familyID)
            guard let familyBytes = try transaction.get(OAuthKeys.tokens, familyKey) else { return .unknown }
            let family = try FamilyRecord(json: familyBytes)
            guard !family.revoked else { return .unknown }
            // The customer's state now, not when the grant was made: the CLI may have disabled it meanwhile.
            guard let customer = try directory.customer(id: record.customerID, in: transaction), family.stands(for: customer) else {
                try Self.revokeFamily(record.familyID, in: transaction)
                return .customerRefused(record)
            }
            if record.used {
                try Self.revokeFamily(record.familyID, in: transaction)
                return .replayed(record)
            }
            if let requestedResource, requestedResource != record.resource {
                return .rejected("resource differs from the one authorized (\(record.resource))", code: "invalid_target")
            }
            var scope = record.scope
            if let requestedScope {
                if let extra = requestedScope.first(where: { !record.scope.contains($0) }) {
                    return .rejected("scope \(extra) was not granted; a refresh may only narrow the scope", code: "invalid_scope")
                }
                scope = requestedScope
            }
            record.used = true
            try transaction.put(OAuthKeys.tokens, key, record.json, expiresAt: try transaction.deadline(OAuthKeys.tokens, key))
            try transaction.put(OAuthKeys.tokens, familyKey, familyBytes, expiresAt: refreshExpiry)
            try Self.storeTokens(tokens, family: record.familyID, customerID: record.customerID, clientID: clientID, scope: scope,
                                 resource: record.resource, accessExpiry: accessExpiry, refreshExpiry: refreshExpiry, in: transaction)
            record.scope = scope
            return .rotated(record)
        }
        switch outcome {
        case .unknown:
            throw ProtocolError.invalidGrant("the refresh token is unknown, expired or revoked")
        case .rejected(let text, let code):
            throw ProtocolError(code: code, description: text)
        case .customerRefused(let record):
            logger.notice("refresh refused: the customer is disabled or its grants were revoked; the grant is revoked", metadata: ["oauth.client_id": "\(clientID)", "customer.id": "\(record.customerID)"])
            await audit.record("oauth.refresh_refused", customerID: record.customerID, detail: ["client_id": clientID, "reason": "account disabled or its keys changed", "action": "every token of the grant revoked"])
            throw ProtocolError.invalidGrant("the refresh token is no longer valid: the account was disabled or its API keys changed; sign in again")
        case .replayed(let record):
            logger.warning("refresh token replayed; its family is revoked", metadata: ["oauth.client_id": "\(clientID)", "customer.id": "\(record.customerID)"])
            await audit.record("oauth.refresh_replayed", customerID: record.customerID, detail: ["client_id": clientID, "action": "every token of the grant revoked"])
            throw ProtocolError.invalidGrant("the refresh token was already used; every token of this grant has been revoked, sign in again")
        case .rotated(let record):
            await audit.record("oauth.token_refreshed", customerID: record.customerID, detail: ["client_id": clientID, "scope": record.scope.joined(separator: " ")])
            return tokenResponse(tokens, scope: record.scope)
        }
    }

    private func tokenResponse(_ tokens: IssuedTokens, scope: [String]) -> HTTPResponse {
        var body: JSONObject = [
            "access_token": .string(tokens.access), "token_type": "Bearer",
            "expires_in": .integer(configuration.accessTokenLifetime.wholeSeconds), "scope": .string(scope.joined(separator: " ")),
        ]
        if let refresh = tokens.refresh { body["refresh_token"] = .string(refresh) }
        return Self.noStoreJSON(.object(body))
    }

    static func storeTokens(_ tokens: IssuedTokens, family: String, customerID: String, clientID: String, scope: [String], resource: String,
                            accessExpiry: Timestamp, refreshExpiry: Timestamp, in transaction: WriteTransaction) throws {
        let access = TokenRecord(familyID: family, customerID: customerID, clientID: clientID, scope: scope, resource: resource, expiresAt: accessExpiry)
        try transaction.put(OAuthKeys.tokens, OAuthKeys.access(tokens.accessHash), access.json, expiresAt: accessExpiry)
        if let refreshHash = tokens.refreshHash {
            let refresh = TokenRecord(familyID: family, customerID: customerID, clientID: clientID, scope: scope, resource: resource, expiresAt: refreshExpiry)
            try transaction.put(OAuthKeys.tokens, OAuthKeys.refresh(refreshHash), refresh.json, expiresAt: refreshExpiry)
        }
    }

    /// Marks a family revoked; its tokens fail from now on (the record outlives every token it covers).
    static func revokeFamily(_ id: String, in transaction: WriteTransaction) throws {
        let key = OAuthKeys.family(id)
        guard let bytes = try transaction.get(OAuthKeys.tokens, key) else { return }
        var family = try FamilyRecord(json: bytes)
        family.revoked = true
        try transaction.put(OAuthKeys.tokens, key, family.json, expiresAt: try transaction.deadline(OAuthKeys.tokens, key))
    }

    /// A registered client that completed a sign-in stops expiring and no longer counts as unused.
    static func markClientUsed(_ id: String, in transaction: WriteTransaction) throws {
        let key = OAuthKeys.client(id)
        guard let bytes = try transaction.get(OAuthKeys.clients, key) else { return }
        var client = try ClientRecord(json: bytes)
        guard !client.used else { return }
        client.used = true
        try transaction.put(OAuthKeys.clients, key, client.json)
        try transaction.delete(OAuthKeys.clients, OAuthKeys.unusedClient(id))
    }

    static func hexBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for byte in text.utf8 {
            let value: UInt8 = byte <= UInt8(ascii: "9") ? byte &- UInt8(ascii: "0") : byte &- UInt8(ascii: "a") &+ 10
            if let h = high { bytes.append(h << 4 | value); high = nil } else { high = value }
        }
        return bytes
    }
}

/// Freshly made tokens and their storage hashes (made before the write, which may run more than once).
extension OAuthServer {
    /// The bytes of an HTTP Basic credential (standard base64, padding optional, as clients send it).
    static func decodeBasicCredentials(_ text: String) -> [UInt8]? {
        Base64.decode(text, variant: .standard) ?? Base64.decode(text, variant: .standardUnpadded)
    }
}

struct IssuedTokens: Sendable {
    let access: String
    let accessHash: String
    let refresh: String?
    let refreshHash: String?

    init(refresh: Bool) {
        access = OAuthServer.accessTokenPrefix + RandomToken.urlSafe()
        accessHash = OAuthServer.tokenHash.hexDigest(of: access)
        self.refresh = refresh ? OAuthServer.refreshTokenPrefix + RandomToken.urlSafe() : nil
        refreshHash = self.refresh.map { OAuthServer.tokenHash.hexDigest(of: $0) }
    }
}

extension Substring {
    var trimmingSpacesSubstring: String { String(self).trimmingSpaces }
}
