package import Store
import JSON

/// A customer as stored in the `customers` keyspace (was the MySQL `customers` table).
package struct CustomerRecord: Sendable, Equatable {
    package var id: String
    package var email: String
    /// The plan's name; ``Plan/limits(for:)`` gives its limits.
    package var plan: String
    /// A disabled customer's keys and tokens are refused with 403.
    package var active: Bool
    package var created: Timestamp
    /// The customer's API keys, by hash; the keys themselves are never stored.
    package var apiKeys: [APIKeyInfo]
    /// Raised whenever the customer's OAuth grants must end (disabled, keys rotated or revoked): a grant
    /// (authorization code, token family) made under an earlier value is revoked.
    package var grantEpoch: Int

    package init(id: String, email: String, plan: String, active: Bool, created: Timestamp, apiKeys: [APIKeyInfo] = [], grantEpoch: Int = 0) {
        self.id = id
        self.email = email
        self.plan = plan
        self.active = active
        self.created = created
        self.apiKeys = apiKeys
        self.grantEpoch = grantEpoch
    }

    /// The limits of the customer's plan.
    package var limits: Plan { Plan.limits(for: plan) }
}

/// One API key of a customer: its hash (the `apikey` keyspace's key) and when it stops working.
package struct APIKeyInfo: Sendable, Equatable {
    /// Hex of the key's hash; its first eight characters name the key in lists and audit records.
    package var hashHex: String
    package var created: Timestamp
    package var expiresAt: Timestamp?

    package init(hashHex: String, created: Timestamp, expiresAt: Timestamp?) {
        self.hashHex = hashHex
        self.created = created
        self.expiresAt = expiresAt
    }

    /// A short, non-secret name for the key.
    package var keyID: String { String(hashHex.prefix(8)) }
}

extension CustomerRecord {
    var encoded: [UInt8] {
        var object: JSONObject = [
            "id": .string(id), "email": .string(email), "plan": .string(plan), "active": .bool(active),
            "created": .integer(created.millisecondsSince1970),
        ]
        if grantEpoch != 0 { object["grant_epoch"] = .integer(Int64(grantEpoch)) }
        object["keys"] = .array(apiKeys.map { key in
            var entry: JSONObject = ["hash": .string(key.hashHex), "created": .integer(key.created.millisecondsSince1970)]
            if let expiresAt = key.expiresAt { entry["expires"] = .integer(expiresAt.millisecondsSince1970) }
            return .object(entry)
        })
        return JSONWriter.encode(.object(object))
    }

    init(decoding bytes: [UInt8]) throws(TenancyError) {
        let corrupt = TenancyError(.corruptRecord, "a customer record in the store is damaged; restore it from a backup (`hermes backup`) or recreate the customer")
        guard let object = (try? JSONParser.parse(bytes))?.objectValue,
              let id = object["id"]?.stringValue, let email = object["email"]?.stringValue,
              let plan = object["plan"]?.stringValue, let active = object["active"]?.boolValue,
              let created = object["created"]?.integerValue
        else { throw corrupt }
        var keys: [APIKeyInfo] = []
        for entry in object["keys"]?.arrayValue ?? [] {
            guard let hash = entry["hash"]?.stringValue, let keyCreated = entry["created"]?.integerValue else { throw corrupt }
            keys.append(APIKeyInfo(
                hashHex: hash, created: Timestamp(millisecondsSince1970: keyCreated),
                expiresAt: entry["expires"]?.integerValue.map { Timestamp(millisecondsSince1970: $0) }
            ))
        }
        self.init(
            id: id, email: email, plan: plan, active: active, created: Timestamp(millisecondsSince1970: created), apiKeys: keys,
            grantEpoch: Int(object["grant_epoch"]?.integerValue ?? 0)
        )
    }
}
