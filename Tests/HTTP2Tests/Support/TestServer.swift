import Foundation
@testable import HTTP2
import Routing
import Logging
import Synchronization
import Testing

/// What the test routes observed, for assertions the clients cannot make (how far a producer got, whether its
/// `write` threw, which peers connected).
final class Probe: Sendable {
    struct Producer: Sendable {
        /// Bytes `write` accepted (counted after each call returned).
        var handed = 0
        /// How the producer ended: "finished", "closed" (``ResponseStreamClosed``), "cancelled" or "error …".
        var outcome: String?
    }

    /// What a streamed-upload handler saw.
    struct Upload: Sendable {
        /// Bytes the handler read from the body.
        var consumed = 0
        /// The most body bytes the server held for the request at once (its internal counter).
        var peakBuffered = 0
        /// "finished", or the ``RequestBodyError`` kind the body failed with ("tooLarge", "clientReset", ...).
        var outcome: String?
    }

    private struct State {
        var producers: [String: Producer] = [:]
        var uploads: [String: Upload] = [:]
        var slowStarted = 0
        var peers: [String] = []
        var gateOpen = false
        var gateWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func handed(_ id: String, _ bytes: Int) { state.withLock { $0.producers[id, default: Producer()].handed += bytes } }
    func ended(_ id: String, _ outcome: String) { state.withLock { $0.producers[id, default: Producer()].outcome = outcome } }
    func producer(_ id: String) -> Producer? { state.withLock { $0.producers[id] } }
    func uploadStarted(_ id: String) { state.withLock { $0.uploads[id] = Upload() } }
    func uploadRead(_ id: String, _ bytes: Int, peakBuffered: Int) {
        state.withLock { state in
            state.uploads[id, default: Upload()].consumed += bytes
            state.uploads[id, default: Upload()].peakBuffered = peakBuffered
        }
    }
    func uploadEnded(_ id: String, _ outcome: String, peakBuffered: Int) {
        state.withLock { state in
            state.uploads[id, default: Upload()].outcome = outcome
            state.uploads[id, default: Upload()].peakBuffered = peakBuffered
        }
    }
    func upload(_ id: String) -> Upload? { state.withLock { $0.uploads[id] } }
    func slowStarted() { state.withLock { $0.slowStarted += 1 } }
    var slowStartedCount: Int { state.withLock { $0.slowStarted } }
    func peer(_ address: String) { state.withLock { $0.peers.append(address) } }
    var peers: [String] { state.withLock { $0.peers } }

    /// Lets every request held at the gate (`/slow?gate=1`) go on, now and later.
    func openGate() {
        let waiters = state.withLock { state in
            state.gateOpen = true
            defer { state.gateWaiters = [] }
            return state.gateWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Suspends until ``openGate()``: a test decides when a slow request finishes, whatever the scheduling.
    func waitForGate() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.gateOpen { state.gateWaiters.append(continuation) }
                return state.gateOpen
            }
            if open { continuation.resume() }
        }
    }

    /// Waits (bounded) until `condition` holds.
    func wait(seconds: Double = 20, until condition: (Probe) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }
}

/// Every log record the server wrote, kept in memory.
final class LogStore: Sendable {
    struct Record: Sendable, CustomStringConvertible {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]

        var description: String {
            "[\(level)] \(message) " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
    }

    private let records = Mutex<[Record]>([])

    func append(_ record: Record) { records.withLock { $0.append(record) } }
    var all: [Record] { records.withLock { $0 } }
    /// The access log: one "request" record per finished request.
    var accessLines: [Record] { all.filter { $0.message == "request" } }
}

/// A swift-log handler that collects records into a ``LogStore``.
struct CollectingLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        merged.merge(event.metadata ?? [:]) { $1 }
        store.append(.init(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" }))
    }
}

/// An in-process ``HTTPServer`` on 127.0.0.1 with an ephemeral port and the test routes.
final class TestServer: Sendable {
    let server: HTTPServer
    let probe: Probe
    let logs: LogStore
    let port: Int
    let tls: Bool

    /// Short enough that a test never waits long for leftovers, long enough for a loaded machine.
    static let defaultGracePeriod: Duration = .seconds(5)

    private init(server: HTTPServer, probe: Probe, logs: LogStore, port: Int, tls: Bool) {
        self.server = server
        self.probe = probe
        self.logs = logs
        self.port = port
        self.tls = tls
    }

    var url: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }
    func url(_ path: String) -> String { url + path }

    static func start(
        tls: HTTPServerConfiguration.TLS? = nil,
        shutdownGracePeriod: Duration = defaultGracePeriod,
        trustedProxies: TrustedProxies = .none,
        limits configure: (inout HTTPServerConfiguration.Limits) -> Void = { _ in }
    ) async throws -> TestServer {
        var limits = HTTPServerConfiguration.Limits()
        configure(&limits)
        let probe = Probe()
        let logs = LogStore()
        let logger = Logger(label: "hermes.http.test") { _ in CollectingLogHandler(store: logs) }
        // An event loop of its own: other suites sharing the process (and NIO's singleton group) cannot
        // delay this server's timers and shutdown.
        let configuration = HTTPServerConfiguration(
            host: "127.0.0.1", port: 0, tls: tls, limits: limits, shutdownGracePeriod: shutdownGracePeriod,
            eventLoopThreads: 1, trustedProxies: trustedProxies
        )
        let server = HTTPServer(configuration: configuration, router: routes(probe), logger: logger)
        try await server.start()
        let port = try #require(server.localPort)
        return TestServer(server: server, probe: probe, logs: logs, port: port, tls: tls != nil)
    }

    private let stopped = Mutex(false)

    /// Shuts the server down once (later calls return at once).
    func stop() async {
        guard !stopped.withLock({ stopped in defer { stopped = true }; return stopped }) else { return }
        await server.shutdown()
    }

    /// Waits (bounded) until the server holds `count` connections or fewer.
    func waitForConnections(atMost count: Int, seconds: Double = 20) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if server.connectionCount <= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return server.connectionCount <= count
    }

    /// The request body limit of `POST /upload`.
    static let uploadLimit = 1024

    /// The body limits of `POST /stream-upload` and `POST /stream-upload-small`.
    static let streamedUploadLimit = 256 << 20
    static let smallStreamedUploadLimit = 256 * 1024

    /// The name a test gives a ``RequestBodyError``.
    static func name(_ error: RequestBodyError) -> String {
        let kinds: [(RequestBodyError, String)] = [
            (.tooLarge, "tooLarge"), (.clientReset, "clientReset"), (.connectionClosed, "connectionClosed"),
            (.timedOut, "timedOut"), (.cancelled, "cancelled"),
        ]
        return kinds.first { $0.0 == error }?.1 ?? "\(error)"
    }

    /// Reads a streamed body chunk by chunk, `delay` ms after each (after waiting at the gate with `gate`),
    /// and answers with its length and FNV-1a hash; records what it saw under `id`.
    static func streamedUpload(_ probe: Probe) -> HTTPHandler {
        { request in
            let id = request.queryValue("id") ?? "upload"
            let delay = Int(request.queryValue("delay") ?? "") ?? 0
            probe.uploadStarted(id)
            if request.queryValue("gate") != nil { await probe.waitForGate() }
            var hash = FNV1a()
            var count = 0
            do {
                for try await chunk in request.bodyStream {
                    hash.add(chunk)
                    count += chunk.count
                    probe.uploadRead(id, chunk.count, peakBuffered: request.streamedBody?.peakBufferedBytes ?? 0)
                    if delay > 0 { try? await Task.sleep(for: .milliseconds(delay)) }
                }
            } catch let error as RequestBodyError {
                probe.uploadEnded(id, name(error), peakBuffered: request.streamedBody?.peakBufferedBytes ?? 0)
                throw error
            }
            probe.uploadEnded(id, "finished", peakBuffered: request.streamedBody?.peakBufferedBytes ?? 0)
            return .text("count \(count) fnv \(hash.hex)")
        }
    }

    /// The routes every test server serves.
    static func routes(_ probe: Probe) -> Router {
        var router = Router()
        router.get("/fast") { _ in .text("fast") }
        router.get("/peer") { request in
            probe.peer(request.remoteAddress ?? "?")
            return .text(request.remoteAddress ?? "?")
        }
        router.get("/echo/:tag") { request in .text("tag:\(request.parameters["tag"] ?? "")") }
        router.get("/nothing") { _ in HTTPResponse(status: 204) }
        router.get("/headers") { request in .text(request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")) }
        // A handler that lets a CR LF into a field value: the field must not reach the wire.
        router.get("/bad-field") { _ in
            HTTPResponse(status: 200, headers: ["x-good": "yes", "x-bad": "a\r\nx-injected: 1", "bad name": "b"], body: .bytes(Array("body".utf8)))
        }
        router.get("/secret") { request in
            request.headers["authorization"] == nil ? .error(401, "no credentials") : .text("authorized")
        }
        router.get("/slow") { request in
            probe.slowStarted()
            let milliseconds = Int(request.queryValue("ms") ?? "") ?? 1000
            if request.queryValue("gate") != nil { await probe.waitForGate() }
            try await Task.sleep(for: .milliseconds(milliseconds))
            if let size = request.queryValue("bytes").flatMap(Int.init) {
                return HTTPResponse(body: .bytes([UInt8](repeating: UInt8(ascii: "s"), count: size)))
            }
            return .text("slow done after \(milliseconds) ms")
        }
        router.post("/upload", bodyLimit: uploadLimit) { request in .text("received \(request.body.count)") }
        router.post("/echo-length") { request in .text("received \(request.body.count)") }
        router.add(.post, "/stream-upload", body: .streamed(limit: streamedUploadLimit), streamedUpload(probe))
        router.post("/stream-upload-small", body: .streamed(limit: smallStreamedUploadLimit), streamedUpload(probe))
        // Answers at once without reading the body.
        router.add(.post, "/stream-upload-ignore", body: .streamed(limit: streamedUploadLimit)) { _ in .text("ignored", status: 202) }
        // n chunks of `size` bytes ("chunk <i> ...\n"), `delay` ms apart.
        router.get("/stream") { request in
            let count = Int(request.queryValue("n") ?? "") ?? 5
            let size = max(16, Int(request.queryValue("size") ?? "") ?? 16)
            let delay = Int(request.queryValue("delay") ?? "") ?? 0
            let id = request.queryValue("id") ?? "stream"
            return HTTPResponse(headers: ["content-type": "text/plain"], body: .stream { writer in
                await produce(probe, id) {
                    for index in 0..<count {
                        if index > 0, delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                        let line = Self.chunk(index, size: size)
                        try await writer.write(line)
                        probe.handed(id, line.count)
                    }
                }
            })
        }
        // Writes `chunk`-byte chunks until `total` bytes or until `write` throws.
        router.get("/firehose") { request in
            let chunk = Int(request.queryValue("chunk") ?? "") ?? 64 * 1024
            let total = Int(request.queryValue("total") ?? "") ?? 512 << 20
            let id = request.queryValue("id") ?? "firehose"
            let bytes = [UInt8](repeating: UInt8(ascii: "x"), count: chunk)
            return HTTPResponse(headers: ["content-type": "application/octet-stream"], body: .stream { writer in
                await produce(probe, id) {
                    var sent = 0
                    while sent < total {
                        try await writer.write(bytes)
                        sent += bytes.count
                        probe.handed(id, bytes.count)
                    }
                }
            })
        }
        // Server-sent events every 50 ms until the stream is closed (client gone or shutdown).
        router.get("/forever") { request in
            let id = request.queryValue("id") ?? "forever"
            return HTTPResponse(headers: ["content-type": "text/event-stream"], body: .stream { writer in
                await produce(probe, id) {
                    var index = 0
                    while true {
                        let event = Array("data: tick \(index)\n\n".utf8)
                        try await writer.write(event)
                        probe.handed(id, event.count)
                        index += 1
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
            })
        }
        return router
    }

    /// Runs a producer, recording how it ended, and lets its error end the body as a real handler would.
    private static func produce(_ probe: Probe, _ id: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            probe.ended(id, "finished")
        } catch is ResponseStreamClosed {
            probe.ended(id, "closed")
        } catch is CancellationError {
            probe.ended(id, "cancelled")
        } catch {
            probe.ended(id, "error \(type(of: error))")
        }
    }

    /// Chunk `index` of the streaming route: "chunk <index> " padded with dots to `size - 1`, then "\n".
    static func chunk(_ index: Int, size: Int) -> [UInt8] {
        var line = Array("chunk \(index) ".utf8)
        line += [UInt8](repeating: UInt8(ascii: "."), count: max(0, size - 1 - line.count))
        line.append(UInt8(ascii: "\n"))
        return line
    }
}

/// Starts a server, runs `body`, and always shuts the server down.
func withServer<T>(
    tls: HTTPServerConfiguration.TLS? = nil,
    shutdownGracePeriod: Duration = TestServer.defaultGracePeriod,
    trustedProxies: TrustedProxies = .none,
    limits: (inout HTTPServerConfiguration.Limits) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try await TestServer.start(tls: tls, shutdownGracePeriod: shutdownGracePeriod, trustedProxies: trustedProxies, limits: limits)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// Checks that the server still answers a normal request on a new connection, over HTTP/1.1 and HTTP/2.
func expectStillServing(_ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let h1 = try await Curl.request(server.url("/fast"), ["--http1.1"])
    #expect(h1.status == 200 && h1.body == "fast", "HTTP/1.1 request after the attack: \(h1.result)", sourceLocation: sourceLocation)
    let h2 = try await Curl.request(server.url("/fast"), ["--http2-prior-knowledge"])
    #expect(h2.status == 200 && h2.version == "2" && h2.body == "fast", "HTTP/2 request after the attack: \(h2.result)", sourceLocation: sourceLocation)
}

/// 64-bit FNV-1a, the upload routes' checksum (the tests hash their payloads the same way).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        var value = value
        // Through a buffer pointer: a debug build's array iterator costs several times as much per byte.
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer {
                value ^= UInt64(byte)
                value &*= 0x0000_0100_0000_01b3
            }
        }
        self.value = value
    }

    var hex: String { String(value, radix: 16) }
}
