import ASCIIText
import NIOCore

/// The reverse proxies (Caddy, nginx, a load balancer) whose `X-Forwarded-For` the server believes, so a
/// request's ``HTTPRequest/remoteAddress`` is the client's address rather than the proxy's. Per-address
/// limits (OAuth registration) and logs then see each client, not one proxy for all of them.
///
/// A request from any other peer keeps the peer's address: a client could write any `X-Forwarded-For`.
public struct TrustedProxies: Sendable, Equatable {
    /// An address range: an address and how many leading bits must match.
    struct Range: Sendable, Equatable {
        let bytes: [UInt8]
        let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefixLength
            for (index, byte) in bytes.enumerated() where remaining > 0 {
                let bits = min(remaining, 8)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if address[index] & mask != byte & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let ranges: [Range]

    /// No proxy is trusted: every request's address is its peer's.
    public static let none = TrustedProxies(ranges: [])

    init(ranges: [Range]) {
        self.ranges = ranges
    }

    /// Parses addresses and CIDR ranges (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`).
    public init(_ entries: [String]) throws(TrustedProxyError) {
        var ranges: [Range] = []
        for entry in entries {
            let text = String(entry.trimmingHTTPWhitespace)
            guard !text.isEmpty else { continue }
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.addressBytes(parts[0]) else { throw TrustedProxyError(entry: entry) }
            let bits = bytes.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : bits
            guard let prefix, (0...bits).contains(prefix) else { throw TrustedProxyError(entry: entry) }
            ranges.append(Range(bytes: bytes, prefixLength: prefix))
        }
        self.ranges = ranges
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether a peer is one of the trusted proxies.
    func trusts(_ peer: SocketAddress?) -> Bool {
        guard !ranges.isEmpty, let peer, let bytes = Self.addressBytes(peer) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client behind a trusted proxy: walking `X-Forwarded-For` from the right (the entry the proxy
    /// itself appended), the first address that is not a trusted proxy; nil when the header names none.
    func client(forwardedFor values: [String]) -> String? {
        let entries = values.flatMap { $0.split(separator: ",") }.map { Self.hostPart(String($0.trimmingHTTPWhitespace)) }
        var last: String?
        for entry in entries.reversed() {
            guard let bytes = Self.addressBytes(entry) else { return last }  // garbage: stop at what was proven
            last = entry
            if !ranges.contains(where: { $0.contains(bytes) }) { return entry }
        }
        return last
    }

    /// `1.2.3.4` from `1.2.3.4:5678`, `::1` from `[::1]:5678` or `[::1]`.
    static func hostPart(_ text: String) -> String {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") { return String(text[..<colon]) }
        return text
    }

    /// The 4 or 16 bytes of an IP address in text form, nil when it is not one.
    static func addressBytes(_ text: String) -> [UInt8]? {
        (try? SocketAddress(ipAddress: text, port: 0)).flatMap(addressBytes)
    }

    /// The 4 or 16 bytes of an IP socket address, nil for any other kind.
    static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4): return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default: return nil
        }
    }
}

/// A trusted-proxy entry that is neither an IP address nor a CIDR range.
public struct TrustedProxyError: Error, CustomStringConvertible {
    public let entry: String
    public var description: String {
        "'\(entry)' is not an IP address or CIDR range; write proxies as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8"
    }
}
