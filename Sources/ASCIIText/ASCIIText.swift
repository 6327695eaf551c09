/// Byte-level helpers for the ASCII text of protocols (HTTP header values, raw header lines).
///
/// They compare UTF-8 bytes, never `Character`s (header values are ASCII; grapheme breaking is wasted there).
/// `@inlinable` so callers in other modules get them specialized.

extension Substring {
    /// This text without leading and trailing spaces, tabs, CRs and LFs: HTTP's optional whitespace
    /// around a field value, plus the line end of a raw header line (a parsed value never holds CR or LF).
    @inlinable
    public var trimmingHTTPWhitespace: Substring {
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, ASCII.isHTTPWhitespace(bytes[start]) { bytes.formIndex(after: &start) }
        while start < end {
            let last = bytes.index(before: end)
            guard ASCII.isHTTPWhitespace(bytes[last]) else { break }
            end = last
        }
        return Substring(bytes[start..<end])
    }
}

extension String {
    /// This text without leading and trailing spaces, tabs, CRs and LFs (see ``Substring/trimmingHTTPWhitespace``).
    @inlinable
    public var trimmingHTTPWhitespace: Substring { self[...].trimmingHTTPWhitespace }

    /// Whether `needle` (lower-case ASCII) occurs in this string, ignoring ASCII case.
    @inlinable
    public func containsASCII(_ needle: StaticString) -> Bool {
        let count = needle.utf8CodeUnitCount
        return needle.withUTF8Buffer { pattern in
            var text = self
            return text.withUTF8 { bytes in
                guard bytes.count >= count else { return false }
                for start in 0...(bytes.count - count) {
                    var matched = true
                    for offset in 0..<count where ASCII.lowercased(bytes[start + offset]) != pattern[offset] {
                        matched = false
                        break
                    }
                    if matched { return true }
                }
                return false
            }
        }
    }
}

extension Substring.UTF8View {
    /// Whether these bytes equal `lowercase` (lower-case ASCII) ignoring ASCII case.
    @inlinable
    public func equalsASCII(ignoringCase lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { pattern in
            zip(self, pattern).allSatisfy { ASCII.lowercased($0) == $1 }
        }
    }
}

/// Single ASCII bytes.
public enum ASCII {
    /// Calls `body` with each element of the comma-separated header value `value` (an `Accept` or `Connection`
    /// list), each without its `;` parameters and the whitespace around it; empty elements are skipped.
    @inlinable
    public static func forEachListElement(of value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
                var elementEnd = start
                while elementEnd < end, bytes[elementEnd] != UInt8(ascii: ";") { elementEnd += 1 }
                var elementStart = start
                while elementStart < elementEnd, isHTTPWhitespace(bytes[elementStart]) { elementStart += 1 }
                while elementEnd > elementStart, isHTTPWhitespace(bytes[elementEnd - 1]) { elementEnd -= 1 }
                if elementStart < elementEnd { body(UnsafeBufferPointer(rebasing: bytes[elementStart..<elementEnd])) }
                start = end + 1
            }
        }
    }

    /// Whether `bytes` equal `lowercase` (lower-case ASCII) ignoring ASCII case.
    @inlinable
    public static func equal(_ bytes: UnsafeBufferPointer<UInt8>, ignoringCase lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { pattern in
            for index in 0..<pattern.count where lowercased(bytes[index]) != pattern[index] { return false }
            return true
        }
    }

    /// Space, tab, CR or LF.
    @inlinable
    public static func isHTTPWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }

    /// `byte` with `A`–`Z` mapped to `a`–`z`.
    @inlinable
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
