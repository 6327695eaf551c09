import JSON
import ToolRuntime

/// One fuzz input through tool-argument validation. The first byte picks one of ``ToolSchemas/all``, or, past
/// them, says the input brings its own schema; the rest is read as JSON: the arguments, or
/// `{"schema": ..., "arguments": ...}`. Every value read is also compiled as a schema, which may be refused
/// but must not crash. Traps when an invariant breaks:
/// - a violation names a path under `arguments` and has a message;
/// - validating twice gives the same answer, and so does validating the value as the writer writes it.
func check(_ bytes: [UInt8]) {
    guard let first = bytes.first, let value = try? JSONParser.parse(Array(bytes.dropFirst())) else { return }
    let schemas = ToolSchemas.all
    _ = try? JSONSchema(value)
    if Int(first) % (schemas.count + 1) < schemas.count {
        validate(value, against: schemas[Int(first) % (schemas.count + 1)])
    } else if let schema = value["schema"], let arguments = value["arguments"], let compiled = try? JSONSchema(schema) {
        validate(arguments, against: compiled)
    }
}

private func validate(_ arguments: JSONValue, against schema: JSONSchema) {
    let violation = schema.validate(arguments)
    if let violation {
        // By bytes: a combining mark after the dot makes `hasPrefix`, which compares characters, miss it.
        let path = violation.path.utf8
        guard path.elementsEqual("arguments".utf8) || path.starts(with: "arguments.".utf8) || path.starts(with: "arguments[".utf8) else {
            fatalError("a violation outside the arguments: \(violation.path): \(violation.message)")
        }
        guard !violation.message.isEmpty else { fatalError("a violation without a message at \(violation.path)") }
    }
    guard schema.validate(arguments) == violation else { fatalError("validating twice differs for \(arguments)") }
    guard let written = try? JSONParser.parse(JSONWriter.encode(arguments)) else { fatalError("the writer's text is refused: \(arguments)") }
    guard schema.validate(written)?.path == violation?.path else {
        fatalError("\(arguments) and its written form \(written) validate differently: \(String(describing: violation)) versus \(String(describing: schema.validate(written)))")
    }
}

/// The tools' real schemas (input and output, as in Sources/Hermes/Tools, and a platform tool's), and one
/// that uses every keyword the validator supports.
enum ToolSchemas {
    static let all: [JSONSchema] = texts.map { text in
        do {
            return try JSONSchema(try JSONParser.parse(text))
        } catch {
            fatalError("a built-in schema does not compile: \(error)\n\(text)")
        }
    }

    static let message = #"{"type":"object","properties":{"id":{"type":"string"},"to":{"type":"string"},"text":{"type":"string"},"sentAt":{"type":"string","description":"ISO 8601 time the message was stored"}},"required":["id","to","text","sentAt"]}"#

    static let texts: [String] = [
        // whoami
        #"{"type":"object","properties":{},"additionalProperties":false}"#,
        #"{"type":"object","properties":{"customer":{"type":"string","description":"the caller's customer id"},"mode":{"type":"string","enum":["single-user","customer"]},"plan":{"type":"string"},"name":{"type":"string"},"platforms":{"type":"array","items":{"type":"string"},"description":"platforms the caller has credentials for"}},"required":["customer","mode","plan"]}"#,
        // sandbox_send_message
        #"{"type":"object","properties":{"to":{"type":"string","minLength":1,"maxLength":200,"description":"recipient, any name or number"},"text":{"type":"string","minLength":1,"maxLength":4096,"description":"the message text"}},"required":["to","text"],"additionalProperties":false}"#,
        message,
        // sandbox_read_messages
        #"{"type":"object","properties":{"to":{"type":"string","minLength":1,"maxLength":200,"description":"only messages to this recipient"},"limit":{"type":"integer","minimum":1,"maximum":100,"description":"how many messages at most (default 20)"}},"additionalProperties":false}"#,
        #"{"type":"object","properties":{"messages":{"type":"array","items":"# + message + #"}},"required":["messages"]}"#,
        // A platform tool: a template message with positional parameters.
        #"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"to":{"type":"string","minLength":8,"maxLength":16,"examples":["+4915112345678"]},"template":{"type":"string","enum":["order_update","appointment_reminder","otp"]},"language":{"type":["string","null"],"default":"en_US"},"parameters":{"type":"array","items":{"type":"string","maxLength":1024},"minItems":0,"maxItems":10},"ttlSeconds":{"type":"integer","minimum":30,"maximum":2592000},"priority":{"type":"number","minimum":0,"maximum":1.0},"metadata":{"type":"object","additionalProperties":{"type":"string"}}},"required":["to","template"],"additionalProperties":false}"#,
        // Every keyword, nested.
        #"{"type":"object","title":"all","properties":{"name":{"type":"string","minLength":2,"maxLength":5},"count":{"type":"integer","minimum":-10,"maximum":10},"ratio":{"type":"number","minimum":-1.5e3,"maximum":1e-7},"mode":{"enum":["fast",1,1.5,null,true,{"a":[1]},[2]]},"tags":{"type":"array","items":{"type":["string","integer"],"minLength":1},"minItems":1,"maxItems":3},"nested":{"type":"object","properties":{"flag":{"type":"boolean"},"deeper":{"type":"array","items":{"type":"array","items":{"type":"object","additionalProperties":{"type":"null"}}}}},"required":["flag"],"additionalProperties":false},"maybe":{"type":["string","null"],"$comment":"nullable"}},"required":["name"],"additionalProperties":{"type":["number","boolean"]}}"#,
    ]
}
