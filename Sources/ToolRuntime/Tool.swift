package import JSON
package import Tenancy
/// A tool: what the client sees in `tools/list`, and the code that runs on `tools/call`.
///
/// A class: every call looks its tool up in the registry (docs/adr/0015-per-request-values-as-one-reference.md).
package final class Tool: Sendable {
    /// Unique name, e.g. `whoami` (letters, digits, `_`, `-`, `.`; 1 to 128 characters).
    package let name: String
    /// A short human-readable name.
    package let title: String
    /// What the tool does and when to use it; the model reads this.
    package let description: String
    /// JSON Schema of the arguments (an object schema), checked before the handler runs.
    package let inputSchema: JSONValue
    /// JSON Schema of `structuredContent`, for tools whose results are structured.
    package let outputSchema: JSONValue?
    package let annotations: ToolAnnotations
    /// The platform the tool acts on (`whatsapp`, `telegram`, …), nil for tools of the daemon itself; a
    /// customer whose plan does not include the platform neither sees nor runs it.
    package let platform: String?
    let validator: JSONSchema
    let handler: @Sendable (ToolInvocation) async throws -> ToolResult

    /// Creates a tool; throws when the name is malformed or a schema uses something the validator does
    /// not check (see ``JSONSchema``), so a tool can never silently skip validation.
    package init(
        name: String,
        title: String,
        description: String,
        inputSchema: JSONValue,
        outputSchema: JSONValue? = nil,
        annotations: ToolAnnotations,
        platform: String? = nil,
        handler: @escaping @Sendable (ToolInvocation) async throws -> ToolResult
    ) throws(JSONSchemaError) {
        let allowed = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard allowed, (1...128).contains(name.utf8.count) else {
            throw JSONSchemaError(path: "name", reason: "tool name '\(name)' must be 1 to 128 letters, digits, '_', '-' or '.'")
        }
        let validator = try JSONSchema(inputSchema)
        guard validator.types == ["object"] else {
            throw JSONSchemaError(path: "inputSchema", reason: "the input schema of '\(name)' must have \"type\": \"object\"")
        }
        if let outputSchema { _ = try JSONSchema(outputSchema) }
        self.name = name
        self.title = title
        self.description = description
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.annotations = annotations
        self.platform = platform
        self.validator = validator
        self.handler = handler
    }
}

/// Hints about a tool's behaviour for clients (they are hints: clients must not rely on them for safety).
package struct ToolAnnotations: Sendable, Equatable {
    /// The tool does not change anything.
    package var readOnlyHint: Bool
    /// The tool may destroy or overwrite data (meaningful when not read-only).
    package var destructiveHint: Bool
    /// Calling it again with the same arguments has no further effect.
    package var idempotentHint: Bool
    /// The tool reaches the outside world (platforms), not only this daemon.
    package var openWorldHint: Bool

    package init(readOnlyHint: Bool, destructiveHint: Bool, idempotentHint: Bool, openWorldHint: Bool) {
        self.readOnlyHint = readOnlyHint
        self.destructiveHint = destructiveHint
        self.idempotentHint = idempotentHint
        self.openWorldHint = openWorldHint
    }

    package var json: JSONValue {
        [
            "readOnlyHint": .bool(readOnlyHint), "destructiveHint": .bool(destructiveHint),
            "idempotentHint": .bool(idempotentHint), "openWorldHint": .bool(openWorldHint),
        ]
    }
}

/// One call of a tool, as its handler sees it: arguments already validated.
package struct ToolInvocation: Sendable {
    package let arguments: JSONObject
    package let customer: Customer
    package let context: ToolCallContext

    package init(arguments: JSONObject, customer: Customer, context: ToolCallContext) {
        self.arguments = arguments
        self.customer = customer
        self.context = context
    }

    package func string(_ name: String) -> String? { arguments[name]?.stringValue }
    package func integer(_ name: String) -> Int64? { arguments[name]?.integerValue }
}

/// A tool's answer: content blocks for the model, optional structured content, and whether it is an error.
package struct ToolResult: Sendable, Equatable {
    package var content: [ToolContent]
    package var structuredContent: JSONValue?
    package var isError: Bool

    package init(content: [ToolContent], structuredContent: JSONValue? = nil, isError: Bool = false) {
        self.content = content
        self.structuredContent = structuredContent
        self.isError = isError
    }

    /// A successful text result.
    package static func text(_ text: String) -> ToolResult { ToolResult(content: [.text(text)]) }

    /// A successful structured result, with its JSON text as the content block (for older clients).
    package static func structured(_ value: JSONValue) -> ToolResult {
        ToolResult(content: [.text(value.description)], structuredContent: value)
    }

    /// A failed call: the message tells the caller what went wrong and what to do.
    package static func error(_ message: String) -> ToolResult { ToolResult(content: [.text(message)], isError: true) }

    /// The text of the content blocks, joined.
    package var text: String {
        content.map { block in
            switch block {
            case .text(let text): text
            }
        }.joined(separator: "\n")
    }
}

/// A content block of a tool result.
package enum ToolContent: Sendable, Equatable {
    case text(String)

    /// Built member by member: this runs for every tool result.
    package var json: JSONValue {
        switch self {
        case .text(let text):
            var block = JSONObject(capacity: 2)
            block.append("type", "text")
            block.append("text", .string(text))
            return .object(block)
        }
    }
}

/// Thrown by a tool handler for a failure the caller can act on; its message becomes the error result.
package struct ToolError: Error, Sendable, CustomStringConvertible {
    package var message: String

    package init(_ message: String) { self.message = message }

    package var description: String { message }
}
