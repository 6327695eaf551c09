import Testing

@testable import Crypto

@Suite("Ed25519")
struct Ed25519Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let secretKey: String
        let publicKey: String
        let message: String
        let signature: String
        var testDescription: String { name }
    }

    /// RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc).
    static let rfc8032: [Vector] = [
        Vector(
            name: "RFC 8032 TEST 1 (empty message)",
            secretKey: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        Vector(
            name: "RFC 8032 TEST 2 (one byte)",
            secretKey: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
        Vector(
            name: "RFC 8032 TEST 3 (two bytes)",
            secretKey: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
                + "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        ),
        Vector(
            name: "RFC 8032 TEST SHA(abc) (the SHA-512 of \"abc\" as message)",
            secretKey: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
                + "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
        ),
    ]

    @Test("the RFC 8032 signatures verify", arguments: rfc8032)
    func verifies(_ vector: Vector) {
        #expect(
            Ed25519.isValidSignature(
                bytes(hex: vector.signature), message: bytes(hex: vector.message),
                publicKey: bytes(hex: vector.publicKey)
            )
        )
    }

    @Test("the hex convenience verifies, in either case", arguments: rfc8032)
    func verifiesHex(_ vector: Vector) {
        let message = bytes(hex: vector.message)
        #expect(Ed25519.isValidSignature(hex: vector.signature, message: message, publicKeyHex: vector.publicKey))
        #expect(
            Ed25519.isValidSignature(
                hex: vector.signature.uppercased(), message: message, publicKeyHex: vector.publicKey.uppercased()
            )
        )
    }

    @Test("signing with the RFC 8032 secret key reproduces its public key and signature", arguments: rfc8032)
    func signsLikeTheRFC(_ vector: Vector) throws {
        let key = try Ed25519.SigningKey(seed: bytes(hex: vector.secretKey))
        #expect(hex(key.publicKey) == vector.publicKey)
        #expect(key.publicKeyHex == vector.publicKey)
        #expect(hex(key.signature(for: bytes(hex: vector.message))) == vector.signature)
        #expect(!key.description.contains(vector.secretKey))
    }

    @Test("every single flipped bit of a signature is rejected")
    func flippedSignatureBit() {
        let vector = Self.rfc8032[2]
        let signature = bytes(hex: vector.signature)
        let message = bytes(hex: vector.message)
        let publicKey = bytes(hex: vector.publicKey)
        for bit in 0..<(signature.count * 8) {
            var tampered = signature
            tampered[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!Ed25519.isValidSignature(tampered, message: message, publicKey: publicKey), "bit \(bit)")
        }
    }

    @Test("a changed message or another public key is rejected")
    func wrongMessageOrKey() {
        let vector = Self.rfc8032[1]
        let signature = bytes(hex: vector.signature)
        #expect(!Ed25519.isValidSignature(signature, message: [0x73], publicKey: bytes(hex: vector.publicKey)))
        #expect(!Ed25519.isValidSignature(signature, message: [0x72, 0x00], publicKey: bytes(hex: vector.publicKey)))
        #expect(
            !Ed25519.isValidSignature(
                signature, message: [0x72], publicKey: bytes(hex: Self.rfc8032[0].publicKey)
            )
        )
    }

    @Test("arguments of the wrong length or malformed hex give false")
    func wrongLengths() {
        let vector = Self.rfc8032[1]
        let signature = bytes(hex: vector.signature)
        let publicKey = bytes(hex: vector.publicKey)
        #expect(!Ed25519.isValidSignature(Array(signature.dropLast()), message: [0x72], publicKey: publicKey))
        #expect(!Ed25519.isValidSignature(signature + [0], message: [0x72], publicKey: publicKey))
        #expect(!Ed25519.isValidSignature(signature, message: [0x72], publicKey: Array(publicKey.dropLast())))
        #expect(!Ed25519.isValidSignature([], message: [0x72], publicKey: []))
        let badSignature = "zz" + vector.signature.dropFirst(2)
        #expect(!Ed25519.isValidSignature(hex: badSignature, message: [0x72], publicKeyHex: vector.publicKey))
        let shortKey = String(vector.publicKey.dropLast())
        #expect(!Ed25519.isValidSignature(hex: vector.signature, message: [0x72], publicKeyHex: shortKey))
        #expect(!Ed25519.isValidSignature(hex: "", message: [0x72], publicKeyHex: ""))
    }

    @Test("a generated key signs and verifies a Discord-style timestamp+body message")
    func generatedKeyRoundTrip() throws {
        let key = Ed25519.SigningKey.generate()
        let message = utf8("1700000000") + utf8(#"{"type":1}"#)
        let signature = key.signature(for: message)
        #expect(Ed25519.isValidSignature(hex: hex(signature), message: message, publicKeyHex: key.publicKeyHex))
        #expect(Ed25519.SigningKey.generate().publicKey != key.publicKey)
        #expect(throws: CryptoError.self) { try Ed25519.SigningKey(seed: [UInt8](repeating: 1, count: 31)) }
    }
}
