#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
package import Logging
import Synchronization

/// A swift-log handler that writes the lines `StreamLogHandler` writes (`<time> <level> <label>:
/// <metadata> [<source>] <message>`, metadata sorted by key, time in UTC) through a ``BatchedLogWriter``.
///
/// ```swift
/// LoggingSystem.bootstrap { label in
///     var handler = BatchedLogHandler(label: label)
///     handler.logLevel = .info
///     return handler
/// }
/// ```
package struct BatchedLogHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]
    package var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let writer: BatchedLogWriter

    package init(label: String, writer: BatchedLogWriter = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.writer = writer
        self.metadataProvider = metadataProvider
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: Self.clock.timestamp())
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: event.level.rawValue.utf8)
        if !label.isEmpty {
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: label.utf8)
        }
        line.append(UInt8(ascii: ":"))
        let merged = mergedMetadata(event.metadata, error: event.error)
        // String's `<`: memcmp for ASCII keys (docs/adr/0013-batched-log-output.md).
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: key.utf8)
            line.append(UInt8(ascii: "="))
            line.append(contentsOf: value.description.utf8)
        }
        line.append(contentsOf: " [".utf8)
        line.append(contentsOf: event.source.utf8)
        line.append(contentsOf: "] ".utf8)
        line.append(contentsOf: event.message.description.utf8)
        line.append(UInt8(ascii: "\n"))
        writer.append(line, urgent: event.level >= .notice)
    }

    /// The handler's metadata, then the provider's, then the event's, each overriding the one before.
    private func mergedMetadata(_ explicit: Logger.Metadata?, error: (any Error)?) -> Logger.Metadata {
        let provided = metadataProvider?.get() ?? [:]
        // The usual case (metadata only on the call) without building a new dictionary.
        var merged = metadata.isEmpty && provided.isEmpty ? explicit ?? [:] : metadata
        if !provided.isEmpty { merged.merge(provided) { _, new in new } }
        if let explicit, !explicit.isEmpty, !(metadata.isEmpty && provided.isEmpty) { merged.merge(explicit) { _, new in new } }
        if let error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return merged
    }

    /// The timestamp of the current second, formatted once per second rather than once per line.
    private static let clock = SecondClock()

    final class SecondClock: Sendable {
        private let cached = Mutex<(second: Int, text: [UInt8])>((-1, []))

        /// `2026-11-26T01:30:00+0000`: the shape `StreamLogHandler` writes, in UTC.
        func timestamp() -> [UInt8] {
            let now = time(nil)
            if let hit = cached.withLock({ $0.second == now ? $0.text : nil }) { return hit }
            var seconds = now
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var text = [UInt8](repeating: 0, count: 32)
            let count = text.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    strftime($0, buffer.count, "%Y-%m-%dT%H:%M:%S+0000", &parts)
                }
            }
            text.removeSubrange(count...)
            cached.withLock { $0 = (now, text) }
            return text
        }
    }
}
