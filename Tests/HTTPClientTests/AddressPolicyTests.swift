import HTTPClient
import Testing

@Suite("Outbound address policy")
struct AddressPolicyTests {
    @Test(arguments: [
        ("0.1.2.3", false), ("10.0.0.1", false), ("100.64.0.1", false), ("100.127.255.255", false), ("100.128.0.1", true),
        ("127.0.0.1", false), ("169.254.169.254", false), ("172.15.0.1", true), ("172.16.0.1", false), ("172.31.255.255", false),
        ("172.32.0.1", true), ("192.0.0.8", false), ("192.0.2.1", false), ("192.168.1.1", false), ("198.18.0.1", false),
        ("198.51.100.7", false), ("203.0.113.9", false), ("224.0.0.1", false), ("255.255.255.255", false),
        ("8.8.8.8", true), ("93.184.216.34", true), ("1.1.1.1", true),
    ])
    func ipv4(_ address: String, _ expected: Bool) {
        let octets = address.split(separator: ".").map { UInt8($0)! }
        #expect(AddressPolicy.isPublic(ipv4: octets[0], octets[1], octets[2], octets[3]) == expected, "\(address)")
    }

    @Test(arguments: [
        ("::", false), ("::1", false), ("fc00::1", false), ("fd12:3456::1", false), ("fe80::1", false), ("febf::1", false),
        ("ff02::1", false), ("2001:db8::1", false), ("::ffff:127.0.0.1", false), ("::ffff:10.1.2.3", false),
        ("64:ff9b::a9fe:a9fe", false), ("2002:c0a8:101::1", false), ("2002:808:808::1", true), ("fec0::1", false),
        ("::ffff:8.8.8.8", true), ("2606:4700:4700::1111", true), ("2a00:1450:4001::200e", true),
    ])
    func ipv6(_ address: String, _ expected: Bool) {
        #expect(AddressPolicy.isPublic(ipv6: Self.bytes(address)) == expected, "\(address)")
    }

    /// The 16 bytes of an IPv6 address in text form (with `::` and an optional dotted IPv4 tail).
    static func bytes(_ text: String) -> [UInt8] {
        var groups: [UInt16] = []
        var tail: [UInt8] = []
        var text = Substring(text)
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            tail = text[text.index(after: lastColon)...].split(separator: ".").map { UInt8($0)! }
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        let gap = text.firstRange(of: "::")
        let before = gap.map { text[..<$0.lowerBound] } ?? text
        let after = gap.map { text[$0.upperBound...] } ?? ""
        let head = before.split(separator: ":").map { UInt16($0, radix: 16)! }
        let rest = after.split(separator: ":").map { UInt16($0, radix: 16)! }
        let missing = 8 - head.count - rest.count - tail.count / 2
        groups = head + Array(repeating: 0, count: max(0, missing)) + rest
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + tail
    }
}
