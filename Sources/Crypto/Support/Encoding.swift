/// Hex encoding through libsodium, whose decoder and encoder run in time independent of the data.
public enum Hex {
    /// Lowercase hex of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        Sodium.hexEncode(bytes)
    }

    /// Decodes hex digits (either case) of even length; `nil` for anything else, including separators.
    public static func decode(_ text: String) -> [UInt8]? {
        Sodium.hexDecode(text.utf8)
    }
}

/// Base64 through libsodium (constant-time, strict about the alphabet and padding of each variant).
public enum Base64 {
    public enum Variant: Sendable {
        case standard
        case standardUnpadded
        case urlSafe
        case urlSafeUnpadded
    }

    /// `bytes` as base64 text in `variant`.
    public static func encode(_ bytes: [UInt8], variant: Variant) -> String {
        Sodium.base64Encode(bytes, variant: variant)
    }

    /// Decodes `text`, which must be valid in exactly `variant`; nil otherwise.
    public static func decode(_ text: String, variant: Variant) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: text.utf8.count / 4 * 3 + 3)
        guard let count = Sodium.base64Decode(text.utf8, variant: variant, into: &output) else { return nil }
        output.removeLast(output.count - count)
        return output
    }
}
