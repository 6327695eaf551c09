import JSON
import Foundation
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Testing

@Suite("MCP JSON")
struct MCPJSONTests {
    @Test func parsesAndWritesRoundTrip() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\\z\n\u00e9\ud83d\ude00","d":[true,false,null],"e":{},"f":[],"g":12345678901234567890,"h":1e3,"i":-0}"#
        let value = try JSONParser.parse(text)
        #expect(value["a"] == .integer(1))
        #expect(value["b"] == .number(-2.5))
        #expect(value["c"] == .string("x\"y\\z\né😀"))
        #expect(value["d"] == [true, false, nil])
        #expect(value["g"]?.numberValue == 12345678901234567890.0)
        #expect(value["h"] == .integer(1000))
        #expect(value.objectValue?.keys == ["a", "b", "c", "d", "e", "f", "g", "h", "i"], "member order is kept")
        let written = String(decoding: JSONWriter.encode(value), as: UTF8.self)
        #expect(try JSONParser.parse(written) == value)
        #expect(!written.contains("\n"), "no raw line breaks: \(written)")
        // What Foundation reads back is the same document.
        let foundation = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any]
        #expect(foundation?["c"] as? String == "x\"y\\z\né😀")
        #expect(String(decoding: JSONWriter.encode(["id": 7, "s": "\u{1}"]), as: UTF8.self) == #"{"id":7,"s":"\u0001"}"#)
    }

    @Test func writerEscapesEveryByteThatNeedsItWhereverItSits() throws {
        // The writer skips eight bytes at a time: put each special byte at every offset of long strings.
        let specials: [(Character, String)] = [("\"", #"\""#), ("\\", #"\\"#), ("\n", #"\n"#), ("\r", #"\r"#), ("\t", #"\t"#),
            ("\u{0}", #"\u0000"#), ("\u{1f}", #"\u001f"#), ("\u{8}", #"\u0008"#)]
        for (special, escaped) in specials {
            for length in [1, 7, 8, 9, 16, 17, 40] {
                for offset in 0..<length {
                    var plain = Array(repeating: Character("a"), count: length)
                    plain[offset] = special
                    let text = String(plain)
                    let expected = "\"" + String(repeating: "a", count: offset) + escaped + String(repeating: "a", count: length - offset - 1) + "\""
                    #expect(JSONWriter.quote(text) == expected, "\(text.debugDescription)")
                    #expect(try JSONParser.parse(JSONWriter.encode(.string(text))) == .string(text))
                }
            }
        }
        // Bytes that need no escaping, ASCII and not, are copied as they are.
        let untouched = "DEL\u{7f} space ~ é 😀 ünïcødé, 0x20 and above: !#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}"
        #expect(JSONWriter.quote(untouched) == "\"" + untouched + "\"")
        #expect(JSONWriter.quote("") == #""""#)
        var appended: [UInt8] = Array("x=".utf8)
        JSONWriter.write(["k": [1, -2, "v"]], into: &appended)
        JSONWriter.writeString("\u{2028}", into: &appended)
        #expect(String(decoding: appended, as: UTF8.self) == "x={\"k\":[1,-2,\"v\"]}\"\u{2028}\"")
    }

    @Test func writerWritesIntegersAndNumbers() {
        let cases: [(JSONValue, String)] = [
            (.integer(0), "0"), (.integer(9), "9"), (.integer(10), "10"), (.integer(-1), "-1"),
            (.integer(Int64.max), "9223372036854775807"), (.integer(Int64.min), "-9223372036854775808"),
            (.number(2), "2"), (.number(-0.0), "0"), (.number(2.5), "2.5"), (.number(1e300), "1e+300"),
            (.number(.nan), "null"), (.number(.infinity), "null"), (.null, "null"), (.bool(true), "true"), (.bool(false), "false"),
        ]
        for (value, text) in cases {
            #expect(String(decoding: JSONWriter.encode(value), as: UTF8.self) == text, "\(value)")
        }
        // Long output grows the buffer.
        let long = JSONValue.array(Array(repeating: .string(String(repeating: "x", count: 100)), count: 50))
        #expect(JSONWriter.encode(long).count == 2 + 50 * 102 + 49)
    }

    @Test func rejectsInvalidText() {
        for bad in ["", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "nul", "\"abc", "\"\\x\"", "{a:1}", "[1 2]", "1 2",
                    "\"\u{1}\"", "\"\\ud800\"", "NaN", "Infinity", "1e999", "//c\n1"] {
            #expect(throws: JSONParseError.self, "\(bad.debugDescription) must be refused") { try JSONParser.parse(bad) }
        }
    }

    @Test func nestingIsBounded() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(try JSONParser.parse(fine).arrayValue != nil)
    }

    @Test func manyDuplicateKeysStayLinear() throws {
        // 40,000 members, 10,000 distinct: must not go quadratic (a linear scan per member makes 200 million
        // string comparisons here; with the index it is 40,000 lookups).
        let members = (0..<40_000).map { "\"k\($0 % 10_000)\":\($0)" }.joined(separator: ",")
        let started = ContinuousClock.now
        let value = try JSONParser.parse("{\(members)}")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(value.objectValue?.count == 10_000)
        #expect(value["k0"] == .integer(30_000), "the last duplicate wins")
    }

    @Test func jsonRPCShapes() {
        func classify(_ text: String) -> Result<JSONRPCMessage, InvalidJSONRPCMessage> { JSONRPC.message(try! JSONParser.parse(text)) }
        guard case .success(.request(let ping)) = classify(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#), ping.id == .integer(1), ping.method == "ping", ping.params == nil else {
            Issue.record("a request")
            return
        }
        guard case .success(.request(let named)) = classify(#"{"jsonrpc":"2.0","id":"a","method":"x","params":{}}"#), named.id == .string("a"), named.method == "x", named.params != nil else {
            Issue.record("a request with a string id")
            return
        }
        guard case .success(.notification("n", _)) = classify(#"{"jsonrpc":"2.0","method":"n"}"#) else {
            Issue.record("a notification")
            return
        }
        guard case .success(.response) = classify(#"{"jsonrpc":"2.0","id":3,"result":{}}"#) else {
            Issue.record("a response")
            return
        }
        for bad in [#"{"id":1,"method":"x"}"#, #"{"jsonrpc":"2.0","id":null,"method":"x"}"#, #"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
                    #"{"jsonrpc":"2.0","method":""}"#, #"{"jsonrpc":"2.0","method":"x","params":"p"}"#, #"{"jsonrpc":"2.0"}"#, "[1]", "\"s\""] {
            if case .success(let message) = classify(bad) { Issue.record("\(bad) classified as \(message)") }
        }
    }
}

@Suite("Tool schema validation")
struct JSONSchemaTests {
    let schema: JSONSchema

    init() throws {
        schema = try JSONSchema([
            "type": "object",
            "properties": [
                "name": ["type": "string", "minLength": 2, "maxLength": 5],
                "count": ["type": "integer", "minimum": 1, "maximum": 10],
                "ratio": ["type": "number"],
                "mode": ["type": "string", "enum": ["fast", "slow"]],
                "tags": ["type": "array", "items": ["type": "string", "minLength": 1], "maxItems": 3],
                "nested": ["type": "object", "properties": ["flag": ["type": "boolean"]], "required": ["flag"], "additionalProperties": false],
                "maybe": ["type": ["string", "null"]],
            ],
            "required": ["name"],
            "additionalProperties": false,
        ])
    }

    func violation(_ value: JSONValue) -> String? { schema.validate(value)?.message }

    @Test func acceptsConformingValues() {
        #expect(violation(["name": "ab"]) == nil)
        #expect(violation(["name": "abcde", "count": 10, "ratio": 0.5, "mode": "slow", "tags": ["a", "b"], "nested": ["flag": true], "maybe": nil]) == nil)
        #expect(violation(["name": "éé", "count": 3.0]) == nil, "3.0 is an integer; 'éé' is two characters")
    }

    @Test func namesTheOffendingField() {
        let cases: [(JSONValue, String)] = [
            ([:], "argument 'name'"),
            (["name": "a"], "argument 'name' must be at least 2"),
            (["name": "abcdef"], "argument 'name' must be at most 5"),
            (["name": 5], "argument 'name' must be a string, not an integer"),
            (["name": "ab", "count": 0], "argument 'count' must be at least 1"),
            (["name": "ab", "count": 11], "argument 'count' must be at most 10"),
            (["name": "ab", "count": 1.5], "argument 'count' must be an integer, not a number"),
            (["name": "ab", "ratio": "x"], "argument 'ratio' must be a number"),
            (["name": "ab", "mode": "medium"], "argument 'mode' must be one of"),
            (["name": "ab", "tags": ["a", ""]], "argument 'tags[1]' must not be empty"),
            (["name": "ab", "tags": ["a", "b", "c", "d"]], "argument 'tags' must have at most 3"),
            (["name": "ab", "nested": [:]], "argument 'nested.flag' is missing"),
            (["name": "ab", "nested": ["flag": true, "x": 1]], "unexpected argument 'nested.x'"),
            (["name": "ab", "extra": 1], "unexpected argument 'extra'"),
            (["name": "ab", "maybe": 3], "argument 'maybe' must be a null or string"),
            ("text", "'arguments' must be an object"),
        ]
        for (value, expected) in cases {
            let message = violation(value)
            #expect(message?.contains(expected) == true, "\(value): \(message ?? "accepted")")
        }
    }

    @Test func refusesKeywordsItCannotCheck() {
        for keyword in ["pattern", "format", "oneOf", "$ref", "exclusiveMinimum"] {
            #expect(throws: JSONSchemaError.self, "\(keyword)") { try JSONSchema(.object(JSONObject([("type", "string"), (keyword, "x")]))) }
        }
        #expect(throws: JSONSchemaError.self) { try JSONSchema(["type": "strange"]) }
        #expect(throws: JSONSchemaError.self) { try JSONSchema(["type": "string", "minLength": -1]) }
        #expect(throws: JSONSchemaError.self) {
            try Tool(name: "t", title: "t", description: "d", inputSchema: ["type": "string"], annotations: .init(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)) { _ in .text("") }
        }
        #expect(throws: JSONSchemaError.self) {
            try Tool(name: "bad name!", title: "t", description: "d", inputSchema: ["type": "object"], annotations: .init(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)) { _ in .text("") }
        }
    }
}
