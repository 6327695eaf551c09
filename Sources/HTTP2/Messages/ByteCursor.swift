/// Appends bytes to memory sized beforehand for all of them. Response heads are built this way: for
/// HTTP/1.1 into the buffer that goes out, for h2 into the field list nghttp2 copies.
struct ByteCursor {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes appended so far.
    private(set) var count = 0

    init(_ memory: UnsafeMutableBufferPointer<UInt8>) {
        base = memory.baseAddress!
        capacity = memory.count
    }

    init(_ memory: UnsafeMutableRawBufferPointer) {
        self.init(memory.bindMemory(to: UInt8.self))
    }

    /// Appends `bytes`; returns where they start and how many there are.
    @discardableResult
    mutating func append(_ bytes: some Collection<UInt8>) -> (start: UnsafeMutablePointer<UInt8>, count: Int) {
        let start = count
        let copied = bytes.withContiguousStorageIfAvailable { source -> Int in
            reserve(source.count)
            if let address = source.baseAddress { (base + count).initialize(from: address, count: source.count) }
            return source.count
        }
        if let copied {
            count += copied
        } else {
            for byte in bytes {
                reserve(1)
                base[count] = byte
                count += 1
            }
        }
        return (base + start, count - start)
    }

    @discardableResult
    mutating func append(_ text: StaticString) -> (start: UnsafeMutablePointer<UInt8>, count: Int) {
        text.withUTF8Buffer { append($0) }
    }

    /// Appends a non-negative number in decimal (a negative one as 0).
    @discardableResult
    mutating func append(decimal value: Int) -> (start: UnsafeMutablePointer<UInt8>, count: Int) {
        let value = max(value, 0)
        let digits = Self.digitCount(value)
        reserve(digits)
        var rest = value
        for index in stride(from: count + digits - 1, through: count, by: -1) {
            base[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        count += digits
        return (base + count - digits, digits)
    }

    /// How many digits `value` (non-negative) has in decimal.
    static func digitCount(_ value: Int) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return digits
    }

    private func reserve(_ extra: Int) {
        precondition(count + extra <= capacity, "a response head outgrew the room worked out for it")
    }
}
