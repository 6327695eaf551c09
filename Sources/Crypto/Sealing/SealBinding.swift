/// The place a sealed credential belongs to: one customer's credential for one platform.
///
/// Sealing authenticates the binding along with the ciphertext (as AES-GCM associated data), so a sealed
/// blob copied under another customer or platform does not open. Both strings are bound byte for byte
/// as UTF-8 (no case folding or Unicode normalisation): pass the same canonical ids when sealing and
/// opening, for example the customer id as stored and the platform's lowercase name (`whatsapp`).
public struct SealBinding: Sendable, Hashable, CustomStringConvertible {
    /// The customer the credential belongs to.
    public let customerID: String
    /// The platform the credential is for, such as `whatsapp` or `discord`.
    public let platform: String

    /// Binds a credential to `customerID` and `platform`, exactly as given.
    public init(customerID: String, platform: String) {
        self.customerID = customerID
        self.platform = platform
    }

    public var description: String { "SealBinding(customer: \(customerID), platform: \(platform))" }

    /// Builds the associated data for an envelope sealed by the key with id `keyID`, and passes it to
    /// `body`. The bytes live on the stack for short ids, so opening allocates nothing for them.
    ///
    /// Layout (see ``KeyRing``): the domain `hermes.credential.v1`, the envelope's first five bytes (the
    /// format version and `keyID`), then the customer id and the platform, each as a 4-byte big-endian
    /// UTF-8 length and the UTF-8 bytes.
    func withAssociatedData<R>(keyID: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let customer = customerID.utf8
        let platform = platform.utf8
        precondition(customer.count <= Int(UInt32.max) && platform.count <= Int(UInt32.max))
        let domain = EnvelopeFormat.associatedDataDomain
        let count = domain.count + EnvelopeFormat.authenticatedHeaderByteCount + 4 + customer.count + 4 + platform.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            var offset = 0
            func append(_ bytes: some Collection<UInt8>) {
                offset += UnsafeMutableBufferPointer(rebasing: buffer[offset...]).initialize(fromContentsOf: bytes)
            }
            func appendBigEndian(_ value: UInt32) {
                buffer[offset] = UInt8(truncatingIfNeeded: value >> 24)
                buffer[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
                buffer[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
                buffer[offset + 3] = UInt8(truncatingIfNeeded: value)
                offset += 4
            }
            append(domain)
            buffer[offset] = EnvelopeFormat.version
            offset += 1
            appendBigEndian(keyID)
            appendBigEndian(UInt32(customer.count))
            append(customer)
            appendBigEndian(UInt32(platform.count))
            append(platform)
            assert(offset == count)
            return body(UnsafeBufferPointer(buffer))
        }
    }
}

/// Constants of the sealed-envelope format (documented on ``KeyRing``).
enum EnvelopeFormat {
    /// The format version this build writes and reads.
    static let version: UInt8 = 1
    static let versionByteCount = 1
    static let keyIDByteCount = 4
    static let nonceOffset = versionByteCount + keyIDByteCount
    /// Version and key id: the part of the header that also goes into the associated data.
    static let authenticatedHeaderByteCount = versionByteCount + keyIDByteCount
    static let headerByteCount = nonceOffset + AES256GCMKey.nonceByteCount
    static let minimumByteCount = headerByteCount + AES256GCMKey.tagByteCount
    /// Separates credential envelopes from any other use of the same key.
    static let associatedDataDomain: [UInt8] = Array("hermes.credential.v1".utf8)

    /// Writes the version and `keyID` (big-endian) into the first five bytes of `envelope`.
    static func writeHeader(keyID: UInt32, into envelope: inout [UInt8]) {
        envelope[0] = version
        envelope[1] = UInt8(truncatingIfNeeded: keyID >> 24)
        envelope[2] = UInt8(truncatingIfNeeded: keyID >> 16)
        envelope[3] = UInt8(truncatingIfNeeded: keyID >> 8)
        envelope[4] = UInt8(truncatingIfNeeded: keyID)
    }
}
