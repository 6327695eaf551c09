package import ToolRuntime
import Tenancy
import JSON
import Foundation
package import Store

/// The sandbox outbox: tools that "send" a message into this daemon's store and read it back, so an
/// integration test (or a person trying a client) can exercise a whole tool round trip with no platform.
///
/// Messages live in the `sandbox` keyspace under `{customer}:outbox:{seq}` and expire after
/// ``retention``; each customer sees only their own.
package struct SandboxTools: Sendable {
    /// How long a sandbox message is kept.
    package static let retention: Int64 = 7 * 24 * 3600
    static let keyspace = Keyspace<SequencedKey, [UInt8]>(.sandbox)

    let store: Store

    package init(store: Store) {
        self.store = store
    }

    static func prefix(_ customer: Customer) -> String { "\(customer.id):outbox" }

    /// `sandbox_send_message` and `sandbox_read_messages`.
    package func tools() throws(JSONSchemaError) -> [Tool] {
        [try sendTool(), try readTool()]
    }

    static let messageSchema: JSONValue = [
        "type": "object",
        "properties": [
            "id": ["type": "string"], "to": ["type": "string"], "text": ["type": "string"],
            "sentAt": ["type": "string", "description": "ISO 8601 time the message was stored"],
        ],
        "required": ["id", "to", "text", "sentAt"],
    ]

    func sendTool() throws(JSONSchemaError) -> Tool {
        let store = self.store
        return try Tool(
            name: "sandbox_send_message",
            title: "Send a sandbox message",
            description: "Sends a text message to the sandbox outbox of this server (no real platform is contacted). Use it to test a client end to end; read the message back with sandbox_read_messages.",
            inputSchema: [
                "type": "object",
                "properties": [
                    "to": ["type": "string", "minLength": 1, "maxLength": 200, "description": "recipient, any name or number"],
                    "text": ["type": "string", "minLength": 1, "maxLength": 4096, "description": "the message text"],
                ],
                "required": ["to", "text"],
                "additionalProperties": false,
            ],
            outputSchema: Self.messageSchema,
            annotations: ToolAnnotations(readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false)
        ) { invocation in
            let to = invocation.string("to") ?? ""
            let text = invocation.string("text") ?? ""
            let now = store.clock.now()
            let sentAt = Self.iso8601(now)
            let record: JSONValue = ["to": .string(to), "text": .string(text), "sentAt": .string(sentAt)]
            let key = try await store.append(
                Self.keyspace, prefix: Self.prefix(invocation.customer), JSONWriter.encode(record),
                expiresAt: now.adding(seconds: Self.retention)
            )
            return .structured(["id": .string(String(key.sequence)), "to": .string(to), "text": .string(text), "sentAt": .string(sentAt)])
        }
    }

    func readTool() throws(JSONSchemaError) -> Tool {
        let store = self.store
        return try Tool(
            name: "sandbox_read_messages",
            title: "Read sandbox messages",
            description: "Reads the most recent messages in the sandbox outbox, oldest first, optionally only those sent to one recipient.",
            inputSchema: [
                "type": "object",
                "properties": [
                    "to": ["type": "string", "minLength": 1, "maxLength": 200, "description": "only messages to this recipient"],
                    "limit": ["type": "integer", "minimum": 1, "maximum": 100, "description": "how many messages at most (default 20)"],
                ],
                "additionalProperties": false,
            ],
            outputSchema: ["type": "object", "properties": ["messages": ["type": "array", "items": Self.messageSchema]], "required": ["messages"]],
            annotations: ToolAnnotations(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)
        ) { invocation in
            let limit = Int(invocation.integer("limit") ?? 20)
            let recipient = invocation.string("to")
            let prefix = SequencedKey.scanPrefix(Self.prefix(invocation.customer))
            // Newest first, filtered, then the most recent `limit` put back in sending order.
            let entries = try store.read { try $0.scan(Self.keyspace, prefix: prefix, limit: recipient == nil ? limit : 10_000, reverse: true) }
            var messages: [JSONValue] = []
            for entry in entries {
                guard case .object(var record) = try? JSONParser.parse(entry.value) else { continue }
                if let recipient, record["to"]?.stringValue != recipient { continue }
                record["id"] = .string(String(entry.key.sequence))
                let ordered = JSONObject([("id", record["id"]!), ("to", record["to"] ?? ""), ("text", record["text"] ?? ""), ("sentAt", record["sentAt"] ?? "")])
                messages.append(.object(ordered))
                if messages.count == limit { break }
            }
            return .structured(["messages": .array(messages.reversed())])
        }
    }

    static func iso8601(_ timestamp: Timestamp) -> String {
        let date = Date(timeIntervalSince1970: Double(timestamp.millisecondsSince1970) / 1000)
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// The tools this daemon ships before the platform tools arrive.
package enum BuiltinTools {
    /// `whoami`, `sandbox_send_message` and `sandbox_read_messages`.
    package static func registry(store: Store) throws -> ToolRegistry {
        try ToolRegistry([try WhoamiTool.make()] + (try SandboxTools(store: store).tools()))
    }
}
