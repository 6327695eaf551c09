import Testing

@testable import Crypto

/// Known-answer tests for the AES-256-GCM primitive under the envelope: the AES-256 test cases 13 to 16
/// of McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)" (the NIST GCM submission), and one
/// vector from NIST CAVP's gcmEncryptExtIV256 set. All use 96-bit IVs and 128-bit tags.
@Suite("AES-256-GCM published vectors")
struct AES256GCMVectorTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let key: String
        let iv: String
        let plaintext: String
        let associatedData: String
        let ciphertext: String
        let tag: String
        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "GCM spec test case 13 (empty plaintext, no AAD)",
            key: "0000000000000000000000000000000000000000000000000000000000000000",
            iv: "000000000000000000000000",
            plaintext: "",
            associatedData: "",
            ciphertext: "",
            tag: "530f8afbc74536b9a963b4f1c4cb738b"
        ),
        Vector(
            name: "GCM spec test case 14 (one zero block, no AAD)",
            key: "0000000000000000000000000000000000000000000000000000000000000000",
            iv: "000000000000000000000000",
            plaintext: "00000000000000000000000000000000",
            associatedData: "",
            ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919"
        ),
        Vector(
            name: "GCM spec test case 15 (four blocks, no AAD)",
            key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            iv: "cafebabefacedbaddecaf888",
            plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
            associatedData: "",
            ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
            tag: "b094dac5d93471bdec1a502270e3cc6c"
        ),
        Vector(
            name: "GCM spec test case 16 (partial block, 20-byte AAD)",
            key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            iv: "cafebabefacedbaddecaf888",
            plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            associatedData: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            tag: "76fc6ece0f4e1768cddf8853bb2d551b"
        ),
        Vector(
            name: "NIST CAVP gcmEncryptExtIV256 (128-bit plaintext, 160-bit AAD)",
            key: "83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
            iv: "0b459724904e010a46901cf3",
            plaintext: "33d893a2114ce06fc15d55e454cf90c3",
            associatedData: "794a14ccd178c8ebfd1379dc704c5e208f9d8424",
            ciphertext: "cc66bee423e3fcd4c0865715e9586696",
            tag: "0fb291bd3dba94a1dfd8b286cfb97ac5"
        ),
    ]

    @Test("seal gives the published ciphertext and tag", arguments: vectors)
    func sealMatches(_ vector: Vector) throws {
        let sealed = try AES256GCM.seal(
            bytes(hex: vector.plaintext), key: bytes(hex: vector.key), nonce: bytes(hex: vector.iv),
            associatedData: bytes(hex: vector.associatedData)
        )
        #expect(hex(sealed) == vector.ciphertext + vector.tag)
    }

    @Test("open recovers the published plaintext", arguments: vectors)
    func openMatches(_ vector: Vector) throws {
        let opened = try AES256GCM.open(
            bytes(hex: vector.ciphertext + vector.tag), key: bytes(hex: vector.key), nonce: bytes(hex: vector.iv),
            associatedData: bytes(hex: vector.associatedData)
        )
        #expect(opened.map(hex) == vector.plaintext)
    }

    @Test("open rejects a flipped tag bit, a flipped AAD bit and a wrong IV", arguments: vectors)
    func openRejectsTampering(_ vector: Vector) throws {
        let key = bytes(hex: vector.key)
        let iv = bytes(hex: vector.iv)
        let associatedData = bytes(hex: vector.associatedData)
        var sealed = bytes(hex: vector.ciphertext + vector.tag)
        sealed[sealed.count - 1] ^= 0x01
        #expect(try AES256GCM.open(sealed, key: key, nonce: iv, associatedData: associatedData) == nil)

        let original = bytes(hex: vector.ciphertext + vector.tag)
        var otherIV = iv
        otherIV[0] ^= 0x80
        #expect(try AES256GCM.open(original, key: key, nonce: otherIV, associatedData: associatedData) == nil)

        let otherAssociatedData = associatedData.isEmpty ? [0x00] : associatedData.map { $0 ^ 0x01 }
        #expect(try AES256GCM.open(original, key: key, nonce: iv, associatedData: otherAssociatedData) == nil)
    }
}
