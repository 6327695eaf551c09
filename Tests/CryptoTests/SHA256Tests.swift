import Testing

@testable import Crypto

@Suite("SHA-256")
struct SHA256Tests {
    /// FIPS 180-4 / RFC 6234 section 8.5 test vectors for SHA-256 (TEST1, TEST2_1, TEST3) plus the empty message.
    @Test("NIST and RFC 6234 vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func vectors(message: String, expected: String) {
        #expect(hex(SHA256.digest(of: message)) == expected)
        #expect(hex(SHA256.digest(Array(message.utf8))) == expected)
    }

    /// RFC 6234 TEST3: one million repetitions of "a".
    @Test("a million times 'a'")
    func millionA() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(hex(SHA256.digest(message)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// RFC 7636 appendix B: the S256 challenge of the example verifier.
    @Test("PKCE S256 example from RFC 7636")
    func pkceExample() {
        let digest = SHA256.digest(of: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(Base64.encode(digest, variant: .urlSafeUnpadded) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }
}
