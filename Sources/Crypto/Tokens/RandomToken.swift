/// Random bytes and tokens from the operating system's secure random source (`randombytes_buf`, which
/// uses `getrandom` on Linux).
public enum RandomToken {
    /// `count` random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        Sodium.randomBytes(count: count)
    }

    /// A token of `byteCount` random bytes as unpadded base64url (`A-Z a-z 0-9 - _`), safe in URLs,
    /// headers and file names. The default 32 bytes (256 bits) give a 43-character token, suitable
    /// for API keys, OAuth codes and tokens, and session ids.
    public static func urlSafe(byteCount: Int = 32) -> String {
        var raw = bytes(count: byteCount)
        defer { wipe(&raw) }
        return Base64.encode(raw, variant: .urlSafeUnpadded)
    }
}
