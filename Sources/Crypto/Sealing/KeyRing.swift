/// The credential encryption keys loaded into Hermes: the newest seals, all of them open.
///
/// This is the MultiFernet convention. The **first** key is the newest: ``seal(_:for:)`` always uses it.
/// ``open(_:for:)`` picks the key by the id written in the envelope, so credentials sealed under any loaded
/// key still open. To rotate: generate a key, put it first (`NEW,OLD`), restart, re-seal every credential
/// (``resealedWithNewestKey(_:for:)`` or ``isSealedWithNewestKey(_:)`` tell which ones need it), and only
/// then drop the old key.
///
/// ## Sealed envelope, format version 1
///
/// | bytes     | content                                                                |
/// |-----------|------------------------------------------------------------------------|
/// | 0         | format version, `1`                                                    |
/// | 1 ..< 5   | ``MasterKey/keyID`` of the sealing key, big-endian `UInt32`            |
/// | 5 ..< 17  | 96-bit nonce, fresh from the OS random source (`randombytes_buf`)      |
/// | 17 ..< n  | AES-256-GCM ciphertext, as long as the plaintext, then the 16-byte tag |
///
/// An envelope is therefore 33 bytes longer than its plaintext. The associated data, authenticated but
/// not stored, is the ASCII domain `hermes.credential.v1`, then bytes 0 ..< 5 of the envelope (version
/// and key id), then the customer id and the platform of the ``SealBinding``, each as a 4-byte
/// big-endian length and its UTF-8 bytes. A blob moved to another customer or platform, or with any
/// header byte changed, fails to open.
///
/// Random 96-bit nonces are safe for about 2^32 seals under one key (NIST SP 800-38D); rotate well before
/// that, which at the rate credentials are written is never a practical limit.
public struct KeyRing: Sendable, CustomStringConvertible, CustomReflectable {
    /// The keys, newest first.
    public let keys: [MasterKey]
    private let keyIDs: [UInt32]

    /// The key that seals: the first one.
    public var newestKey: MasterKey { keys[0] }

    /// Makes a ring of `keys`, newest first.
    ///
    /// - Throws: ``CryptoError/Code/noKey`` for an empty list, ``CryptoError/Code/duplicateKey`` when a key
    ///   appears twice.
    public init(keys: [MasterKey]) throws(CryptoError) {
        guard !keys.isEmpty else { throw .noKey(in: .text) }
        let ids = keys.map(\.keyID)
        for (second, id) in ids.enumerated() {
            if let first = ids[..<second].firstIndex(of: id) {
                throw .duplicateKey(first: first + 1, second: second + 1, keyID: id)
            }
        }
        self.keys = keys
        self.keyIDs = ids
    }

    /// Makes a ring with one key.
    public init(_ key: MasterKey) {
        self.keys = [key]
        self.keyIDs = [key.keyID]
    }

    /// Parses keys as given in `CREDENTIAL_ENCRYPTION_KEY`: one key, or several separated by commas,
    /// whitespace or newlines, newest first.
    ///
    /// Each key is 32 bytes written as 64 hex digits (either case) or as base64, standard (`+/`) or
    /// URL-safe (`-_`), with or without `=` padding. `#` starts a comment that runs to the end of the line.
    ///
    /// - Throws: ``CryptoError/Code/noKey`` when there is no key, ``CryptoError/Code/invalidKey`` naming
    ///   the position of the first bad entry (never its text), ``CryptoError/Code/duplicateKey``.
    public init(parsing text: String) throws(CryptoError) {
        var bytes = Array(text.utf8)
        defer { wipe(&bytes) }
        try self.init(keys: KeyText.parse(bytes, source: .text))
    }

    /// Reads keys from a key file, such as one passed by systemd's `LoadCredential=` (found under
    /// `$CREDENTIALS_DIRECTORY`). The format is that of ``init(parsing:)``: one key per line (or separated by
    /// commas or spaces), newest first, `#` comments allowed. The file's contents are wiped from memory
    /// after parsing.
    ///
    /// - Throws: ``CryptoError/Code/keyFileUnreadable`` when the file cannot be read (missing, no
    ///   permission, a directory, over 64 KiB), and the errors of ``init(parsing:)``.
    public init(contentsOfFile path: String) throws(CryptoError) {
        var bytes = try KeyFile.read(path: path)
        defer { wipe(&bytes) }
        try self.init(keys: KeyText.parse(bytes, source: .file(path: path)))
    }

    /// Makes a ring with one new random key (for a fresh development or test setup).
    public static func generate() throws(CryptoError) -> KeyRing {
        KeyRing(try MasterKey.generate())
    }

    /// The ring with `newKey` in front as the sealing key and every current key kept for opening:
    /// the first step of a rotation.
    ///
    /// - Throws: ``CryptoError/Code/duplicateKey`` if `newKey` is already in the ring.
    public func rotated(to newKey: MasterKey) throws(CryptoError) -> KeyRing {
        try KeyRing(keys: [newKey] + keys)
    }

    /// The key with id `keyID`, if loaded.
    public func key(withID keyID: UInt32) -> MasterKey? {
        for index in keyIDs.indices where keyIDs[index] == keyID {
            return keys[index]
        }
        return nil
    }

    // MARK: Sealing

    /// Seals `plaintext` for `binding` with the newest key, under a fresh random nonce.
    ///
    /// Sealing the same plaintext twice gives different envelopes. The caller's `plaintext` array is not
    /// wiped; do that yourself if it matters.
    ///
    /// - Returns: an envelope in the format described on ``KeyRing``, `plaintext.count + 33` bytes.
    /// - Throws: ``CryptoError/Code/plaintextTooLarge`` beyond AES-GCM's limit of about 64 GiB.
    public func seal(_ plaintext: [UInt8], for binding: SealBinding) throws(CryptoError) -> [UInt8] {
        guard UInt64(plaintext.count) <= AES256GCMKey.maximumPlaintextByteCount else {
            throw .plaintextTooLarge(byteCount: plaintext.count)
        }
        let key = newestKey
        var envelope = [UInt8](repeating: 0, count: EnvelopeFormat.minimumByteCount + plaintext.count)
        EnvelopeFormat.writeHeader(keyID: key.keyID, into: &envelope)
        binding.withAssociatedData(keyID: key.keyID) { associatedData in
            key.aead.sealWithRandomNonce(
                plaintext, associatedData: associatedData, into: &envelope,
                nonceAt: EnvelopeFormat.nonceOffset, ciphertextAt: EnvelopeFormat.headerByteCount
            )
        }
        return envelope
    }

    /// Opens an envelope sealed for `binding` by any key in the ring.
    ///
    /// - Throws: ``CryptoError/Code/truncatedEnvelope`` (shorter than 33 bytes),
    ///   ``CryptoError/Code/unknownEnvelopeVersion``, ``CryptoError/Code/unknownKeyID`` (the sealing key is
    ///   not loaded), ``CryptoError/Code/authenticationFailed`` (wrong key, tampered data, or another
    ///   customer's or platform's blob).
    public func open(_ envelope: [UInt8], for binding: SealBinding) throws(CryptoError) -> [UInt8] {
        let keyID = try Self.keyID(ofEnvelope: envelope)
        guard let key = key(withID: keyID) else { throw .unknownKeyID(keyID) }
        // The header was just read from the envelope, so the associated data built from `keyID` holds the
        // envelope's own first five bytes.
        let aead = key.aead
        let plaintext = binding.withAssociatedData(keyID: keyID) { associatedData in
            aead.open(
                envelope, nonceAt: EnvelopeFormat.nonceOffset, ciphertextAt: EnvelopeFormat.headerByteCount,
                associatedData: associatedData
            )
        }
        guard let plaintext else { throw .authenticationFailed() }
        return plaintext
    }

    // MARK: Rotation

    /// Whether `envelope` names the newest key as its sealer, so it needs no re-sealing.
    ///
    /// Reads the header only; it does not authenticate the envelope. `false` for anything that is not a
    /// well-formed version-1 envelope.
    public func isSealedWithNewestKey(_ envelope: [UInt8]) -> Bool {
        guard let keyID = try? Self.keyID(ofEnvelope: envelope) else { return false }
        return keyID == newestKey.keyID
    }

    /// Opens `envelope` and seals it again with the newest key, or returns `nil` when the newest key already
    /// sealed it. The plaintext is wiped from memory in between.
    ///
    /// - Throws: the errors of ``open(_:for:)``; a blob that does not open is never rewritten.
    public func resealedWithNewestKey(_ envelope: [UInt8], for binding: SealBinding) throws(CryptoError)
        -> [UInt8]?
    {
        if isSealedWithNewestKey(envelope) {
            _ = try open(envelope, for: binding)  // still authenticate, so a bad blob is reported, not skipped
            return nil
        }
        var plaintext = try open(envelope, for: binding)
        defer { wipe(&plaintext) }
        return try seal(plaintext, for: binding)
    }

    /// The id of the key that sealed `envelope`, read from its header (not authenticated).
    ///
    /// - Throws: ``CryptoError/Code/truncatedEnvelope``, ``CryptoError/Code/unknownEnvelopeVersion``.
    public static func keyID(ofEnvelope envelope: [UInt8]) throws(CryptoError) -> UInt32 {
        // The version is checked before the length: a later format may have a different minimum size.
        guard let version = envelope.first else { throw .truncatedEnvelope(byteCount: 0) }
        guard version == EnvelopeFormat.version else { throw .unknownEnvelopeVersion(version) }
        guard envelope.count >= EnvelopeFormat.minimumByteCount else {
            throw .truncatedEnvelope(byteCount: envelope.count)
        }
        return UInt32(envelope[1]) << 24 | UInt32(envelope[2]) << 16 | UInt32(envelope[3]) << 8
            | UInt32(envelope[4])
    }

    // MARK: Description

    /// `KeyRing(newest: 0x…, keys: n)`: ids only.
    public var description: String {
        "KeyRing(newest: \(newestKey.keyIDString), keys: \(keys.count))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["keyIDs": keys.map(\.keyIDString)], displayStyle: .struct)
    }
}
