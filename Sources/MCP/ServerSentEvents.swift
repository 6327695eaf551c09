import JSON
/// Server-sent event framing (`text/event-stream`).
enum ServerSentEvents {
    /// `id: …` (when given), `event: …`, one `data:` line (JSON from ``JSONWriter`` has no line breaks), blank line.
    static func event(id: String?, name: String = "message", data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 48)
        if let id { out += Array("id: \(id)\n".utf8) }
        out += Array("event: \(name)\ndata: ".utf8)
        out += data
        out += [0x0A, 0x0A]
        return out
    }

    /// An event with an id and no data: tells a 2025-11-25 client where it may resume from.
    static func priming(id: String) -> [UInt8] {
        Array("id: \(id)\ndata: \n\n".utf8)
    }

    static let keepAlive: [UInt8] = Array(": keep-alive\n\n".utf8)
}
