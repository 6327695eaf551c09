import CSodium

/// libsodium's hex and base64 codecs, whose running time does not depend on the data (keys pass through
/// them). ``Hex`` and ``Base64`` are the target's API over these.
extension Sodium {
    /// Lowercase hex of `bytes`.
    static func hexEncode(_ bytes: some Collection<UInt8>) -> String {
        bytes.withContiguousBytes { bytes in
            guard let input = bytes.baseAddress, bytes.count > 0 else { return "" }
            let capacity = bytes.count * 2 + 1  // sodium_bin2hex writes a terminating NUL
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { output in
                _ = sodium_bin2hex(output.baseAddress!, capacity, input, bytes.count)
                let text = UnsafeRawBufferPointer(start: output.baseAddress!, count: capacity - 1)
                return String(decoding: text, as: UTF8.self)
            }
        }
    }

    /// Decodes hex digits (either case, no separators) of even length; `nil` for anything else.
    static func hexDecode(_ hex: some Collection<UInt8>) -> [UInt8]? {
        hex.withContiguousBytes { hex in
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

    /// Decodes hex digits into the start of `output`, which the caller wipes (key text); returns the byte
    /// count, or `nil` when the text is not hex or decodes to more than `output` holds.
    static func hexDecode(_ hex: some Collection<UInt8>, into output: inout [UInt8]) -> Int? {
        hex.withContiguousBytes { hex in
            guard let input = hex.baseAddress, hex.count > 0 else { return 0 }
            return output.withUnsafeMutableBufferPointer { output in
                guard let outputBase = output.baseAddress else { return nil }
                var decodedCount = 0
                let status = input.withMemoryRebound(to: CChar.self, capacity: hex.count) { characters in
                    sodium_hex2bin(outputBase, output.count, characters, hex.count, nil, &decodedCount, nil)
                }
                return status == 0 ? decodedCount : nil
            }
        }
    }

    /// `bytes` as base64 text in `variant`.
    static func base64Encode(_ bytes: some Collection<UInt8>, variant: Base64.Variant) -> String {
        bytes.withContiguousBytes { bytes in
            guard let input = bytes.baseAddress, bytes.count > 0 else { return "" }
            let capacity = sodium_base64_encoded_len(bytes.count, variant.sodiumVariant)  // includes the NUL
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { output in
                _ = sodium_bin2base64(output.baseAddress!, capacity, input, bytes.count, variant.sodiumVariant)
                let text = UnsafeRawBufferPointer(start: output.baseAddress!, count: capacity - 1)
                return String(decoding: text, as: UTF8.self)
            }
        }
    }

    /// Decodes `text` in exactly `variant` into the start of `output`; returns the byte count, or `nil` when
    /// the text is not valid in that variant or decodes to more than `output` holds.
    static func base64Decode(
        _ text: some Collection<UInt8>, variant: Base64.Variant, into output: inout [UInt8]
    ) -> Int? {
        text.withContiguousBytes { text in
            guard let input = text.baseAddress, text.count > 0 else { return 0 }
            return output.withUnsafeMutableBufferPointer { output in
                guard let outputBase = output.baseAddress else { return nil }
                var decodedCount = 0
                let status = input.withMemoryRebound(to: CChar.self, capacity: text.count) { characters in
                    sodium_base642bin(
                        outputBase, output.count, characters, text.count, nil, &decodedCount, nil,
                        variant.sodiumVariant
                    )
                }
                return status == 0 ? decodedCount : nil
            }
        }
    }
}

extension Base64.Variant {
    fileprivate var sodiumVariant: Int32 {
        switch self {
        case .standard: sodium_base64_VARIANT_ORIGINAL
        case .standardUnpadded: sodium_base64_VARIANT_ORIGINAL_NO_PADDING
        case .urlSafe: sodium_base64_VARIANT_URLSAFE
        case .urlSafeUnpadded: sodium_base64_VARIANT_URLSAFE_NO_PADDING
        }
    }
}
