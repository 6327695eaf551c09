/// A 32-byte credential encryption key (AES-256), held in guarded memory.
///
/// The key bytes live in a `sodium_malloc` region that is locked into RAM, excluded from core dumps,
/// read-only after set-up and zeroed when the last copy of the key goes away. The expanded AES-256-GCM
/// state is computed once, here, so sealing and opening do no key schedule.
///
/// A key never prints: `description`, `debugDescription` and `dump` show only its ``keyID``. The one
/// way its bytes leave is ``hexEncoded``, for writing a key file.
public struct MasterKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The length of a key in bytes.
    public static let byteCount = 32

    /// A 32-bit identifier derived from the key: the first four bytes (big-endian) of the keyed BLAKE2b-256
    /// hash of the key under the fixed domain `hermes.master-key-id.v1`.
    ///
    /// The id names the key in sealed envelopes and in messages. It is a one-way function of the key, so it
    /// reveals nothing about it, and it does not depend on the key's position in a ``KeyRing``.
    public let keyID: UInt32

    let aead: AES256GCMKey

    static let keyIDDomain: [UInt8] = Array("hermes.master-key-id.v1".utf8)

    /// Makes a key from 32 raw bytes.
    ///
    /// The bytes are copied into guarded memory; the caller's array is not wiped, so prefer
    /// ``KeyRing/init(parsing:)`` or ``KeyRing/init(contentsOfFile:)`` for keys read from configuration.
    ///
    /// - Throws: ``CryptoError/Code/invalidKey`` unless `bytes` has 32 bytes;
    ///   ``CryptoError/Code/aesUnavailable`` on a CPU without AES-NI.
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidKey(entry: nil, in: .bytes, .byteCount(bytes.count))
        }
        try self.init(copying: bytes)
    }

    /// Makes a key from 32 bytes in memory the caller wipes.
    init(copying bytes: some Collection<UInt8>) throws(CryptoError) {
        precondition(bytes.count == Self.byteCount)
        self.init(try AES256GCMKey(copying: bytes))
    }

    private init(_ aead: AES256GCMKey) {
        self.aead = aead
        self.keyID = aead.withKeyBytes(Self.deriveKeyID)
    }

    /// Generates a new random key from the operating system's secure random source.
    ///
    /// - Throws: ``CryptoError/Code/aesUnavailable`` on a CPU without AES-NI.
    public static func generate() throws(CryptoError) -> MasterKey {
        MasterKey(try AES256GCMKey.random())
    }

    /// The key as 64 lowercase hex digits, for writing a key file (`hermes keys generate`).
    ///
    /// This is the only way key bytes leave a `MasterKey`. The returned string cannot be wiped: write it
    /// where it belongs and do not log it.
    public var hexEncoded: String {
        aead.withKeyBytes { Sodium.hexEncode($0) }
    }

    /// The key id as `0x` and eight hex digits, as it appears in messages.
    public var keyIDString: String { KeyIDFormat.hex(keyID) }

    /// `MasterKey(id: 0x…)`: the id only, never the key.
    public var description: String { "MasterKey(id: \(keyIDString))" }

    public var debugDescription: String { description }

    /// Shows only the key id to `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: ["keyID": keyIDString], displayStyle: .struct)
    }

    /// Keys are equal when their bytes are equal (compared in constant time).
    public static func == (lhs: MasterKey, rhs: MasterKey) -> Bool {
        if lhs.aead === rhs.aead { return true }
        return lhs.aead.withKeyBytes { left in
            rhs.aead.withKeyBytes { right in Sodium.constantTimeEquals(left, right) }
        }
    }

    private static func deriveKeyID(_ key: some Collection<UInt8>) -> UInt32 {
        let digest = Sodium.blake2b(key, key: keyIDDomain, byteCount: 32)
        return digest[0..<4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
