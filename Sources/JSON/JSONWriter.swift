/// Writes a ``JSONValue`` as compact JSON text (UTF-8), members in their stored order.
///
/// The output never contains a raw line break (they are escaped inside strings), so one message fits on
/// one server-sent-event `data:` line.
package enum JSONWriter {
    /// `text` as a JSON string literal, quotes included.
    package static func quote(_ text: String) -> String {
        var out = JSONOutput(capacity: text.utf8.count + 16)
        out.writeString(text)
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    package static func encode(_ value: JSONValue) -> [UInt8] {
        var out = JSONOutput(capacity: 512)
        out.write(value)
        return out.array()
    }

    /// The compact JSON text of `value` as a string (no intermediate array).
    package static func text(_ value: JSONValue) -> String {
        var out = JSONOutput(capacity: 512)
        out.write(value)
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    package static func write(_ value: JSONValue, into out: inout [UInt8]) {
        var output = JSONOutput(capacity: 512)
        output.write(value)
        output.withBytes { out.append(contentsOf: $0) }
    }

    /// Appends `text` as a JSON string literal (quotes included).
    package static func writeString(_ text: String, into out: inout [UInt8]) {
        var output = JSONOutput(capacity: text.utf8.count + 16)
        output.writeString(text)
        output.withBytes { out.append(contentsOf: $0) }
    }
}

/// The bytes being written: a growable buffer written through a pointer, not an array
/// (docs/adr/0006-own-json-module.md).
struct JSONOutput: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes as an array (one copy).
    consuming func array() -> [UInt8] {
        let count = self.count
        let base = self.base
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.initialize(from: base, count: count)
            initialized = count
        }
    }

    func withBytes<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        let larger = max(needed, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.initialize(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = larger
    }

    @inline(__always)
    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private mutating func append(_ a: UInt8, _ b: UInt8) {
        reserve(2)
        base[count] = a
        base[count + 1] = b
        count += 2
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    // MARK: Values

    mutating func write(_ value: JSONValue) {
        switch value {
        case .null: append("null")
        case .bool(true): append("true")
        case .bool(false): append("false")
        case .integer(let number): writeInteger(number)
        case .number(let number): writeNumber(number)
        case .string(let text): writeString(text)
        // Elements are read in place through the arrays' buffers: iterating hands out an owned copy of each
        // (docs/adr/0006-own-json-module.md).
        case .array(let elements):
            append(UInt8(ascii: "["))
            elements.withUnsafeBufferPointer { elements in
                for index in elements.indices {
                    if index > 0 { append(UInt8(ascii: ",")) }
                    write(elements[index])
                }
            }
            append(UInt8(ascii: "]"))
        case .object(let object):
            append(UInt8(ascii: "{"))
            object.members.withUnsafeBufferPointer { members in
                for index in members.indices {
                    if index > 0 { append(UInt8(ascii: ",")) }
                    writeString(members[index].key)
                    append(UInt8(ascii: ":"))
                    write(members[index].value)
                }
            }
            append(UInt8(ascii: "}"))
        }
    }

    mutating func writeInteger(_ number: Int64) {
        // Digits backwards into a scratch area, then copied out; Int64.min has 20 characters with its sign.
        reserve(20)
        var magnitude = number.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let length = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var position = scratch.count
            repeat {
                position -= 1
                scratch[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if number < 0 {
                position -= 1
                scratch[position] = UInt8(ascii: "-")
            }
            let length = scratch.count - position
            (base + count).initialize(from: scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + position, count: length)
            return length
        }
        count += length
    }

    mutating func writeNumber(_ number: Double) {
        guard number.isFinite else {
            // JSON has no NaN or infinity.
            append("null")
            return
        }
        if number.rounded() == number, abs(number) < 1e15 {
            writeInteger(Int64(number))
        } else {
            var text = "\(number)"
            text.withUTF8 { append($0) }
        }
    }

    // MARK: Strings

    private static let hex: StaticString = "0123456789abcdef"

    /// Appends `text` as a JSON string literal (quotes included): runs that need no escaping are copied
    /// whole, found eight bytes at a time.
    mutating func writeString(_ text: String) {
        // Native and small strings lend their bytes in place; others (bridged) are made contiguous on a copy.
        if text.utf8.withContiguousStorageIfAvailable({ writeString(utf8: $0) }) != nil { return }
        var text = text
        text.withUTF8 { writeString(utf8: $0) }
    }

    private mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) {
        reserve(utf8.count + 2)
        append(UInt8(ascii: "\""))
        var runStart = 0
        var position = 0
        while true {
            position = Self.firstToEscape(utf8, from: position)
            if runStart < position { append(UnsafeBufferPointer(rebasing: utf8[runStart..<position])) }
            guard position < utf8.count else { break }
            writeEscaped(utf8[position])
            position += 1
            runStart = position
        }
        append(UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ byte: UInt8) {
        switch byte {
        case 0x22: append(0x5C, 0x22)
        case 0x5C: append(0x5C, 0x5C)
        case 0x0A: append(0x5C, UInt8(ascii: "n"))
        case 0x0D: append(0x5C, UInt8(ascii: "r"))
        case 0x09: append(0x5C, UInt8(ascii: "t"))
        default:
            append("\\u00")
            Self.hex.withUTF8Buffer { hex in append(hex[Int(byte >> 4)], hex[Int(byte & 0xF)]) }
        }
    }

    /// The position of the first byte at or after `start` that must be escaped (a control character, `"`
    /// or `\`), or the count when there is none.
    @inline(__always)
    static func firstToEscape(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var position = start
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            while position + 8 <= bytes.count {
                let word = raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)
                if needsEscape(word) { break }
                position += 8
            }
        }
        while position < bytes.count {
            let byte = bytes[position]
            if byte < 0x20 || byte == 0x22 || byte == 0x5C { return position }
            position += 1
        }
        return position
    }

    /// Whether any of the eight bytes in `word` is below 0x20, `"` or `\` (exact: a borrow can only
    /// spill from a byte that matched already).
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below = (word &- ones &* 0x20) & ~word
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let quoteZero = (quote &- ones) & ~quote
        let backslashZero = (backslash &- ones) & ~backslash
        return (below | quoteZero | backslashZero) & highs != 0
    }
}
