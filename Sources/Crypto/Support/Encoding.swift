import CSodium

/// Hex encoding through libsodium, whose decoder and encoder run in time independent of the data.
public enum Hex {
    /// Lowercase hex of `bytes`.
    static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard let input = bytes.baseAddress, bytes.count > 0 else { return "" }
        let capacity = bytes.count * 2 + 1  // sodium_bin2hex writes a terminating NUL
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { output in
            _ = sodium_bin2hex(output.baseAddress!, capacity, input, bytes.count)
            let text = UnsafeRawBufferPointer(start: output.baseAddress!, count: capacity - 1)
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// Lowercase hex of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { encode($0) }
    }

    /// Decodes hex digits (either case) of even length; `nil` for anything else, including separators.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode($0) }
    }

    static func decode(_ hex: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard hex.count % 2 == 0 else { return nil }
        guard let input = hex.baseAddress, hex.count > 0 else { return [] }
        let capacity = hex.count / 2
        var decodedCount = 0
        var status: Int32 = -1
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { output, initialized in
            status = input.withMemoryRebound(to: CChar.self, capacity: hex.count) { characters in
                sodium_hex2bin(output.baseAddress!, capacity, characters, hex.count, nil, &decodedCount, nil)
            }
            initialized = status == 0 ? decodedCount : 0
        }
        guard status == 0, decodedCount == capacity else { return nil }
        return bytes
    }
}

/// Base64 through libsodium (constant-time, strict about the alphabet and padding of each variant).
public enum Base64 {
    public enum Variant: Sendable {
        case standard
        case standardUnpadded
        case urlSafe
        case urlSafeUnpadded

        var sodiumVariant: Int32 {
            switch self {
            case .standard: sodium_base64_VARIANT_ORIGINAL
            case .standardUnpadded: sodium_base64_VARIANT_ORIGINAL_NO_PADDING
            case .urlSafe: sodium_base64_VARIANT_URLSAFE
            case .urlSafeUnpadded: sodium_base64_VARIANT_URLSAFE_NO_PADDING
            }
        }
    }

    static func encode(_ bytes: UnsafeBufferPointer<UInt8>, variant: Variant) -> String {
        guard let input = bytes.baseAddress, bytes.count > 0 else { return "" }
        let capacity = sodium_base64_encoded_len(bytes.count, variant.sodiumVariant)  // includes the NUL
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { output in
            _ = sodium_bin2base64(output.baseAddress!, capacity, input, bytes.count, variant.sodiumVariant)
            let text = UnsafeRawBufferPointer(start: output.baseAddress!, count: capacity - 1)
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// `bytes` as base64 text in `variant`.
    public static func encode(_ bytes: [UInt8], variant: Variant) -> String {
        bytes.withUnsafeBufferPointer { encode($0, variant: variant) }
    }

    /// Decodes `text`, which must be valid in exactly `variant`; nil otherwise.
    public static func decode(_ text: String, variant: Variant) -> [UInt8]? {
        var text = text
        return text.withUTF8 { input in
            var output = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
            guard let count = output.withUnsafeMutableBufferPointer({ decode(input, variant: variant, into: $0) }) else { return nil }
            output.removeLast(output.count - count)
            return output
        }
    }

    /// Decodes `text` in exactly `variant` into `output`; returns the byte count, or `nil` when the text is
    /// not valid in that variant or decodes to more than `output` holds.
    static func decode(
        _ text: UnsafeBufferPointer<UInt8>,
        variant: Variant,
        into output: UnsafeMutableBufferPointer<UInt8>
    ) -> Int? {
        guard let input = text.baseAddress, text.count > 0 else { return 0 }
        guard let outputBase = output.baseAddress else { return nil }
        var decodedCount = 0
        let status = input.withMemoryRebound(to: CChar.self, capacity: text.count) { characters in
            sodium_base642bin(
                outputBase, output.count, characters, text.count, nil, &decodedCount, nil, variant.sodiumVariant
            )
        }
        return status == 0 ? decodedCount : nil
    }
}
