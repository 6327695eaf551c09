import ASCIIText
import Glibc

/// An ordered list of header fields with case-insensitive names.
///
/// Names are stored lower-cased (HTTP/2 requires it on the wire and HTTP/1.1 treats them case-insensitively),
/// so lookups compare bytes directly.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// A struct, not a tuple: arrays of tuples are destroyed through generic value witnesses
    /// (docs/adr/0015-per-request-values-as-one-reference.md).
    struct Field: Sendable {
        var name: String
        var value: String
    }

    private var fields: [Field] = []

    public init() {}

    public init(_ fields: [(String, String)]) {
        for (name, value) in fields { add(name, value) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// Appends a field, keeping any with the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: Self.normalize(name), value: value))
    }

    /// Replaces every field named `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        let normalized = Self.normalize(name)
        fields.removeAll { $0.name == normalized }
        fields.append(Field(name: normalized, value: value))
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        let normalized = Self.normalize(name)
        fields.removeAll { $0.name == normalized }
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        // The name as given when it is lower-case already (the usual case): no copy of it to compare with.
        Self.hasUppercase(name) ? first(lowercased: name.lowercased()) : first(lowercased: name)
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        guard !Self.hasUppercase(name) else { return values(name.lowercased()) }
        return fields.filter { $0.name == name }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Whether a field named `name` (lower-case) lists `token` (lower-case), ignoring case, among its
    /// comma-separated elements (`Connection: keep-alive, Upgrade`, `Expect: 100-continue`).
    func lists(_ token: StaticString, in name: String) -> Bool {
        var found = false
        let count = name.utf8.count
        // Byte counts first, as in first(lowercased:): this runs for every HTTP/1.1 request (`Expect`).
        for field in fields where field.name.utf8.count == count && field.name == name {
            ASCII.forEachListElement(of: field.value) { element in
                if ASCII.equal(element, ignoringCase: token) { found = true }
            }
        }
        return found
    }

    public var count: Int { fields.count }

    public func makeIterator() -> Iterator {
        Iterator(fields: fields.makeIterator())
    }

    public struct Iterator: IteratorProtocol {
        var fields: IndexingIterator<[Field]>

        public mutating func next() -> (name: String, value: String)? {
            fields.next().map { ($0.name, $0.value) }
        }
    }

    /// Field names only: values may carry secrets (Authorization, cookies, API keys).
    public var description: String { "HTTPHeaders(\(fields.map(\.name).joined(separator: ", ")))" }

    /// The first value of a field whose name is known to be lower-case.
    func first(lowercased name: String) -> String? {
        let count = name.utf8.count
        // Byte counts first: most fields differ in length, and unequal small strings compare slowly.
        return fields.first { $0.name.utf8.count == count && $0.name == name }?.value
    }

    /// The first `count` fields of `other`, with room for at least `capacity` fields.
    init(fieldsOf other: HTTPHeaders, upTo count: Int, reserving capacity: Int) {
        fields.reserveCapacity(Swift.max(capacity, other.fields.count))
        fields.append(contentsOf: other.fields[..<count])
    }

    /// Makes room for `count` fields, so filling a request's headers allocates once.
    mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
    }

    /// The field at `index` (below ``count``).
    func field(at index: Int) -> (name: String, value: String) {
        let field = fields[index]
        return (field.name, field.value)
    }

    /// Whether the field at `index` exists and has exactly these name and value bytes; compared in place.
    func field(at index: Int, equals name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        fields.withUnsafeBufferPointer { fields in
            index < fields.count && Self.bytes(name, equal: fields[index].name) && Self.bytes(value, equal: fields[index].value)
        }
    }

    /// Whether `bytes` are the UTF-8 bytes of `text`.
    static func bytes(_ bytes: UnsafeRawBufferPointer, equal text: String) -> Bool {
        guard bytes.count == text.utf8.count else { return false }
        guard let base = bytes.baseAddress else { return true }
        // Read in place: `withUTF8` would want a mutable copy of the string, a retain and release per field.
        return text.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, base, bytes.count) == 0 }
            ?? text.utf8.elementsEqual(bytes)
    }

    /// Appends a field whose name is known to be lower-case already (HTTP/2 guarantees it).
    mutating func addLowercased(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces the field `name` (lower-case) without re-checking its case.
    mutating func setLowercased(_ name: String, _ value: String) {
        guard let first = fields.firstIndex(where: { $0.name == name }) else {
            fields.append(Field(name: name, value: value))
            return
        }
        fields[first].value = value
        var index = first + 1
        while index < fields.count {
            if fields[index].name == name { fields.remove(at: index) } else { index += 1 }
        }
    }

    /// Fields that belong to one HTTP/1.1 connection rather than to the message (RFC 9113 §8.2.2): an HTTP/2
    /// message must not carry them.
    static func isConnectionSpecific(_ name: String) -> Bool {
        switch name.utf8.count {
        case 7: name == "upgrade"
        case 10: name == "connection" || name == "keep-alive"
        case 16: name == "proxy-connection"
        case 17: name == "transfer-encoding"
        default: false
        }
    }

    @inline(__always)
    static func normalize(_ name: String) -> String {
        hasUppercase(name) ? name.lowercased() : name
    }

    /// Scans the contiguous bytes, read in place (names are short: small strings, read from the stack),
    /// rather than iterating the UTF-8 view, which checks the string's representation at every step.
    static func hasUppercase(_ name: String) -> Bool {
        name.utf8.withContiguousStorageIfAvailable { bytes in bytes.contains { $0 &- UInt8(ascii: "A") < 26 } }
            ?? name.utf8.contains { $0 &- UInt8(ascii: "A") < 26 }
    }
}
