/// Why a JSON text could not be read, and where.
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem in the input.
    package var offset: Int
    package var reason: String

    package var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// Reads JSON text (RFC 8259) into a ``JSONValue``.
///
/// Strict about the grammar (no comments, no trailing commas, no leading zeros, one value per text, no
/// byte order mark) and about text: strings must be valid UTF-8 and `\u` escapes of surrogates must come in
/// pairs, since a Swift string cannot hold a lone surrogate and replacing it would change the data. Bounded
/// in nesting depth (``maximumDepth``) so hostile input cannot exhaust the stack, and linear in the input
/// size (duplicate object keys are resolved with an index once an object grows, the last one winning).
/// Integers that fit `Int64` are read exactly; other numbers as `Double`, and those beyond its range are
/// refused. Tests/JSONTests/JSONTestSuite/README.md lists its choices where RFC 8259 leaves them open.
package struct JSONParser {
    /// The deepest nesting of arrays and objects accepted.
    package static let maximumDepth = 64

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses a whole text: exactly one value, with optional whitespace around it.
    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("unexpected text after the JSON value") }
        return value
    }

    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private func failure(_ reason: String) -> JSONParseError {
        JSONParseError(offset: index, reason: reason)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw failure("the text ends where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected character '\(Self.printable(bytes[index]))' where a value was expected")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("the text ends inside a literal") }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw failure("unknown literal; expected \(literal)") }
        index += count
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
    }

    static let typicalMemberCount = 4

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        index += 1
        var members: [JSONObject.Member] = []
        var positions: [String: Int]? = nil
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(JSONObject())
        }
        // Most objects in messages are small (a JSON-RPC envelope has four members): growing from empty reallocates twice.
        members.reserveCapacity(Self.typicalMemberCount)
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name in double quotes") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            if members.count >= 16, positions == nil {
                var built: [String: Int] = [:]
                for (position, member) in members.enumerated() { built[member.key] = position }
                positions = built
            }
            if positions != nil {
                if let existing = positions![key] {
                    members[existing].value = value
                } else {
                    positions![key] = members.count
                    members.append(JSONObject.Member(key: key, value: value))
                }
            } else if let existing = members.firstIndex(where: { $0.key == key }) {
                members[existing].value = value
            } else {
                members.append(JSONObject.Member(key: key, value: value))
            }
            skipWhitespace()
            guard index < bytes.count else { throw failure("the text ends inside an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw failure("expected ',' or '}' in an object") }
            index += 1
            depth -= 1
            return .object(JSONObject(members: members))
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array([])
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw failure("the text ends inside an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw failure("expected ',' or ']' in an array") }
            index += 1
            depth -= 1
            return .array(elements)
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Every byte of the string OR-ed together: its high bit says whether UTF-8 needs validating.
        var seen: UInt8 = 0
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = bytes[start..<index]
                index += 1
                guard seen >= 0x80 else { return String(decoding: raw, as: UTF8.self) }
                guard let text = String(validating: raw, as: UTF8.self) else { throw Self.invalidUTF8(raw) }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("control character in a string; escape it") }
            seen |= byte
            index += 1
        }
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard seen >= 0x80 else { return String(decoding: buffer, as: UTF8.self) }
                // Escapes are ASCII in the input and whole sequences in the buffer: both are valid or neither is.
                guard let text = String(validating: buffer, as: UTF8.self) else { throw Self.invalidUTF8(bytes[start..<index - 1]) }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw failure("a high surrogate escape must be followed by a low surrogate escape")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("invalid low surrogate escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("a low surrogate escape without a high surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid unicode escape") }
                    UTF8.encode(unicode) { buffer.append($0) }
                default:
                    index -= 1
                    throw failure("unknown escape '\\\(Self.printable(escape))' in a string")
                }
            default:
                guard byte >= 0x20 else { throw failure("control character in a string; escape it") }
                seen |= byte
                buffer.append(byte)
                index += 1
            }
        }
        throw failure("the text ends inside a string")
    }

    /// Where `raw`, a string's bytes in the input that are not valid UTF-8 (RFC 8259 §8.1), first goes wrong:
    /// overlong forms, encoded surrogates and stray bytes are refused rather than replaced with U+FFFD.
    private static func invalidUTF8(_ raw: ArraySlice<UInt8>) -> JSONParseError {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = raw.makeIterator()
        var position = raw.startIndex
        while case .valid(let scalar) = parser.parseScalar(from: &iterator) { position += scalar.count }
        let byte = position < raw.endIndex ? " (byte 0x\(String(raw[position], radix: 16)))" : ""
        return JSONParseError(offset: position, reason: "invalid UTF-8 in a string\(byte); JSON text must be UTF-8")
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("the text ends inside a unicode escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("invalid hex digit in a unicode escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("a number needs digits") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, Self.isDigit(bytes[index]) { throw failure("numbers must not have leading zeros") }
        } else {
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("a fraction needs digits after '.'") }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw failure("an exponent needs digits") }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        let digits = index - start - (negative ? 1 : 0)
        // 19 digits cannot overflow UInt64; an integer that fits Int64 is kept exact, a larger one becomes a
        // Double (converting that back to Int64 could land on Int64.min or a neighbour of the written value).
        if integral, digits <= 19 {
            var magnitude: UInt64 = 0
            for position in (start + (negative ? 1 : 0))..<index {
                magnitude = magnitude * 10 + UInt64(bytes[position] - UInt8(ascii: "0"))
            }
            if !negative, magnitude <= UInt64(Int64.max) { return .integer(Int64(magnitude)) }
            if negative, magnitude <= Int64.min.magnitude { return .integer(Int64(bitPattern: 0 &- magnitude)) }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw JSONParseError(offset: start, reason: "the number \(text) is out of range") }
        return .number(value)
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16)
    }
}
