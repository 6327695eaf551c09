/// What an HTTP/1.1 request asks of the connection beyond its own answer: an `Upgrade` (RFC 9110 §7.8).
///
/// llhttp stops parsing after a request that asks to upgrade (`Connection: upgrade` with an `Upgrade` field,
/// or CONNECT; ``HTTP1RequestHead/asksToUpgrade``), leaving the bytes after it for the new protocol. A server that declines answers over
/// HTTP/1.1 and parses the requests that follow from a fresh start (``HTTP1RequestParser/resume()``).
/// The one upgrade this server accepts is `h2c` (RFC 7540 §3.2), over cleartext only, for a request
/// without a body.
enum HTTP1Upgrade {
    /// The decoded `HTTP2-Settings` payload when the request asks for `h2c` the way RFC 7540 §3.2 says:
    /// `Upgrade: h2c`, one `HTTP2-Settings` field in base64url, both named in `Connection`, and no body.
    static func h2cSettings(_ head: HTTP1RequestHead) -> [UInt8]? {
        let headers = head.headers
        guard headers.lists("h2c", in: "upgrade"), headers.lists("upgrade", in: "connection"), headers.lists("http2-settings", in: "connection") else {
            return nil
        }
        let settings = head.headers.values("http2-settings")
        guard settings.count == 1, !head.headers.contains("transfer-encoding") else { return nil }
        if let length = head.headers["content-length"], length != "0" { return nil }
        guard let payload = base64URLDecoded(settings[0]), payload.count % 6 == 0 else { return nil }
        return payload
    }

    /// Base64url without padding (RFC 4648 §5), as `HTTP2-Settings` carries it; nil for anything else.
    static func base64URLDecoded(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be padding zeros, and a single leftover character cannot encode a byte.
        guard bits < 6, accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return output
    }
}
