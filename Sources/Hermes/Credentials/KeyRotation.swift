package import Crypto
import Store

/// What a rotation did.
package struct RotationReport: Sendable, Equatable {
    /// Credentials re-sealed under the newest key.
    package var resealed: Int
    /// Credentials already sealed under the newest key.
    package var alreadyCurrent: Int
    /// Whether every credential is now sealed under the newest key.
    package var finished: Bool

    package init(resealed: Int = 0, alreadyCurrent: Int = 0, finished: Bool = false) {
        self.resealed = resealed
        self.alreadyCurrent = alreadyCurrent
        self.finished = finished
    }
}

/// A credential that could not be re-sealed, named by its place, never its content.
package struct RotationError: Error, CustomStringConvertible {
    package let customerID: String
    package let platform: String
    package let underlying: CryptoError

    package var description: String {
        "cannot re-seal the \(platform) credential of customer \(customerID): \(underlying.description). Nothing was changed for it; load the key that sealed it and run the rotation again"
    }
}

extension CredentialVault {
    static let rotationCursorKey = "rotation.cursor"

    /// Re-seals every credential not yet sealed under the newest key, `batchSize` per write transaction,
    /// so the writer is never held for long and nothing is lost if the process stops half-way.
    ///
    /// Progress is saved with each batch (in the same transaction), so a rotation that was interrupted or
    /// cancelled continues where it stopped when run again. Cancelling the calling task stops it after the
    /// current batch; the report then says `finished: false`. `maximumBatches` stops it after that many
    /// batches in the same way.
    package func rotate(batchSize: Int = 256, maximumBatches: Int = .max) async throws -> RotationReport {
        let keyRing = self.keyRing
        let batch = max(1, batchSize)
        var report = RotationReport()
        var batches = 0
        while !Task.isCancelled, batches < maximumBatches {
            batches += 1
            let step = try await store.write { txn -> (resealed: Int, current: Int, done: Bool) in
                let cursor = try txn.get(.meta, Self.rotationCursorKey).map { Array($0.utf8) }
                let page = try txn.scan(.creds, after: cursor.map { try CredentialKey(storeKey: $0) }, limit: batch)
                var resealed = 0
                var current = 0
                for (key, envelope) in page {
                    let binding = SealBinding(customerID: key.customerID, platform: key.platform)
                    do {
                        guard let newEnvelope = try keyRing.resealedWithNewestKey(envelope, for: binding) else {
                            current += 1
                            continue
                        }
                        try txn.put(.creds, key, newEnvelope)
                    } catch let error as CryptoError {
                        throw RotationError(customerID: key.customerID, platform: key.platform, underlying: error)
                    }
                    resealed += 1
                }
                if page.count < batch {
                    try txn.delete(.meta, Self.rotationCursorKey)
                    return (resealed, current, true)
                }
                let last = String(decoding: page[page.count - 1].key.storeKey, as: UTF8.self)
                try txn.put(.meta, Self.rotationCursorKey, last)
                return (resealed, current, false)
            }
            report.resealed += step.resealed
            report.alreadyCurrent += step.current
            if step.done {
                report.finished = true
                return report
            }
        }
        return report
    }
}
