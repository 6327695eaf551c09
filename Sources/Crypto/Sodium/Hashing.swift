import CSodium

/// libsodium's hashes and MAC: SHA-256, keyed BLAKE2b and HMAC-SHA-256.
extension Sodium {
    /// The SHA-256 digest of `message` (`crypto_hash_sha256`).
    @inline(__always)
    static func sha256(_ message: some Collection<UInt8>) -> [UInt8] {
        ensureInitialized()
        let byteCount = Int(crypto_hash_sha256_BYTES)
        return message.withContiguousBytes { message in
            [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
                _ = crypto_hash_sha256(output.baseAddress!, message.baseAddress, UInt64(message.count))
                initialized = byteCount
            }
        }
    }

    /// The `byteCount`-byte BLAKE2b digest of `message` keyed with `key` (`crypto_generichash`).
    @inline(__always)
    static func blake2b(_ message: some Collection<UInt8>, key: some Collection<UInt8>, byteCount: Int) -> [UInt8] {
        ensureInitialized()
        return message.withContiguousBytes { message in
            key.withContiguousBytes { key in
                [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
                    _ = crypto_generichash(
                        output.baseAddress!, byteCount, message.baseAddress, UInt64(message.count),
                        key.baseAddress, key.count
                    )
                    initialized = byteCount
                }
            }
        }
    }

    /// The HMAC-SHA-256 of `message` under `key`, of any length.
    ///
    /// libsodium's one-shot `crypto_auth_hmacsha256` takes only 32-byte keys; the init/update/final API
    /// follows RFC 2104 for every key length (keys longer than 64 bytes are hashed first). The state, which
    /// holds the padded key, is zeroed before returning.
    @inline(__always)
    static func hmacSHA256(_ message: some Collection<UInt8>, key: some Collection<UInt8>) -> [UInt8] {
        ensureInitialized()
        var state = crypto_auth_hmacsha256_state()
        defer { withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress!, $0.count) } }

        key.withContiguousBytes { key in
            key.withNonNullBase { base in
                _ = crypto_auth_hmacsha256_init(&state, base, key.count)
            }
        }
        message.withContiguousBytes { message in
            _ = crypto_auth_hmacsha256_update(&state, message.baseAddress, UInt64(message.count))
        }
        let byteCount = Int(crypto_auth_hmacsha256_BYTES)
        return [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
            _ = crypto_auth_hmacsha256_final(&state, output.baseAddress!)
            initialized = byteCount
        }
    }
}
