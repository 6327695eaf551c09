import Testing

@testable import Crypto

/// The sealed-credential envelope: layout, binding, tampering, errors, rotation.
@Suite("Sealed envelopes")
struct EnvelopeTests {
    static let binding = SealBinding(customerID: "cus_0001", platform: "whatsapp")
    static let credential = utf8(#"{"access_token":"EAAG-example-token","phone_number_id":"1234567890"}"#)

    /// A fixed key (bytes 0x00...0x1f), so ids and layouts are reproducible.
    static func fixedKey() throws -> MasterKey {
        try MasterKey(bytes: (0..<32).map { UInt8($0) })
    }

    /// Reads the error a throwing call produced, failing the test if it produced none or another type.
    func error(_ body: () throws -> Void) -> CryptoError? {
        do {
            try body()
            Issue.record("expected a CryptoError")
            return nil
        } catch let error as CryptoError {
            return error
        } catch {
            Issue.record("expected a CryptoError, got \(error)")
            return nil
        }
    }

    @Test("seal then open returns the plaintext, for several lengths")
    func roundTrip() throws {
        let ring = try KeyRing.generate()
        for length in [0, 1, 15, 16, 17, 256, 4096] {
            let plaintext = RandomToken.bytes(count: length)
            let envelope = try ring.seal(plaintext, for: Self.binding)
            #expect(envelope.count == length + 33)
            #expect(try ring.open(envelope, for: Self.binding) == plaintext)
        }
    }

    @Test("the header holds version 1 and the big-endian key id, then a 12-byte nonce")
    func headerLayout() throws {
        let key = try Self.fixedKey()
        // BLAKE2b-256 keyed with "hermes.master-key-id.v1" of bytes 0x00...0x1f starts 23b0a430
        // (computed independently with Python's hashlib.blake2b).
        #expect(key.keyID == 0x23b0_a430)
        let ring = KeyRing(key)
        let envelope = try ring.seal(Self.credential, for: Self.binding)
        #expect(envelope[0] == 1)
        #expect(Array(envelope[1..<5]) == [0x23, 0xb0, 0xa4, 0x30])
        #expect(try KeyRing.keyID(ofEnvelope: envelope) == key.keyID)
        #expect(envelope.count == 17 + Self.credential.count + 16)
    }

    @Test("the envelope is plain AES-256-GCM with the documented associated data")
    func documentedAssociatedData() throws {
        let key = try Self.fixedKey()
        let envelope = try KeyRing(key).seal(Self.credential, for: Self.binding)

        // Rebuild the associated data from the format's description, without the code under test.
        func lengthPrefixed(_ text: String) -> [UInt8] {
            let bytes = utf8(text)
            let count = UInt32(bytes.count)
            let prefix = [UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
            return prefix + bytes
        }
        let associatedData = utf8("hermes.credential.v1") + Array(envelope[0..<5])
            + lengthPrefixed("cus_0001") + lengthPrefixed("whatsapp")
        let opened = try AES256GCM.open(
            Array(envelope[17...]), key: (0..<32).map { UInt8($0) }, nonce: Array(envelope[5..<17]),
            associatedData: associatedData
        )
        #expect(opened == Self.credential)
    }

    @Test("two seals of the same plaintext differ (random nonce)")
    func randomNonce() throws {
        let ring = try KeyRing.generate()
        let first = try ring.seal(Self.credential, for: Self.binding)
        let second = try ring.seal(Self.credential, for: Self.binding)
        #expect(first != second)
        #expect(first[5..<17] != second[5..<17])
        var nonces = Set<[UInt8]>()
        for _ in 0..<200 { nonces.insert(Array(try ring.seal([1, 2, 3], for: Self.binding)[5..<17])) }
        #expect(nonces.count == 200)
    }

    @Test("flipping any single bit of an envelope makes open fail with the matching error")
    func everyBitFlipFails() throws {
        let ring = try KeyRing.generate()
        let envelope = try ring.seal(utf8("pin"), for: Self.binding)
        #expect(envelope.count == 36)
        for bit in 0..<(envelope.count * 8) {
            var tampered = envelope
            tampered[bit / 8] ^= 1 << UInt8(bit % 8)
            let failure = error { _ = try ring.open(tampered, for: Self.binding) }
            let expected: CryptoError.Code =
                switch bit / 8 {
                case 0: .unknownEnvelopeVersion
                case 1..<5: .unknownKeyID
                default: .authenticationFailed
                }
            #expect(failure?.code == expected, "bit \(bit)")
        }
    }

    @Test("a blob opened under another customer or platform fails")
    func bindingMismatch() throws {
        let ring = try KeyRing.generate()
        let envelope = try ring.seal(Self.credential, for: Self.binding)
        let others = [
            SealBinding(customerID: "cus_0002", platform: "whatsapp"),
            SealBinding(customerID: "cus_0001", platform: "instagram"),
            SealBinding(customerID: "CUS_0001", platform: "whatsapp"),
            SealBinding(customerID: "", platform: "whatsapp"),
            // Same concatenated bytes, different split: the length prefixes keep these apart.
            SealBinding(customerID: "cus_0001w", platform: "hatsapp"),
            SealBinding(customerID: "whatsapp", platform: "cus_0001"),
        ]
        for other in others {
            let failure = error { _ = try ring.open(envelope, for: other) }
            #expect(failure?.code == .authenticationFailed, "\(other)")
        }
        let same = SealBinding(customerID: "cus_0001", platform: "whatsapp")
        #expect(try ring.open(envelope, for: same) == Self.credential)
    }

    @Test("truncated envelopes give truncatedEnvelope")
    func truncated() throws {
        let ring = try KeyRing.generate()
        let envelope = try ring.seal([], for: Self.binding)
        #expect(envelope.count == 33)
        for count in [0, 1, 5, 17, 32] {
            let failure = error { _ = try ring.open(Array(envelope.prefix(count)), for: Self.binding) }
            #expect(failure?.code == .truncatedEnvelope, "\(count) bytes")
        }
        let failure = error { _ = try ring.open(Array(envelope.prefix(32)), for: Self.binding) }
        #expect(failure?.description.contains("32 bytes") == true)
    }

    @Test("an unknown version gives unknownEnvelopeVersion and says a newer Hermes may have written it")
    func unknownVersion() throws {
        let ring = try KeyRing.generate()
        var envelope = try ring.seal(Self.credential, for: Self.binding)
        envelope[0] = 2
        let failure = error { _ = try ring.open(envelope, for: Self.binding) }
        #expect(failure?.code == .unknownEnvelopeVersion)
        #expect(failure?.description.contains("version 2") == true)
        #expect(failure?.description.contains("newer Hermes") == true)
        #expect(!ring.isSealedWithNewestKey(envelope))
    }

    @Test("a key id not in the ring gives unknownKeyID naming the id and CREDENTIAL_ENCRYPTION_KEY")
    func unknownKey() throws {
        let sealer = try KeyRing.generate()
        let other = try KeyRing.generate()
        let envelope = try sealer.seal(Self.credential, for: Self.binding)
        let failure = error { _ = try other.open(envelope, for: Self.binding) }
        #expect(failure?.code == .unknownKeyID)
        #expect(failure?.description.contains(sealer.newestKey.keyIDString) == true)
        #expect(failure?.description.contains("CREDENTIAL_ENCRYPTION_KEY") == true)
        #expect(failure?.description.contains(sealer.newestKey.hexEncoded) == false)
    }

    @Test("a blob whose header names a loaded key but that another key sealed fails authentication")
    func wrongKeySameID() throws {
        let sealer = try MasterKey.generate()
        let loaded = try MasterKey.generate()
        var envelope = try KeyRing(sealer).seal(Self.credential, for: Self.binding)
        let id = loaded.keyID
        let idBytes = [UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff)]
        envelope.replaceSubrange(1..<5, with: idBytes)
        let failure = error { _ = try KeyRing(loaded).open(envelope, for: Self.binding) }
        #expect(failure?.code == .authenticationFailed)
        #expect(
            failure?.description
                == "the sealed credential failed authentication: wrong key, tampered data, "
                + "or the blob belongs to another customer/platform."
        )
    }

    @Test("a ring [new, old] opens what old sealed, seals with new, and re-seals old blobs")
    func rotation() throws {
        let old = try MasterKey.generate()
        let new = try MasterKey.generate()
        let oldRing = KeyRing(old)
        let oldBlob = try oldRing.seal(Self.credential, for: Self.binding)

        let ring = try oldRing.rotated(to: new)
        #expect(ring.keys.map(\.keyID) == [new.keyID, old.keyID])
        #expect(ring.newestKey == new)
        #expect(try ring.open(oldBlob, for: Self.binding) == Self.credential)

        let newBlob = try ring.seal(Self.credential, for: Self.binding)
        #expect(try KeyRing.keyID(ofEnvelope: newBlob) == new.keyID)
        #expect(ring.isSealedWithNewestKey(newBlob))
        #expect(!ring.isSealedWithNewestKey(oldBlob))
        #expect(oldRing.isSealedWithNewestKey(oldBlob))
        #expect(!ring.isSealedWithNewestKey([]))

        let resealed = try #require(try ring.resealedWithNewestKey(oldBlob, for: Self.binding))
        #expect(ring.isSealedWithNewestKey(resealed))
        #expect(try ring.open(resealed, for: Self.binding) == Self.credential)
        #expect(try ring.resealedWithNewestKey(newBlob, for: Self.binding) == nil)

        // Dropping the old key too early: its blobs no longer open, and the message says which key is missing.
        let failure = error { _ = try KeyRing(new).open(oldBlob, for: Self.binding) }
        #expect(failure?.code == .unknownKeyID)
        #expect(failure?.description.contains(old.keyIDString) == true)

        // A tampered blob is reported during re-sealing, never rewritten.
        var tampered = oldBlob
        tampered[tampered.count - 1] ^= 1
        let tamperedFailure = error { _ = try ring.resealedWithNewestKey(tampered, for: Self.binding) }
        #expect(tamperedFailure?.code == .authenticationFailed)
    }

    @Test("rings reject no keys and duplicate keys")
    func ringConstruction() throws {
        let key = try MasterKey.generate()
        #expect(error { _ = try KeyRing(keys: []) }?.code == .noKey)
        let duplicate = error { _ = try KeyRing(keys: [key, try MasterKey.generate(), key]) }
        #expect(duplicate?.code == .duplicateKey)
        #expect(duplicate?.description.contains("entries 1 and 3") == true)
        #expect(error { _ = try KeyRing(key).rotated(to: key) }?.code == .duplicateKey)
    }

    @Test("key ids depend on the key only, not on its position in the ring")
    func keyIDsAreStable() throws {
        let a = try MasterKey.generate()
        let b = try MasterKey.generate()
        #expect(a.keyID != b.keyID)
        let ab = try KeyRing(keys: [a, b])
        let ba = try KeyRing(keys: [b, a])
        #expect(ab.key(withID: a.keyID) == a)
        #expect(ba.key(withID: a.keyID) == a)
        #expect(try MasterKey(bytes: bytes(hex: a.hexEncoded)).keyID == a.keyID)
        // A blob sealed by b opens whichever position b has.
        let blob = try KeyRing(b).seal([9], for: Self.binding)
        #expect(try ab.open(blob, for: Self.binding) == [9])
        #expect(try ba.open(blob, for: Self.binding) == [9])
    }

    @Test("keys and rings never print key bytes")
    func redaction() throws {
        let key = try Self.fixedKey()
        let secretHex = key.hexEncoded
        #expect(secretHex == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        #expect(key.description == "MasterKey(id: 0x23b0a430)")
        #expect(String(reflecting: key) == "MasterKey(id: 0x23b0a430)")
        var dumped = ""
        dump(key, to: &dumped)
        #expect(!dumped.contains(secretHex))
        #expect(!dumped.contains("0, 1, 2, 3"))
        #expect(dumped.contains("0x23b0a430"))
        let ring = try KeyRing(keys: [key, try MasterKey.generate()])
        #expect(ring.description.hasPrefix("KeyRing(newest: 0x23b0a430, keys: 2)"))
        var dumpedRing = ""
        dump(ring, to: &dumpedRing)
        #expect(!dumpedRing.contains(secretHex))
        #expect(!"\(ring)".contains(secretHex))
    }
}
