/// HMAC-SHA-256 (RFC 2104) with keys of any length, as webhook senders use it.
///
/// libsodium's one-shot `crypto_auth_hmacsha256` takes only 32-byte keys; webhook secrets (Meta's app
/// secret, for example) have other lengths, so this goes through the init/update/final API, which
/// follows RFC 2104 for every key length (keys longer than 64 bytes are hashed first).
public enum HMACSHA256 {
    /// The length of an authentication code in bytes.
    public static let byteCount = 32

    /// The HMAC-SHA-256 of `message` under `key`.
    public static func authenticationCode(for message: some Collection<UInt8>, key: [UInt8]) -> [UInt8] {
        Sodium.hmacSHA256(message, key: key)
    }

    /// Whether `code` is the HMAC-SHA-256 of `message` under `key`, compared in constant time.
    /// A code of the wrong length is simply invalid.
    public static func isValid(code: [UInt8], for message: some Collection<UInt8>, key: [UInt8]) -> Bool {
        guard code.count == byteCount else { return false }
        return ConstantTime.equals(code, authenticationCode(for: message, key: key))
    }

    /// Checks a Meta (WhatsApp, Instagram, Messenger) webhook signature header,
    /// `X-Hub-Signature-256: sha256=<hex>`, against the raw request body and the app secret.
    ///
    /// The `sha256=` prefix and the hex digits may be in either case; surrounding whitespace is ignored.
    /// Anything malformed (no prefix, wrong length, non-hex characters) is `false`, never an error.
    /// Pass the body exactly as received, before any JSON parsing.
    public static func isValidSignatureHeader(_ header: String, body: [UInt8], secret: [UInt8]) -> Bool {
        let prefix = "sha256="
        var value = Substring(header)
        while let first = value.first, first == " " || first == "\t" { value.removeFirst() }
        while let last = value.last, last == " " || last == "\t" { value.removeLast() }
        guard value.utf8.count == prefix.utf8.count + byteCount * 2,
            value.prefix(prefix.count).lowercased() == prefix,
            let code = Hex.decode(String(value.dropFirst(prefix.count)))
        else { return false }
        return isValid(code: code, for: body, key: secret)
    }

    /// Checks a Meta webhook signature header with the app secret as text (its UTF-8 bytes are the key).
    public static func isValidSignatureHeader(_ header: String, body: [UInt8], secret: String) -> Bool {
        isValidSignatureHeader(header, body: body, secret: Array(secret.utf8))
    }
}
