/// Which IP addresses an outbound request may connect to when it must stay on the public internet: a URL
/// chosen by someone else (an OAuth client's metadata document) must not reach this host, its network or
/// a cloud metadata service (server-side request forgery).
///
/// The address checked is the one libcurl is about to connect to, after name resolution, so a name that
/// resolves to a private address (or changes what it resolves to) is caught too.
package enum AddressPolicy {
    /// Whether an IPv4 address is publicly routable: not "this network", private (RFC 1918), shared
    /// (RFC 6598), loopback, link-local, IETF protocol assignments, documentation, benchmarking,
    /// multicast or reserved.
    package static func isPublic(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Bool {
        switch (a, b, c) {
        case (0, _, _), (10, _, _), (127, _, _): return false
        case (100, 64...127, _): return false
        case (169, 254, _): return false
        case (172, 16...31, _): return false
        case (192, 0, 0), (192, 0, 2), (192, 88, 99), (192, 168, _): return false
        case (198, 18...19, _), (198, 51, 100), (203, 0, 113): return false
        case (224...255, _, _): return false
        default: return true
        }
    }

    /// Whether an IPv6 address (16 bytes) is publicly routable: not unspecified, loopback, unique-local,
    /// link-local, site-local, multicast or documentation; IPv4-mapped, IPv4-compatible, NAT64 and 6to4
    /// addresses are judged by the IPv4 address they carry.
    package static func isPublic(ipv6 bytes: [UInt8]) -> Bool {
        guard bytes.count == 16 else { return false }
        let prefix12 = bytes[0..<12]
        if prefix12.allSatisfy({ $0 == 0 }) {
            // :: and ::1, and the deprecated IPv4-compatible ::a.b.c.d.
            if bytes[12..<16].allSatisfy({ $0 == 0 }) || bytes[12..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return false }
            return isPublic(ipv4: bytes[12], bytes[13], bytes[14], bytes[15])
        }
        if prefix12.elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF])
            || prefix12.elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0])
        {
            return isPublic(ipv4: bytes[12], bytes[13], bytes[14], bytes[15])
        }
        if bytes[0] == 0x20 && bytes[1] == 0x02 { return isPublic(ipv4: bytes[2], bytes[3], bytes[4], bytes[5]) }  // 2002::/16, 6to4
        if bytes[0] & 0xFE == 0xFC { return false }  // fc00::/7, unique local
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0xC0 { return false }  // fec0::/10, site-local (deprecated)
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return false }  // fe80::/10, link-local
        if bytes[0] == 0xFF { return false }  // multicast
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8 { return false }  // 2001:db8::/32
        return true
    }
}
