import HTTP2
import NIOCore
import NIOHTTP1

/// What a connection's bytes parse into, with consecutive body parts joined: the same however the bytes
/// are split into reads.
enum Event: Equatable, CustomStringConvertible {
    case head(String)
    case body([UInt8])
    case end
    case error(String)
    case remainder([UInt8])

    var description: String {
        switch self {
        case .head(let head): "head \(head)"
        case .body(let bytes): "body \(bytes.count) bytes"
        case .end: "end"
        case .error(let error): "error \(error)"
        case .remainder(let bytes): "remainder \(bytes.count) bytes"
        }
    }
}

/// One fuzz input through ``HTTP1RequestParser``: fed whole, in two reads split at a point chosen by the first
/// byte, and in reads of 1 to 16 bytes; each way both declining upgrades (parsing on with `resume()`) and
/// accepting them (`takeRemainder()`). Traps when an invariant breaks:
/// - every way of splitting the input gives the same events;
/// - parts come as head, body..., end; a body part is never empty, and body bytes never exceed the bytes fed
///   or, with a single valid `Content-Length`, that length;
/// - a head's size stays within the header limit;
/// - what an upgrade leaves is exactly the tail of the input, and nothing is parsed after an error.
func check(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let cut = Int(first) % (bytes.count + 1)
    let piece = Int(first % 16) + 1
    let splits: [[ArraySlice<UInt8>]] = [
        [bytes[...]],
        [bytes[..<cut], bytes[cut...]],
        stride(from: 0, to: bytes.count, by: piece).map { bytes[$0..<min($0 + piece, bytes.count)] },
    ]
    for resumes in [true, false] {
        let expected = run(splits[0], input: bytes, resumingUpgrades: resumes)
        for pieces in splits.dropFirst() {
            let events = run(pieces, input: bytes, resumingUpgrades: resumes)
            guard events == expected else {
                fatalError("split into reads of \(pieces.map(\.count)) (resuming upgrades: \(resumes)):\n\(events)\nwhole:\n\(expected)")
            }
        }
    }
}

private func run(_ pieces: [ArraySlice<UInt8>], input: [UInt8], resumingUpgrades: Bool) -> [Event] {
    let parser = HTTP1RequestParser()
    var events: [Event] = []
    // Body bytes since the last other event, joined into one event when it comes.
    var body: [UInt8] = []
    func append(_ event: Event) {
        if !body.isEmpty { events.append(.body(body)) }
        body.removeAll()
        events.append(event)
    }
    var fed = 0
    var bodyBytes = 0
    var inMessage = false
    var messageBody = 0
    var declaredLength: Int? = nil
    var failed = false

    func take(_ result: (parts: [HTTP1RequestPart], error: HTTPParserError?)) {
        if failed, !result.parts.isEmpty || result.error != nil { fatalError("parts or an error after an error: \(result)") }
        for part in result.parts {
            switch part {
            case .head(let head):
                guard !inMessage else { fatalError("a head inside a message: \(events)") }
                guard head.size <= HTTP1RequestParser.maximumHeaderBytes + 4 * head.headers.count else { fatalError("head of \(head.size) bytes passed the limit") }
                inMessage = true
                messageBody = 0
                let lengths = head.headers.filter { $0.name == "content-length" }.map(\.value)
                let chunked = head.headers.contains { $0.name == "transfer-encoding" }
                // A CONNECT's bytes after the head belong to the tunnel, whatever its Content-Length says.
                let tunnels = head.method.rawValue == "CONNECT"
                declaredLength = lengths.count == 1 && !chunked && !tunnels ? Int(lengths[0]) : nil
                let fields = head.headers.map { "\($0.name): \($0.value)" }.joined(separator: "|")
                append(.head("\(head.method.rawValue) \(head.target) 1.\(head.minorVersion) keepAlive=\(head.keepAlive) upgrade=\(head.asksToUpgrade) size=\(head.size) \(fields)"))
            case .body(let buffer):
                guard inMessage else { fatalError("body outside a message: \(events)") }
                guard buffer.readableBytes > 0 else { fatalError("an empty body part") }
                bodyBytes += buffer.readableBytes
                messageBody += buffer.readableBytes
                guard bodyBytes <= fed else { fatalError("\(bodyBytes) body bytes from \(fed) bytes fed") }
                if let declaredLength, messageBody > declaredLength { fatalError("\(messageBody) body bytes for Content-Length \(declaredLength)") }
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard inMessage else { fatalError("end outside a message: \(events)") }
                if let declaredLength, messageBody != declaredLength { fatalError("\(messageBody) body bytes at the end for Content-Length \(declaredLength)") }
                inMessage = false
                append(.end)
            }
        }
        if let error = result.error {
            failed = true
            append(.error("\(error)"))
        }
    }

    for piece in pieces {
        fed += piece.count
        take(parser.parse(ByteBuffer(bytes: piece)))
    }
    // Each resume parses at least one more request, so this ends; the bound turns a loop into a crash report.
    var rounds = 0
    while parser.isStopped {
        if !resumingUpgrades {
            let rest = parser.takeRemainder().map { Array($0.readableBytesView) } ?? []
            guard input.count >= rest.count, Array(input.suffix(rest.count)) == rest else { fatalError("the remainder after an upgrade is not the input's tail") }
            append(.remainder(rest))
            break
        }
        take(parser.resume())
        rounds += 1
        guard rounds <= input.count + 1 else { fatalError("resume() made no progress") }
    }
    if !body.isEmpty { events.append(.body(body)) }
    return events
}
