import JSON
import Store
import Tenancy

/// How a client proves who it is at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
enum ClientAuthMethod: String, Sendable {
    case none
    case clientSecretPost = "client_secret_post"
    case clientSecretBasic = "client_secret_basic"

    var usesSecret: Bool { self != .none }
}

/// A registered client (dynamic registration) or a fetched Client ID Metadata Document.
struct ClientRecord: Sendable, Equatable {
    enum Source: String, Sendable { case registered, metadataDocument = "metadata_document" }

    var id: String
    var name: String?
    var redirectURIs: [String]
    var authMethod: ClientAuthMethod
    /// Hex of the secret's ``Crypto/SecretHash`` digest; nil for public clients.
    var secretHash: String?
    var grantTypes: [String]
    var source: Source
    /// Whether a sign-in through this client has completed (unused registrations expire).
    var used: Bool
    var created: Timestamp

    var issuesRefreshTokens: Bool { grantTypes.contains("refresh_token") }

    var json: [UInt8] {
        var object: JSONObject = [
            "id": .string(id), "redirect_uris": .array(redirectURIs.map { .string($0) }), "auth": .string(authMethod.rawValue),
            "grants": .array(grantTypes.map { .string($0) }), "source": .string(source.rawValue), "used": .bool(used),
            "created": .integer(created.millisecondsSince1970),
        ]
        if let name { object["name"] = .string(name) }
        if let secretHash { object["secret"] = .string(secretHash) }
        return JSONWriter.encode(.object(object))
    }

    init(id: String, name: String?, redirectURIs: [String], authMethod: ClientAuthMethod, secretHash: String?, grantTypes: [String], source: Source, used: Bool, created: Timestamp) {
        self.id = id
        self.name = name
        self.redirectURIs = redirectURIs
        self.authMethod = authMethod
        self.secretHash = secretHash
        self.grantTypes = grantTypes
        self.source = source
        self.used = used
        self.created = created
    }

    init(json bytes: [UInt8]) throws(RecordError) {
        let object = try RecordError.object(bytes, "client")
        guard let id = object["id"]?.stringValue, let auth = object["auth"]?.stringValue.flatMap(ClientAuthMethod.init(rawValue:)),
              let uris = object["redirect_uris"]?.arrayValue?.compactMap(\.stringValue),
              let source = object["source"]?.stringValue.flatMap(Source.init(rawValue:))
        else { throw RecordError("a stored OAuth client record is missing fields") }
        self.init(
            id: id, name: object["name"]?.stringValue, redirectURIs: uris, authMethod: auth, secretHash: object["secret"]?.stringValue,
            grantTypes: object["grants"]?.arrayValue?.compactMap(\.stringValue) ?? [], source: source,
            used: object["used"]?.boolValue ?? false, created: Timestamp(millisecondsSince1970: object["created"]?.integerValue ?? 0)
        )
    }
}

/// What an authorization code stands for, stored under the code's hash until it expires. A redeemed
/// code stays (marked used) so a second redemption is recognised as a replay.
struct CodeRecord: Sendable {
    var clientID: String
    var redirectURI: String
    var challenge: String
    var resource: String
    var scope: [String]
    var customerID: String
    /// The token family the code's tokens belong to (revoked if the code is replayed).
    var familyID: String
    /// The customer's ``Tenancy/CustomerRecord/grantEpoch`` when the code was issued.
    var grantEpoch: Int
    var used: Bool

    var json: [UInt8] {
        JSONWriter.encode([
            "client": .string(clientID), "redirect_uri": .string(redirectURI), "challenge": .string(challenge),
            "resource": .string(resource), "scope": .array(scope.map { .string($0) }), "customer": .string(customerID),
            "family": .string(familyID), "grant_epoch": .integer(Int64(grantEpoch)), "used": .bool(used),
        ])
    }

    init(clientID: String, redirectURI: String, challenge: String, resource: String, scope: [String], customerID: String, familyID: String, grantEpoch: Int, used: Bool) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.challenge = challenge
        self.resource = resource
        self.scope = scope
        self.customerID = customerID
        self.familyID = familyID
        self.grantEpoch = grantEpoch
        self.used = used
    }

    init(json bytes: [UInt8]) throws(RecordError) {
        let object = try RecordError.object(bytes, "authorization code")
        guard let client = object["client"]?.stringValue, let redirect = object["redirect_uri"]?.stringValue,
              let challenge = object["challenge"]?.stringValue, let resource = object["resource"]?.stringValue,
              let customer = object["customer"]?.stringValue, let family = object["family"]?.stringValue
        else { throw RecordError("a stored authorization code record is missing fields") }
        self.init(
            clientID: client, redirectURI: redirect, challenge: challenge, resource: resource,
            scope: object["scope"]?.arrayValue?.compactMap(\.stringValue) ?? [], customerID: customer, familyID: family,
            grantEpoch: Int(object["grant_epoch"]?.integerValue ?? 0), used: object["used"]?.boolValue ?? false
        )
    }
}

/// An access or refresh token, stored under `a:`/`r:` and the token's hash. A rotated refresh token stays
/// (marked used) until it would have expired, so replaying it is recognised.
struct TokenRecord: Sendable {
    var familyID: String
    var customerID: String
    var clientID: String
    var scope: [String]
    var resource: String
    var expiresAt: Timestamp
    var used: Bool

    var json: [UInt8] {
        JSONWriter.encode([
            "family": .string(familyID), "customer": .string(customerID), "client": .string(clientID),
            "scope": .array(scope.map { .string($0) }), "resource": .string(resource),
            "expires": .integer(expiresAt.millisecondsSince1970), "used": .bool(used),
        ])
    }

    init(familyID: String, customerID: String, clientID: String, scope: [String], resource: String, expiresAt: Timestamp, used: Bool = false) {
        self.familyID = familyID
        self.customerID = customerID
        self.clientID = clientID
        self.scope = scope
        self.resource = resource
        self.expiresAt = expiresAt
        self.used = used
    }

    init(json bytes: [UInt8]) throws(RecordError) {
        let object = try RecordError.object(bytes, "token")
        guard let family = object["family"]?.stringValue, let customer = object["customer"]?.stringValue,
              let client = object["client"]?.stringValue, let resource = object["resource"]?.stringValue,
              let expires = object["expires"]?.integerValue
        else { throw RecordError("a stored token record is missing fields") }
        self.init(
            familyID: family, customerID: customer, clientID: client, scope: object["scope"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            resource: resource, expiresAt: Timestamp(millisecondsSince1970: expires), used: object["used"]?.boolValue ?? false
        )
    }
}

/// One grant's tokens (the code's first pair and every rotation after it), under `f:<id>`. Revoking it
/// revokes every access and refresh token of the grant at once: tokens are checked against it on use. A
/// family whose `grantEpoch` is not its customer's current one is revoked as well (the customer was
/// disabled or its keys changed since).
struct FamilyRecord: Sendable {
    var customerID: String
    var clientID: String
    var grantEpoch: Int
    var revoked: Bool

    var json: [UInt8] {
        JSONWriter.encode([
            "customer": .string(customerID), "client": .string(clientID), "grant_epoch": .integer(Int64(grantEpoch)), "revoked": .bool(revoked),
        ])
    }

    init(customerID: String, clientID: String, grantEpoch: Int, revoked: Bool) {
        self.customerID = customerID
        self.clientID = clientID
        self.grantEpoch = grantEpoch
        self.revoked = revoked
    }

    init(json bytes: [UInt8]) throws(RecordError) {
        let object = try RecordError.object(bytes, "token family")
        guard let customer = object["customer"]?.stringValue, let client = object["client"]?.stringValue
        else { throw RecordError("a stored token family record is missing fields") }
        self.init(
            customerID: customer, clientID: client, grantEpoch: Int(object["grant_epoch"]?.integerValue ?? 0),
            revoked: object["revoked"]?.boolValue ?? true
        )
    }

    /// Whether the grant still stands for `customer` (its state read in the same transaction).
    func stands(for customer: CustomerRecord) -> Bool {
        !revoked && customer.active && customer.grantEpoch == grantEpoch
    }
}

/// A stored record that cannot be read back.
struct RecordError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }

    static func object(_ bytes: [UInt8], _ what: String) throws(RecordError) -> JSONObject {
        guard let object = (try? JSONParser.parse(bytes))?.objectValue else {
            throw RecordError("a stored \(what) record is not a JSON object")
        }
        return object
    }
}

/// Keys and hashes of the three OAuth keyspaces.
enum OAuthKeys {
    static let clients = Keyspace<String, [UInt8]>(.oauthClients)
    static let codes = Keyspace<String, [UInt8]>(.oauthCodes)
    static let tokens = Keyspace<String, [UInt8]>(.oauthTokens)

    /// A registered client.
    static func client(_ id: String) -> String { "c:\(id)" }
    /// Marks a registered client that has not been used yet; counted to bound anonymous registration.
    static func unusedClient(_ id: String) -> String { "p:\(id)" }
    static let unusedClientPrefix = Array("p:".utf8)
    /// A cached Client ID Metadata Document, by the SHA-256 of its URL (URLs may exceed LMDB's key size).
    static func metadataDocument(urlDigest: String) -> String { "u:\(urlDigest)" }
    static func access(_ hash: String) -> String { "a:\(hash)" }
    static func refresh(_ hash: String) -> String { "r:\(hash)" }
    static func family(_ id: String) -> String { "f:\(id)" }
}
