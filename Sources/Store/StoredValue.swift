/// The on-disk form of every value: a header byte, an optional deadline, then the payload.
///
/// `0x00 payload…` has no deadline; `0x01 deadline(8 bytes, big-endian ms since 1970) payload…` expires
/// at the deadline. Other header bytes were written by a newer version and are refused, never guessed.
enum StoredValue {
    static let plain: UInt8 = 0x00
    static let expiring: UInt8 = 0x01

    static func encode(_ payload: [UInt8], deadline: Timestamp?) -> [UInt8] {
        var bytes = [UInt8]()
        if let deadline {
            bytes.reserveCapacity(payload.count + 9)
            bytes.append(expiring)
            bytes.append(contentsOf: encodeDeadline(deadline))
        } else {
            bytes.reserveCapacity(payload.count + 1)
            bytes.append(plain)
        }
        bytes.append(contentsOf: payload)
        return bytes
    }

    static func encodeDeadline(_ deadline: Timestamp) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: deadline.millisecondsSince1970).bigEndian) { Array($0) }
    }

    static func decodeDeadline(_ bytes: UnsafeRawBufferPointer) -> Timestamp {
        var value: UInt64 = 0
        for byte in bytes.prefix(8) { value = value << 8 | UInt64(byte) }
        return Timestamp(millisecondsSince1970: Int64(bitPattern: value))
    }

    /// Splits a raw stored value into its deadline and payload.
    static func header(
        _ raw: UnsafeRawBufferPointer,
        keyspace: KeyspaceName
    ) throws(StoreError) -> (deadline: Timestamp?, payloadOffset: Int) {
        guard let first = raw.first else {
            throw StoreError(.corruptValue, "a value in keyspace \(keyspace) is empty (truncated); restore it from a backup or delete the key")
        }
        switch first {
        case plain:
            return (nil, 1)
        case expiring:
            guard raw.count >= 9 else {
                throw StoreError(.corruptValue, "a value in keyspace \(keyspace) is truncated inside its expiry header; delete the key")
            }
            return (decodeDeadline(UnsafeRawBufferPointer(rebasing: raw[1..<9])), 9)
        default:
            throw StoreError(.corruptValue, "a value in keyspace \(keyspace) has header 0x\(String(first, radix: 16)), which this version does not know; it was written by a newer Hermes or is corrupt")
        }
    }
}
