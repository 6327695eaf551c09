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

    /// Builds the associated data for an envelope whose first five bytes are `header`, and passes it to
    /// `body`. The bytes live on the stack for short ids, so opening allocates nothing for them.
    ///
    /// Layout (see ``KeyRing``): the domain `hermes.credential.v1`, the five header bytes, then the
    /// customer id and the platform, each as a 4-byte big-endian UTF-8 length and the UTF-8 bytes.
    func withAssociatedData<R>(header: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        precondition(header.count == EnvelopeFormat.authenticatedHeaderByteCount)
        var customerID = self.customerID
        var platform = self.platform
        return customerID.withUTF8 { customer in
            platform.withUTF8 { platform in
                precondition(customer.count <= Int(UInt32.max) && platform.count <= Int(UInt32.max))
                let domain = EnvelopeFormat.associatedDataDomain
                let count = domain.count + header.count + 4 + customer.count + 4 + platform.count
                return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
                    var offset = 0
                    func append(_ bytes: UnsafeBufferPointer<UInt8>) {
                        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
                        (buffer.baseAddress! + offset).initialize(from: source, count: bytes.count)
                        offset += bytes.count
                    }
                    func appendLength(_ length: Int) {
                        let value = UInt32(length)
                        for shift in stride(from: 24, through: 0, by: -8) {
                            buffer[offset] = UInt8(truncatingIfNeeded: value >> UInt32(shift))
                            offset += 1
                        }
                    }
                    domain.withUnsafeBufferPointer { append($0) }
                    append(header)
                    appendLength(customer.count)
                    append(customer)
                    appendLength(platform.count)
                    append(platform)
                    assert(offset == count)
                    return body(UnsafeBufferPointer(buffer))
                }
            }
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
}
