import Foundation

/// Runs `work` on a thread of its own and returns its result.
///
/// For work that computes or blocks for long (megabytes byte by byte, unoptimized in debug builds): on
/// Swift's cooperative pool, which has one thread per core, two such tasks would stop every other test of
/// the process, their servers' shutdowns and their child processes' polling included.
public func onOwnThread<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Swift.Result { try work() }) }.start()
    }
}
