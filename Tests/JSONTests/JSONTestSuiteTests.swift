import Foundation
import JSON
import Testing

/// The parsing cases of JSONTestSuite (github.com/nst/JSONTestSuite, `test_parsing/`, MIT licence, copied into
/// `JSONTestSuite/`): every `y_` text is accepted, every `n_` text refused, and every `i_` text, where RFC 8259
/// leaves the choice to the parser, gets the outcome listed in ``implementationDefined`` (the reasons are in
/// `JSONTestSuite/README.md`).
@Suite("JSONTestSuite")
struct JSONTestSuiteTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("JSONTestSuite/test_parsing")

    /// Every file of the corpus, name and bytes, read once.
    static let files: [(name: String, bytes: [UInt8])] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { name in
            (name, Array((try? Data(contentsOf: directory.appendingPathComponent(name))) ?? Data()))
        }
    }()

    static func files(_ prefix: String) -> [(name: String, bytes: [UInt8])] {
        files.filter { $0.name.hasPrefix(prefix) }
    }

    /// What the parser does with each `i_` file: true accepts, false refuses.
    static let implementationDefined: [String: Bool] = [
        // Numbers: a value beyond Double's range is refused (JSONValue cannot hold infinity); one too small
        // for it becomes 0; an integer too large for Int64 becomes the nearest Double.
        "i_number_double_huge_neg_exp.json": true,
        "i_number_huge_exp.json": false,
        "i_number_neg_int_huge_exp.json": false,
        "i_number_pos_double_huge_exp.json": false,
        "i_number_real_neg_overflow.json": false,
        "i_number_real_pos_overflow.json": false,
        "i_number_real_underflow.json": true,
        "i_number_too_big_neg_int.json": true,
        "i_number_too_big_pos_int.json": true,
        "i_number_very_big_negative_int.json": true,
        // Escaped surrogates that do not form a pair: refused (a Swift string cannot hold them).
        "i_object_key_lone_2nd_surrogate.json": false,
        "i_string_1st_surrogate_but_2nd_missing.json": false,
        "i_string_1st_valid_surrogate_2nd_invalid.json": false,
        "i_string_incomplete_surrogate_and_escape_valid.json": false,
        "i_string_incomplete_surrogate_pair.json": false,
        "i_string_incomplete_surrogates_escape_valid.json": false,
        "i_string_invalid_lonely_surrogate.json": false,
        "i_string_invalid_surrogate.json": false,
        "i_string_inverted_surrogates_U+1D11E.json": false,
        "i_string_lone_second_surrogate.json": false,
        // Text that is not UTF-8 (RFC 8259 §8.1): refused, never repaired with U+FFFD.
        "i_string_UTF-16LE_with_BOM.json": false,
        "i_string_UTF-8_invalid_sequence.json": false,
        "i_string_UTF8_surrogate_U+D800.json": false,
        "i_string_invalid_utf-8.json": false,
        "i_string_iso_latin_1.json": false,
        "i_string_lone_utf8_continuation_byte.json": false,
        "i_string_not_in_unicode_range.json": false,
        "i_string_overlong_sequence_2_bytes.json": false,
        "i_string_overlong_sequence_6_bytes.json": false,
        "i_string_overlong_sequence_6_bytes_null.json": false,
        "i_string_truncated-utf-8.json": false,
        "i_string_utf16BE_no_BOM.json": false,
        "i_string_utf16LE_no_BOM.json": false,
        // Structure: deeper than JSONParser.maximumDepth (64) is refused; so is a byte order mark.
        "i_structure_500_nested_arrays.json": false,
        "i_structure_UTF-8_BOM_empty_object.json": false,
    ]

    @Test func corpusIsPresent() {
        #expect(Self.files("y_").count == 95)
        #expect(Self.files("n_").count == 188)
        #expect(Set(Self.files("i_").map(\.name)) == Set(Self.implementationDefined.keys),
                "every i_ file needs a decided outcome in implementationDefined and in JSONTestSuite/README.md")
    }

    @Test func acceptsEveryYFileAndWritesItBackUnchanged() {
        var failures: [String] = []
        for file in Self.files("y_") {
            do {
                let value = try JSONParser.parse(file.bytes)
                let written = JSONWriter.encode(value)
                if try JSONParser.parse(written) != value { failures.append("\(file.name): written as \(String(decoding: written, as: UTF8.self)), read back differently") }
            } catch {
                failures.append("\(file.name): \(error)")
            }
        }
        #expect(failures.isEmpty, "must be accepted:\n\(failures.joined(separator: "\n"))")
    }

    @Test func refusesEveryNFile() {
        var failures: [String] = []
        for file in Self.files("n_") {
            if let value = try? JSONParser.parse(file.bytes) { failures.append("\(file.name): read as \(value)") }
        }
        #expect(failures.isEmpty, "must be refused:\n\(failures.joined(separator: "\n"))")
    }

    @Test func implementationDefinedFilesGetTheDocumentedOutcome() {
        var failures: [String] = []
        for file in Self.files("i_") {
            guard let expected = Self.implementationDefined[file.name] else { continue }
            let result = Result { () throws(JSONParseError) in try JSONParser.parse(file.bytes) }
            switch (expected, result) {
            case (true, .failure(let error)): failures.append("\(file.name): documented as accepted, refused: \(error)")
            case (false, .success(let value)): failures.append("\(file.name): documented as refused, read as \(value)")
            default: break
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
