package import Logging
package import Store
import JSON

/// Appends authentication and account events to each customer's audit log (`logs` keyspace, one range
/// per customer and UTC day), kept for the customer's plan's retention and then swept.
///
/// Records never hold a secret: keys and tokens appear only by their short hash-derived ids.
package struct AuditLog: Sendable {
    package let store: Store
    let logger: Logger

    package init(store: Store, logger: Logger = Logger(label: "hermes.audit")) {
        self.store = store
        self.logger = logger
    }

    /// Appends an event (durably) to the customer's log. A failure is logged, not thrown: the operation
    /// being audited has already happened.
    package func record(_ kind: String, customerID: String, detail: [String: String] = [:]) async {
        do {
            try await store.write { transaction in
                let plan = try transaction.get(Keyspace<String, [UInt8]>(.customers), customerID)
                    .flatMap { try? CustomerRecord(decoding: $0) }?.limits ?? Plan.free
                try Self.append(kind, customerID: customerID, retentionDays: plan.auditRetentionDays, detail: detail, in: transaction)
            }
        } catch {
            logger.error("writing an audit record failed", metadata: ["audit.event": "\(kind)", "customer.id": "\(customerID)", "error": "\(error)"])
        }
    }

    /// Appends an event inside a write the caller is already making, so it commits with it.
    static func append(_ kind: String, customerID: String, retentionDays: Int, detail: [String: String], in transaction: WriteTransaction) throws {
        let now = transaction.now
        var object: JSONObject = ["at": .integer(now.millisecondsSince1970), "event": .string(kind), "customer": .string(customerID)]
        if !detail.isEmpty {
            object["detail"] = .object(JSONObject(detail.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) }))
        }
        _ = try transaction.append(
            .logs, prefix: SequencedKey.logPrefix(customerID: customerID, day: CalendarDay(now).description),
            JSONWriter.encode(.object(object)), expiresAt: now.adding(seconds: Int64(retentionDays) * 86_400)
        )
    }

    /// A customer's records for one UTC day, oldest first.
    package func records(customerID: String, day: CalendarDay) throws -> [AuditRecord] {
        let prefix = SequencedKey.scanPrefix(SequencedKey.logPrefix(customerID: customerID, day: day.description))
        return try store.read { try $0.scan(.logs, prefix: prefix) }.compactMap { entry in
            guard let object = (try? JSONParser.parse(entry.value))?.objectValue,
                  let at = object["at"]?.integerValue, let event = object["event"]?.stringValue
            else { return nil }
            var detail: [String: String] = [:]
            for member in object["detail"]?.objectValue ?? JSONObject() { detail[member.key] = member.value.stringValue }
            return AuditRecord(at: Timestamp(millisecondsSince1970: at), event: event, customerID: customerID, detail: detail)
        }
    }
}

/// One audit event as read back.
package struct AuditRecord: Sendable, Equatable {
    package var at: Timestamp
    package var event: String
    package var customerID: String
    package var detail: [String: String]
}
