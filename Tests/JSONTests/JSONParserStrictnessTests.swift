import JSON
import Testing

/// The rules JSONTestSuite leaves to the parser, checked one by one with the offsets and messages a caller sees.
@Suite("JSON parser strictness")
struct JSONParserStrictnessTests {
    static func parse(_ bytes: [UInt8]) -> Result<JSONValue, JSONParseError> {
        Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
    }

    static func quoted(_ inner: [UInt8]) -> [UInt8] { Array("[\"ab".utf8) + inner + Array("cd\"]".utf8) }

    @Test(arguments: [
        ([0xFF, 0xFE], "stray bytes"),
        ([0xC0, 0xAF], "overlong '/'"),
        ([0xE0, 0x80, 0xAF], "overlong 3-byte '/'"),
        ([0xED, 0xA0, 0x80], "U+D800 encoded in UTF-8"),
        ([0xED, 0xBF, 0xBF], "U+DFFF encoded in UTF-8"),
        ([0xF4, 0x90, 0x80, 0x80], "beyond U+10FFFF"),
        ([0xE2, 0x82], "truncated sequence"),
        ([0x80], "lone continuation byte"),
        ([0xF0, 0x9F, 0x98], "emoji cut short"),
    ] as [([UInt8], String)])
    func invalidUTF8InAStringIsRefusedWhereItStarts(bytes: [UInt8], what: String) {
        // In a plain string, in one with an escape before the bad bytes (the slower path), and in a member name.
        let texts: [[UInt8]] = [
            Self.quoted(bytes),
            Array("[\"\\n".utf8) + bytes + Array("cd\"]".utf8),
            Array("{\"ab".utf8) + bytes + Array("\":1}".utf8),
        ]
        for text in texts {
            guard case .failure(let error) = Self.parse(text) else {
                Issue.record("\(what) must be refused in \(text)")
                continue
            }
            #expect(error.offset == 4, "\(what): \(error)")
            #expect(error.reason.contains("invalid UTF-8"), "\(what): \(error)")
        }
    }

    @Test func validUTF8IsKeptExactly() throws {
        let text = "é ü ß ñ ☕ 中文 𝄞 😀 \u{10FFFF} \u{FFFF} \u{7F}"
        #expect(try JSONParser.parse(Self.quoted(Array(text.utf8))) == .array([.string("ab" + text + "cd")]))
        #expect(try JSONParser.parse(Array("[\"\\t".utf8) + Array(text.utf8) + Array("\"]".utf8)) == .array([.string("\t" + text)]))
        #expect(try JSONParser.parse(Array("{\"\(text)\":1}".utf8)).objectValue?.keys == [text])
        // Escapes next to raw multi-byte text, and escapes of multi-byte scalars.
        #expect(try JSONParser.parse(#""é\u00e9\ud83d\ude00😀\n""#) == "éé😀😀\n")
    }

    @Test func loneSurrogateEscapesAreRefused() throws {
        for text in [#""\ud800""#, #""\udc00""#, #""\ud800x""#, #""\ud800\n""#, #""\ud800\u0041""#, #""\udc00\ud800""#, #"{"\udfaa":0}"#] {
            guard case .failure(let error) = Self.parse(Array(text.utf8)) else {
                Issue.record("\(text) must be refused")
                continue
            }
            #expect(error.reason.contains("surrogate"), "\(text): \(error)")
        }
        #expect(try JSONParser.parse(#""\ud834\udd1e""#) == "𝄞")
        #expect(try JSONParser.parse(#""\uD834\uDD1E""#) == "𝄞")
    }

    @Test func nestingDeeperThanTheLimitIsRefusedWithoutExhaustingTheStack() throws {
        let depth = JSONParser.maximumDepth
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try JSONParser.parse(arrays).arrayValue != nil)
        let objects = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try JSONParser.parse(objects).objectValue != nil)
        // Each with where the first container past the limit opens.
        for (text, offset) in [
            ("[" + arrays + "]", depth),
            (String(repeating: "[", count: 100_000), depth),
            (String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), depth),
            (String(repeating: "{\"a\":", count: 100_000), depth * 5),
            (String(repeating: "[{\"a\":", count: 50_000), depth / 2 * 6),
        ] {
            guard case .failure(let error) = Self.parse(Array(text.utf8)) else {
                Issue.record("nesting deeper than \(depth) must be refused")
                continue
            }
            #expect(error.reason == "nesting deeper than \(depth) levels", "\(error)")
            #expect(error.offset == offset, "\(error)")
        }
    }

    @Test func integersThatFitInt64StayExact() throws {
        let cases: [(String, JSONValue)] = [
            ("9223372036854775807", .integer(.max)), ("-9223372036854775808", .integer(.min)),
            ("1234567890123456789", .integer(1_234_567_890_123_456_789)), ("-1234567890123456789", .integer(-1_234_567_890_123_456_789)),
            ("999999999999999999", .integer(999_999_999_999_999_999)), ("-0", .integer(0)), ("0", .integer(0)),
        ]
        for (text, expected) in cases {
            let value = try JSONParser.parse(text)
            guard case .integer(let read) = value, case .integer(let wanted) = expected else {
                Issue.record("\(text) must be an exact integer, not \(value)")
                continue
            }
            #expect(read == wanted, "\(text)")
        }
        // Just past Int64: the nearest Double, never a wrapped or neighbouring integer.
        for (text, expected) in [("9223372036854775808", 9_223_372_036_854_775_808.0), ("-9223372036854775809", -9_223_372_036_854_775_809.0),
                                 ("12345678901234567890", 12_345_678_901_234_567_890.0), ("1e2", 100.0), ("1e-7", 1e-7), ("-0.0", -0.0)] {
            let value = try JSONParser.parse(text)
            guard case .number(let read) = value else {
                Issue.record("\(text) must be read as a Double, not \(value)")
                continue
            }
            #expect(read == expected, "\(text)")
        }
        #expect(try JSONParser.parse("1e-400") == .number(0), "below Double's range rounds to zero")
        #expect(throws: JSONParseError.self) { try JSONParser.parse("1e400") }
        #expect(throws: JSONParseError.self) { try JSONParser.parse("-1e400") }
    }

    @Test func byteOrderMarkIsRefused() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("{}".utf8)) }
    }

    @Test func theSuiteRunsQuickly() {
        let started = ContinuousClock.now
        for file in JSONTestSuiteTests.files { _ = try? JSONParser.parse(file.bytes) }
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}
