import Foundation
import JSON
import Testing

/// Real MCP messages (`MCPCorpus/`) read by this parser and by Foundation's `JSONSerialization`: both accept
/// them and read the same value, and the text the writer makes of that value reads back the same in both.
@Suite("MCP messages against Foundation")
struct FoundationComparisonTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("MCPCorpus")

    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        .filter { $0.hasSuffix(".json") }.sorted()

    @Test func corpusIsPresent() {
        #expect(Self.names.count >= 30)
    }

    @Test(arguments: names)
    func foundationReadsTheSameValue(name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        let ours = try JSONParser.parse(Array(data))
        let theirs = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        if let difference = Self.difference(ours, theirs) { Issue.record("\(name): \(difference)") }

        let written = JSONWriter.encode(ours)
        let text = String(decoding: written, as: UTF8.self)
        #expect(!text.contains("\n") && !text.contains("\r"), "\(name): the writer leaves no raw line break")
        let reread = try JSONSerialization.jsonObject(with: Data(written), options: [.fragmentsAllowed])
        if let difference = Self.difference(ours, reread) { Issue.record("\(name), as written: \(difference)\n\(text.prefix(2000))") }
        #expect(try JSONParser.parse(written) == ours, "\(name): the writer's text reads back the same")
    }

    /// Where Foundation's value `theirs` differs from `ours`, or nil. Integers are compared exactly, other
    /// numbers as Doubles; Foundation's booleans are NSNumbers of type `c`, which integers never are.
    static func difference(_ ours: JSONValue, _ theirs: Any, at path: String = "$") -> String? {
        func mismatch(_ what: String) -> String { "at \(path): ours is \(JSONWriter.text(ours).prefix(200)), Foundation's \(what)" }
        let number = theirs as? NSNumber
        let isBoolean = number.map { String(cString: $0.objCType) == "c" } ?? false
        switch ours {
        case .null:
            return theirs is NSNull ? nil : mismatch("\(theirs)")
        case .bool(let value):
            guard let number, isBoolean else { return mismatch("\(theirs), not a boolean") }
            return number.boolValue == value ? nil : mismatch("\(number.boolValue)")
        case .integer(let value):
            guard let number, !isBoolean else { return mismatch("\(theirs), not a number") }
            let type = String(cString: number.objCType)
            let equal = type == "d" || type == "f" ? number.doubleValue == Double(value) : number.int64Value == value && number.stringValue == String(value)
            return equal ? nil : mismatch("\(number) (\(type))")
        case .number(let value):
            guard let number, !isBoolean else { return mismatch("\(theirs), not a number") }
            return number.doubleValue == value ? nil : mismatch("\(number.doubleValue)")
        case .string(let value):
            guard let string = theirs as? String else { return mismatch("\(theirs), not a string") }
            return string == value ? nil : mismatch("\(string.debugDescription)")
        case .array(let elements):
            guard let list = theirs as? [Any] else { return mismatch("\(theirs), not an array") }
            guard list.count == elements.count else { return mismatch("\(list.count) elements") }
            for (position, element) in elements.enumerated() {
                if let difference = difference(element, list[position], at: "\(path)[\(position)]") { return difference }
            }
            return nil
        case .object(let object):
            guard let members = theirs as? [String: Any] else { return mismatch("\(theirs), not an object") }
            guard members.count == object.count else { return mismatch("\(members.count) members") }
            for (key, value) in object {
                guard let other = members[key] else { return mismatch("without '\(key)'") }
                if let difference = difference(value, other, at: "\(path).\(key)") { return difference }
            }
            return nil
        }
    }
}
