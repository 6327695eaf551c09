package import JSON
/// A JSON Schema (the subset tools use), compiled once and checked against tool arguments.
///
/// Checks exactly the keywords the tools use (why our own: docs/adr/0006-own-json-module.md): `type` (one name or
/// a list), `properties`, `required`, `additionalProperties` (true, false or a schema), `enum`,
/// `minimum`/`maximum`, `minLength`/`maxLength` (in Unicode code points), `items`, and `minItems`/`maxItems`.
/// Annotations (`title`, `description`, `default`, `examples`, `$schema`) are accepted and ignored. Any other
/// keyword is refused when the schema is compiled, so a tool can never declare a constraint that is silently not
/// enforced.
package final class JSONSchema: Sendable {
    let types: Set<String>?
    let properties: [(name: String, schema: JSONSchema)]
    let required: [String]
    let additionalProperties: Additional
    let enumeration: [JSONValue]?
    let minimum: Double?
    let maximum: Double?
    let minLength: Int?
    let maxLength: Int?
    let items: JSONSchema?
    let minItems: Int?
    let maxItems: Int?

    enum Additional: Sendable {
        case allowed
        case forbidden
        case schema(JSONSchema)
    }

    static let knownTypes: Set<String> = ["null", "boolean", "integer", "number", "string", "array", "object"]
    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$comment"]

    /// Compiles `schema`; `path` names where it sits, for error messages.
    package init(_ schema: JSONValue, path: String = "schema") throws(JSONSchemaError) {
        guard case .object(let object) = schema else {
            throw JSONSchemaError(path: path, reason: "a schema must be an object")
        }
        var types: Set<String>? = nil
        var properties: [(String, JSONSchema)] = []
        var required: [String] = []
        var additional = Additional.allowed
        var enumeration: [JSONValue]? = nil
        var minimum: Double? = nil, maximum: Double? = nil
        var minLength: Int? = nil, maxLength: Int? = nil
        var items: JSONSchema? = nil
        var minItems: Int? = nil, maxItems: Int? = nil

        func count(_ value: JSONValue, _ keyword: String) throws(JSONSchemaError) -> Int {
            guard let number = value.integerValue, number >= 0, number <= Int64(Int32.max) else {
                throw JSONSchemaError(path: "\(path).\(keyword)", reason: "must be a non-negative integer")
            }
            return Int(number)
        }

        for (keyword, value) in object {
            switch keyword {
            case "type":
                let names: [String]
                switch value {
                case .string(let name): names = [name]
                case .array(let list): names = list.compactMap(\.stringValue)
                default: names = []
                }
                guard !names.isEmpty, names.allSatisfy(Self.knownTypes.contains) else {
                    throw JSONSchemaError(path: "\(path).type", reason: "must name one or more of \(Self.knownTypes.sorted().joined(separator: ", "))")
                }
                types = Set(names)
            case "properties":
                guard case .object(let members) = value else { throw JSONSchemaError(path: "\(path).properties", reason: "must be an object") }
                for (name, member) in members {
                    properties.append((name, try JSONSchema(member, path: "\(path).properties.\(name)")))
                }
            case "required":
                guard case .array(let list) = value, list.allSatisfy({ $0.stringValue != nil }) else {
                    throw JSONSchemaError(path: "\(path).required", reason: "must be a list of property names")
                }
                required = list.compactMap(\.stringValue)
            case "additionalProperties":
                switch value {
                case .bool(true): additional = .allowed
                case .bool(false): additional = .forbidden
                default: additional = .schema(try JSONSchema(value, path: "\(path).additionalProperties"))
                }
            case "enum":
                guard case .array(let list) = value, !list.isEmpty else { throw JSONSchemaError(path: "\(path).enum", reason: "must be a non-empty list") }
                enumeration = list
            case "minimum", "maximum":
                guard let number = value.numberValue else { throw JSONSchemaError(path: "\(path).\(keyword)", reason: "must be a number") }
                if keyword == "minimum" { minimum = number } else { maximum = number }
            case "minLength": minLength = try count(value, keyword)
            case "maxLength": maxLength = try count(value, keyword)
            case "minItems": minItems = try count(value, keyword)
            case "maxItems": maxItems = try count(value, keyword)
            case "items":
                items = try JSONSchema(value, path: "\(path).items")
            default:
                guard Self.annotations.contains(keyword) else {
                    throw JSONSchemaError(path: "\(path).\(keyword)", reason: "the keyword '\(keyword)' is not supported by the tool schema validator; use only \(Self.supportedKeywords)")
                }
            }
        }
        for name in required where !properties.contains(where: { $0.0 == name }) {
            if case .forbidden = additional {
                throw JSONSchemaError(path: "\(path).required", reason: "'\(name)' is required but not among the properties, and no other properties are allowed")
            }
        }
        self.types = types
        self.properties = properties
        self.required = required
        self.additionalProperties = additional
        self.enumeration = enumeration
        self.minimum = minimum
        self.maximum = maximum
        self.minLength = minLength
        self.maxLength = maxLength
        self.items = items
        self.minItems = minItems
        self.maxItems = maxItems
    }

    static let supportedKeywords = "type, properties, required, additionalProperties, enum, minimum, maximum, minLength, maxLength, items, minItems, maxItems"

    /// The first violation of the schema by `value`, or nil when it conforms. `path` names the value in the
    /// message (`arguments`, then `arguments.to`, `arguments.tags[2]`, ...).
    package func validate(_ value: JSONValue, path: String = "arguments") -> JSONSchemaViolation? {
        if let types, !Self.matches(value, types) {
            let wanted = types.sorted().joined(separator: " or ")
            return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must be \(Self.article(wanted)) \(wanted), not \(Self.article(value.typeName)) \(value.typeName)")
        }
        if let enumeration, !enumeration.contains(where: { Self.equal($0, value) }) {
            let choices = enumeration.map(\.description).joined(separator: ", ")
            return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must be one of \(choices), not \(value.description.prefix(100))")
        }
        switch value {
        case .integer, .number:
            let number = value.numberValue ?? 0
            if let minimum, number < minimum {
                return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must be at least \(JSONValue.number(minimum)), not \(value)")
            }
            if let maximum, number > maximum {
                return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must be at most \(JSONValue.number(maximum)), not \(value)")
            }
        case .string(let text):
            if minLength != nil || maxLength != nil {
                let length = text.unicodeScalars.count
                if let minLength, length < minLength {
                    return JSONSchemaViolation(path: path, message: minLength == 1
                        ? "\(Self.describe(path)) must not be empty"
                        : "\(Self.describe(path)) must be at least \(minLength) characters long, not \(length)")
                }
                if let maxLength, length > maxLength {
                    return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must be at most \(maxLength) characters long, not \(length)")
                }
            }
        case .array(let elements):
            if let minItems, elements.count < minItems {
                return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must have at least \(minItems) items, not \(elements.count)")
            }
            if let maxItems, elements.count > maxItems {
                return JSONSchemaViolation(path: path, message: "\(Self.describe(path)) must have at most \(maxItems) items, not \(elements.count)")
            }
            if let items {
                for (position, element) in elements.enumerated() {
                    if let violation = items.validate(element, path: "\(path)[\(position)]") { return violation }
                }
            }
        case .object(let object):
            for name in required where object[name] == nil {
                return JSONSchemaViolation(path: Self.join(path, name), message: "the required \(Self.describe(Self.join(path, name))) is missing")
            }
            for (name, member) in object {
                let memberPath = Self.join(path, name)
                if let schema = properties.first(where: { $0.name == name })?.schema {
                    if let violation = schema.validate(member, path: memberPath) { return violation }
                    continue
                }
                switch additionalProperties {
                case .allowed: continue
                case .schema(let schema):
                    if let violation = schema.validate(member, path: memberPath) { return violation }
                case .forbidden:
                    let known = properties.map(\.name).joined(separator: ", ")
                    return JSONSchemaViolation(path: memberPath, message: "unexpected \(Self.describe(memberPath)); the accepted arguments are: \(known.isEmpty ? "none" : known)")
                }
            }
        default:
            break
        }
        return nil
    }

    private static func matches(_ value: JSONValue, _ types: Set<String>) -> Bool {
        switch value {
        case .null: types.contains("null")
        case .bool: types.contains("boolean")
        case .integer: types.contains("integer") || types.contains("number")
        case .number(let number): types.contains("number") || (types.contains("integer") && number.rounded() == number)
        case .string: types.contains("string")
        case .array: types.contains("array")
        case .object: types.contains("object")
        }
    }

    /// JSON equality for `enum`: 1 and 1.0 are equal numbers.
    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.numberValue, let y = b.numberValue { return x == y }
        return a == b
    }

    private static func join(_ path: String, _ name: String) -> String { "\(path).\(name)" }

    /// "argument 'to'" for `arguments.to`, "'arguments'" for the root.
    private static func describe(_ path: String) -> String {
        guard path.hasPrefix("arguments.") else { return "'\(path)'" }
        return "argument '\(path.dropFirst("arguments.".count))'"
    }

    private static func article(_ word: String) -> String {
        word.first.map { "aeiou".contains($0) } == true ? "an" : "a"
    }
}

/// A schema that cannot be compiled: where, and why.
package struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    package var path: String
    package var reason: String

    package var description: String { "invalid schema at \(path): \(reason)" }
}

/// Where a value breaks its schema, with a message naming the field.
package struct JSONSchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// The offending value's path, e.g. `arguments.to`.
    package var path: String
    package var message: String

    package var description: String { message }
}
