/// A type that can be a key in a keyspace. The encoding must sort the way the keys should be scanned.
public protocol StoreKey: Sendable {
    /// The bytes stored as the LMDB key (1 to 511 bytes).
    var storeKey: [UInt8] { get }
    /// Decodes a key read back from the store.
    init(storeKey: [UInt8]) throws(StoreError)
}

/// A type that can be a value in a keyspace.
public protocol StoreValue: Sendable {
    var storeValue: [UInt8] { get }
    init(storeValue: [UInt8]) throws(StoreError)
}

extension Array: StoreKey, StoreValue where Element == UInt8 {
    public var storeKey: [UInt8] { self }
    public init(storeKey: [UInt8]) { self = storeKey }
    public var storeValue: [UInt8] { self }
    public init(storeValue: [UInt8]) { self = storeValue }
}

extension String: StoreKey, StoreValue {
    public var storeKey: [UInt8] { Array(utf8) }
    public init(storeKey: [UInt8]) throws(StoreError) {
        guard let text = String(validating: storeKey, as: UTF8.self) else {
            throw StoreError(.corruptKey, "a stored key is not valid UTF-8")
        }
        self = text
    }
    public var storeValue: [UInt8] { Array(utf8) }
    public init(storeValue: [UInt8]) throws(StoreError) {
        guard let text = String(validating: storeValue, as: UTF8.self) else {
            throw StoreError(.corruptValue, "a stored text value is not valid UTF-8")
        }
        self = text
    }
}

extension UInt64: StoreKey {
    /// Big-endian, so numeric order is byte order.
    public var storeKey: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
    public init(storeKey: [UInt8]) throws(StoreError) {
        guard storeKey.count == 8 else { throw StoreError(.corruptKey, "an integer key is not 8 bytes long") }
        self = storeKey.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// `{customerID}:{platform}`, the key of a sealed credential.
public struct CredentialKey: StoreKey, Hashable {
    public var customerID: String
    public var platform: String

    public init(customerID: String, platform: String) {
        self.customerID = customerID
        self.platform = platform
    }

    public var storeKey: [UInt8] { Array("\(customerID):\(platform)".utf8) }

    public init(storeKey: [UInt8]) throws(StoreError) {
        let text = try String(storeKey: storeKey)
        guard let colon = text.lastIndex(of: ":") else {
            throw StoreError(.corruptKey, "a credential key has no ':' between customer and platform")
        }
        customerID = String(text[..<colon])
        platform = String(text[text.index(after: colon)...])
    }

    /// The prefix shared by every credential of one customer, for range scans.
    public static func prefix(customerID: String) -> [UInt8] { Array("\(customerID):".utf8) }
}

/// `{prefix}:{sequence}` with the sequence as 20 zero-padded decimal digits, so keys under one prefix
/// sort in append order and stay readable in `mdb_dump`.
///
/// Audit logs use the prefix `{customerID}:{yyyy-mm-dd}`, so one customer's day is one range scan.
public struct SequencedKey: StoreKey, Hashable, Comparable {
    public static let sequenceDigits = 20
    public var prefix: String
    public var sequence: UInt64

    public init(prefix: String, sequence: UInt64) {
        self.prefix = prefix
        self.sequence = sequence
    }

    /// The key prefix of one customer's audit log for one day (`day` as `yyyy-mm-dd`).
    public static func logPrefix(customerID: String, day: String) -> String { "\(customerID):\(day)" }

    /// The bytes every key under `prefix` starts with.
    public static func scanPrefix(_ prefix: String) -> [UInt8] { Array("\(prefix):".utf8) }

    public var storeKey: [UInt8] {
        var bytes = Self.scanPrefix(prefix)
        bytes.append(contentsOf: Self.digits(sequence))
        return bytes
    }

    public init(storeKey: [UInt8]) throws(StoreError) {
        guard storeKey.count > Self.sequenceDigits, storeKey[storeKey.count - Self.sequenceDigits - 1] == UInt8(ascii: ":")
        else { throw StoreError(.corruptKey, "a sequenced key does not end in ':' and \(Self.sequenceDigits) digits") }
        guard let value = Self.sequence(ofStoreKey: storeKey) else {
            throw StoreError(.corruptKey, "a sequenced key's last \(Self.sequenceDigits) characters are not a sequence number")
        }
        sequence = value
        prefix = try String(storeKey: Array(storeKey.prefix(storeKey.count - Self.sequenceDigits - 1)))
    }

    /// The sequence of a stored key shaped like a sequenced key (`…:` and 20 digits), else nil.
    static func sequence<Bytes: Collection<UInt8>>(ofStoreKey storeKey: Bytes) -> UInt64? {
        guard storeKey.count > sequenceDigits else { return nil }
        let digits = storeKey.suffix(sequenceDigits + 1)
        guard digits.first == UInt8(ascii: ":") else { return nil }
        var value: UInt64 = 0
        for byte in digits.dropFirst() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    static func digits(_ value: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: UInt8(ascii: "0"), count: sequenceDigits)
        var rest = value
        var index = sequenceDigits - 1
        while rest > 0 {
            out[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
        return out
    }

    public static func < (lhs: SequencedKey, rhs: SequencedKey) -> Bool {
        lhs.storeKey.lexicographicallyPrecedes(rhs.storeKey)
    }
}
