/// A JSON document as a value: what MCP messages, tool arguments and schemas are made of.
///
/// Integers and other numbers are kept apart so JSON-RPC ids and counts round-trip exactly (`1` stays `1`,
/// never `1.0`). Objects keep their members in order, which keeps responses readable and stable; lookups
/// are linear, which is the fastest choice for the small objects MCP exchanges.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    package var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    package var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The value as an integer: an integer, or a number with no fractional part.
    package var integerValue: Int64? {
        switch self {
        case .integer(let value): value
        case .number(let value) where value.rounded() == value && abs(value) < 9.0e15: Int64(value)
        default: nil
        }
    }

    /// The value as a number: an integer or a number.
    package var numberValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    package var objectValue: JSONObject? {
        if case .object(let value) = self { value } else { nil }
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let value) = self { value } else { nil }
    }

    package var isNull: Bool {
        if case .null = self { true } else { false }
    }

    /// The member `key` when this is an object.
    package subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// JSON equality: numbers compare by value (`1 == 1.0`), objects regardless of member order.
    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.integer, .number), (.number, .integer), (.number, .number): lhs.numberValue == rhs.numberValue
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// The JSON type name used in schemas and error messages: "null", "boolean", "integer", "number", "string",
    /// "array" or "object".
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer: "integer"
        case .number(let value): value.rounded() == value ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// A JSON object: members in order, looked up by name.
package struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    /// A struct, not a tuple: arrays of tuples are copied through generic value witnesses
    /// (docs/adr/0015-per-request-values-as-one-reference.md).
    struct Member: Sendable {
        var key: String
        var value: JSONValue
    }

    private(set) var members: [Member]

    package init() { members = [] }

    /// An empty object with room for `capacity` members: built up with ``append(_:_:)``, it allocates once
    /// (a literal allocates its element list and then the members).
    package init(capacity: Int) {
        members = []
        members.reserveCapacity(capacity)
    }

    package init(_ members: [(key: String, value: JSONValue)]) { self.members = members.map { Member(key: $0.key, value: $0.value) } }

    init(members: [Member]) { self.members = members }

    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(literal: elements)
    }

    /// Room for a few more members than the literal has: objects written as a literal often get an optional
    /// member or two appended, and growing the array means allocating it again.
    init(literal elements: [(String, JSONValue)]) {
        members = []
        members.reserveCapacity(elements.count + 2)
        for (key, value) in elements { members.append(Member(key: key, value: value)) }
    }

    package var count: Int { members.count }
    package var isEmpty: Bool { members.isEmpty }
    package var keys: [String] { members.map(\.key) }

    /// The value of `key`; setting replaces it in place or appends it, setting nil removes it.
    package subscript(key: String) -> JSONValue? {
        get {
            for member in members where member.key == key { return member.value }
            return nil
        }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    /// Appends a member without looking for an existing one (the caller knows the key is new).
    package mutating func append(_ key: String, _ value: JSONValue) {
        members.append(Member(key: key, value: value))
    }

    package func makeIterator() -> Iterator {
        Iterator(members: members.makeIterator())
    }

    package struct Iterator: IteratorProtocol {
        var members: IndexingIterator<[Member]>

        package mutating func next() -> (key: String, value: JSONValue)? {
            members.next().map { ($0.key, $0.value) }
        }
    }

    /// Equal when both hold the same keys with equal values, whatever the order.
    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        return lhs.members.allSatisfy { member in rhs[member.key] == member.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(literal: elements))
    }
    package init(nilLiteral: ()) { self = .null }
    package init(floatLiteral value: Double) { self = .number(value) }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text.
    package var description: String { JSONWriter.text(self) }
}
