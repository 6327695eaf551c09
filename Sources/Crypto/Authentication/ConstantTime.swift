/// Comparisons whose running time does not depend on where two secrets differ.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, compared with `sodium_memcmp`.
    ///
    /// Use it for MACs, tokens and other secrets: `==` on arrays stops at the first differing byte,
    /// which leaks how much of a guess was right. Lengths are not secret: different lengths give `false`
    /// at once.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        Sodium.constantTimeEquals(a, b)
    }

    /// Whether the UTF-8 bytes of `text` are `bytes`, compared the same way, without copying the text
    /// into an array first (a presented key, on every request).
    public static func equals(utf8 text: String, _ bytes: [UInt8]) -> Bool {
        Sodium.constantTimeEquals(text.utf8, bytes)
    }
}
