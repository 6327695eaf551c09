@testable import HTTP2
import NIOCore
import TestSupport
import Testing

@Suite("Trusted proxies")
struct TrustedProxyTests {
    @Test func entriesAreAddressesOrRanges() throws {
        let proxies = try TrustedProxies(["127.0.0.1", " 10.0.0.0/8 ", "::1", "fd00::/8", ""])
        #expect(proxies.trusts(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(proxies.trusts(try SocketAddress(ipAddress: "10.200.3.4", port: 1)))
        #expect(!proxies.trusts(try SocketAddress(ipAddress: "11.0.0.1", port: 1)))
        #expect(proxies.trusts(try SocketAddress(ipAddress: "::1", port: 1)))
        #expect(proxies.trusts(try SocketAddress(ipAddress: "fd12::7", port: 1)))
        #expect(!proxies.trusts(try SocketAddress(ipAddress: "fe80::1", port: 1)))
        #expect(!TrustedProxies.none.trusts(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        let narrow = try TrustedProxies(["192.168.1.0/25"])
        #expect(narrow.trusts(try SocketAddress(ipAddress: "192.168.1.127", port: 1)))
        #expect(!narrow.trusts(try SocketAddress(ipAddress: "192.168.1.128", port: 1)))
        for bad in ["proxy.example.com", "10.0.0.0/33", "::1/129", "1.2.3", "10.0.0.0/x"] {
            #expect(throws: TrustedProxyError.self, "\(bad)") { try TrustedProxies([bad]) }
        }
        do {
            _ = try TrustedProxies(["nope"])
        } catch {
            #expect(error.description.contains("'nope' is not an IP address or CIDR range"))
        }
    }

    /// The client is the rightmost address not itself a trusted proxy: what a client writes to the left of
    /// that cannot pass it off as someone else.
    @Test func theClientIsTheRightmostUntrustedAddress() throws {
        let proxies = try TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
        #expect(proxies.client(forwardedFor: ["203.0.113.7"]) == "203.0.113.7")
        #expect(proxies.client(forwardedFor: ["198.51.100.1, 203.0.113.7"]) == "203.0.113.7")
        #expect(proxies.client(forwardedFor: ["198.51.100.1, 203.0.113.7, 10.1.1.1"]) == "203.0.113.7")
        #expect(proxies.client(forwardedFor: ["198.51.100.1", "203.0.113.7, 10.1.1.1"]) == "203.0.113.7")
        #expect(proxies.client(forwardedFor: ["[2001:db8::5]:4711"]) == "2001:db8::5")
        #expect(proxies.client(forwardedFor: ["203.0.113.7:4711"]) == "203.0.113.7")
        #expect(proxies.client(forwardedFor: ["10.0.0.2, 10.0.0.3"]) == "10.0.0.2")
        #expect(proxies.client(forwardedFor: ["unknown, 203.0.113.7"]) == "203.0.113.7")
        #expect(proxies.client(forwardedFor: ["garbage"]) == nil)
        #expect(proxies.client(forwardedFor: []) == nil)
    }

    /// The key for per-client limits: the address without the port a new connection changes.
    @Test func theRemoteHostIsTheAddressWithoutItsPort() {
        func host(_ address: String?) -> String? { HTTPRequest(method: .get, path: "/", remoteAddress: address).remoteHost }
        #expect(host("127.0.0.1:51234") == "127.0.0.1")
        #expect(host("[::1]:51234") == "::1")
        #expect(host("[2001:db8::5]") == "2001:db8::5")
        #expect(host("2001:db8::5") == "2001:db8::5")
        #expect(host("203.0.113.7") == "203.0.113.7")
        #expect(host(nil) == nil)
    }

    /// Over both protocols: behind a trusted proxy the request carries the forwarded client; from any other
    /// peer the header is ignored.
    @Test func requestsCarryTheForwardedClientOnlyFromATrustedPeer() async throws {
        try await withServer(trustedProxies: try TrustedProxies(["127.0.0.1"])) { server in
            for flag in ["--http1.1", "--http2-prior-knowledge"] {
                let forwarded = try await Curl.request(server.url("/peer"), [flag, "-H", "X-Forwarded-For: 198.51.100.1, 203.0.113.7"])
                #expect(forwarded.body == "203.0.113.7", "\(forwarded.result)")
                let direct = try await Curl.request(server.url("/peer"), [flag])
                #expect(direct.body.hasPrefix("127.0.0.1:"), "\(direct.result)")
            }
        }
        try await withServer { server in
            let spoofed = try await Curl.request(server.url("/peer"), ["--http1.1", "-H", "X-Forwarded-For: 203.0.113.7"])
            #expect(spoofed.body.hasPrefix("127.0.0.1:"), "\(spoofed.result)")
        }
    }
}
