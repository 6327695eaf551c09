import Testing

@testable import Crypto

@Suite("HMAC-SHA-256")
struct HMACSHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let key: [UInt8]
        let data: [UInt8]
        let mac: String
        var testDescription: String { name }
    }

    /// RFC 4231 section 4, HMAC-SHA-256 results (case 5 is a truncated output and is left out).
    static let rfc4231: [Vector] = [
        Vector(
            name: "RFC 4231 test case 1",
            key: [UInt8](repeating: 0x0b, count: 20),
            data: utf8("Hi There"),
            mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        Vector(
            name: "RFC 4231 test case 2 (short key)",
            key: utf8("Jefe"),
            data: utf8("what do ya want for nothing?"),
            mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        Vector(
            name: "RFC 4231 test case 3",
            key: [UInt8](repeating: 0xaa, count: 20),
            data: [UInt8](repeating: 0xdd, count: 50),
            mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        Vector(
            name: "RFC 4231 test case 4 (25-byte key)",
            key: bytes(hex: "0102030405060708090a0b0c0d0e0f10111213141516171819"),
            data: [UInt8](repeating: 0xcd, count: 50),
            mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        Vector(
            name: "RFC 4231 test case 6 (131-byte key)",
            key: [UInt8](repeating: 0xaa, count: 131),
            data: utf8("Test Using Larger Than Block-Size Key - Hash Key First"),
            mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        Vector(
            name: "RFC 4231 test case 7 (131-byte key, long data)",
            key: [UInt8](repeating: 0xaa, count: 131),
            data: utf8(
                "This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm."
            ),
            mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test("authenticationCode gives the RFC 4231 results", arguments: rfc4231)
    func rfcVectors(_ vector: Vector) {
        #expect(hex(HMACSHA256.authenticationCode(for: vector.data, key: vector.key)) == vector.mac)
        #expect(HMACSHA256.isValid(code: bytes(hex: vector.mac), for: vector.data, key: vector.key))
    }

    @Test("non-contiguous and sliced messages hash like arrays")
    func collectionKinds() {
        let vector = Self.rfc4231[2]
        let expected = bytes(hex: vector.mac)
        #expect(HMACSHA256.authenticationCode(for: repeatElement(UInt8(0xdd), count: 50), key: vector.key) == expected)
        let padded = [0x00] + vector.data + [0x00]
        #expect(HMACSHA256.authenticationCode(for: padded[1..<51], key: vector.key) == expected)
        #expect(HMACSHA256.authenticationCode(for: vector.data.lazy.map { $0 }, key: vector.key) == expected)
    }

    @Test("empty key and empty message are accepted")
    func emptyInputs() {
        // HMAC-SHA-256 with an empty key of the empty message (checked with Python's hmac module).
        #expect(
            hex(HMACSHA256.authenticationCode(for: [UInt8](), key: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        )
    }

    @Test("isValid rejects a wrong code, a wrong key and a code of the wrong length")
    func isValidRejects() {
        let key = utf8("Jefe")
        let message = utf8("what do ya want for nothing?")
        var code = HMACSHA256.authenticationCode(for: message, key: key)
        #expect(HMACSHA256.isValid(code: code, for: message, key: key))
        #expect(!HMACSHA256.isValid(code: code, for: message, key: utf8("Jeff")))
        #expect(!HMACSHA256.isValid(code: Array(code.prefix(16)), for: message, key: key))
        #expect(!HMACSHA256.isValid(code: code + [0], for: message, key: key))
        #expect(!HMACSHA256.isValid(code: [], for: message, key: key))
        code[31] ^= 0x01
        #expect(!HMACSHA256.isValid(code: code, for: message, key: key))
    }

    // MARK: Meta's X-Hub-Signature-256

    static let appSecret = utf8("6f1c2a9e0b7d4c3f8a5e2d1b0c9f8e7d")
    static let body = utf8(#"{"object":"whatsapp_business_account","entry":[{"id":"1"}]}"#)

    static var validHeader: String {
        "sha256=" + hex(HMACSHA256.authenticationCode(for: body, key: appSecret))
    }

    @Test("a correct header is accepted, in lowercase and uppercase hex and prefix")
    func headerValid() {
        let header = Self.validHeader
        #expect(HMACSHA256.isValidSignatureHeader(header, body: Self.body, secret: Self.appSecret))
        #expect(HMACSHA256.isValidSignatureHeader(header.uppercased(), body: Self.body, secret: Self.appSecret))
        let mixed = "sha256=" + String(header.dropFirst(7)).uppercased()
        #expect(HMACSHA256.isValidSignatureHeader(mixed, body: Self.body, secret: Self.appSecret))
        #expect(HMACSHA256.isValidSignatureHeader(" \(header) ", body: Self.body, secret: Self.appSecret))
        #expect(
            HMACSHA256.isValidSignatureHeader(
                header, body: Self.body, secret: String(decoding: Self.appSecret, as: UTF8.self)
            )
        )
    }

    @Test("a header made with another secret, or over another body, is rejected")
    func headerWrongSecretOrBody() {
        #expect(!HMACSHA256.isValidSignatureHeader(Self.validHeader, body: Self.body, secret: utf8("other-secret")))
        var body = Self.body
        body.append(UInt8(ascii: " "))
        #expect(!HMACSHA256.isValidSignatureHeader(Self.validHeader, body: body, secret: Self.appSecret))
    }

    @Test(
        "malformed headers are rejected",
        arguments: [
            "",
            "sha256=",
            "sha1=0123456789abcdef0123456789abcdef01234567",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "sha256=000000000000000000000000000000000000000000000000000000000000000",
            "sha256=00000000000000000000000000000000000000000000000000000000000000000",
            "sha256=000000000000000000000000000000000000000000000000000000000000000g",
            "sha256=00 00000000000000000000000000000000000000000000000000000000000000",
        ]
    )
    func headerMalformed(_ header: String) {
        #expect(!HMACSHA256.isValidSignatureHeader(header, body: Self.body, secret: Self.appSecret))
    }

    @Test("a valid code with one digit changed is rejected")
    func headerOneDigitChanged() {
        var header = Array(Self.validHeader.utf8)
        header[header.count - 1] = header[header.count - 1] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(
            !HMACSHA256.isValidSignatureHeader(
                String(decoding: header, as: UTF8.self), body: Self.body, secret: Self.appSecret
            )
        )
    }
}
