import CCurl
import Glibc
import Synchronization
import SystemThreads

/// A small outbound HTTP client on libcurl, for fetching documents (OAuth client metadata) and for the
/// platform clients.
///
/// Every transfer runs on a thread of its own, never on an event loop or the cooperative pool, because
/// `curl_easy_perform` blocks. The number of transfers at once is bounded (``Configuration/maximumConcurrentTransfers``);
/// callers beyond it wait. Limits are enforced by libcurl itself: a total timeout, a connect timeout, a cap
/// on the response body (the transfer is aborted once it is exceeded) and, when redirects are followed,
/// https-only redirects.
///
/// Certificates are always verified. To trust a private CA (tests, internal deployments), give its PEM
/// bundle in ``Configuration/caBundlePath``.
package final class HTTPClient: Sendable {
    /// Limits and trust settings.
    package struct Configuration: Sendable {
        /// The longest a whole transfer may take.
        package var timeout: Duration
        /// The longest connecting (TCP and TLS) may take.
        package var connectTimeout: Duration
        /// The largest response body accepted; a larger one fails with ``HTTPClientError/Code/responseTooLarge``.
        package var maximumResponseBytes: Int
        /// Whether plain `http://` URLs may be fetched. Off by default: only https.
        package var allowsPlainHTTP: Bool
        /// Whether connections may go to private, loopback, link-local and other non-public addresses
        /// (see ``AddressPolicy``). Off by default; turn it on for endpoints on this host or network
        /// (fakes in tests, an internal service). Off, no proxy from the environment is used either:
        /// the connection must go straight to the public address.
        package var allowsPrivateAddresses: Bool
        /// How many redirects to follow (0: none, the 3xx response is returned). Redirects go to https only.
        package var maximumRedirects: Int
        /// A PEM file of CA certificates to trust instead of the system's; nil for the system store.
        package var caBundlePath: String?
        /// Sent as `User-Agent`.
        package var userAgent: String
        /// Transfers running at once; more wait for a free slot.
        package var maximumConcurrentTransfers: Int

        package init(
            timeout: Duration = .seconds(10),
            connectTimeout: Duration = .seconds(5),
            maximumResponseBytes: Int = 1 << 20,
            allowsPlainHTTP: Bool = false,
            allowsPrivateAddresses: Bool = false,
            maximumRedirects: Int = 0,
            caBundlePath: String? = nil,
            userAgent: String = "hermes-appliance",
            maximumConcurrentTransfers: Int = 16
        ) {
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.maximumResponseBytes = maximumResponseBytes
            self.allowsPlainHTTP = allowsPlainHTTP
            self.allowsPrivateAddresses = allowsPrivateAddresses
            self.maximumRedirects = maximumRedirects
            self.caBundlePath = caBundlePath
            self.userAgent = userAgent
            self.maximumConcurrentTransfers = max(1, maximumConcurrentTransfers)
        }
    }

    /// A request to send.
    package struct Request: Sendable {
        package var method: String
        package var url: String
        /// Header fields as (name, value); names are sent as given.
        package var headers: [(String, String)]
        package var body: [UInt8]?

        package init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
        }
    }

    /// A received response.
    package struct Response: Sendable {
        package var status: Int
        /// Header fields of the final response, names lower-cased, in order.
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]

        /// The first value of the header `name` (case-insensitive).
        package func header(_ name: String) -> String? {
            let lowered = name.lowercased()
            return headers.first { $0.name == lowered }?.value
        }

        /// The body as UTF-8 text.
        package var text: String { String(decoding: body, as: UTF8.self) }
    }

    package let configuration: Configuration
    private let gate: TransferGate

    package init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        gate = TransferGate(limit: configuration.maximumConcurrentTransfers)
        CurlGlobal.ensureInitialized()
    }

    /// Sends `request` and returns the response, whatever its status.
    ///
    /// - Throws: ``HTTPClientError`` when the URL is refused, the transfer fails or times out, or the
    ///   body is larger than allowed.
    package func send(_ request: Request) async throws(HTTPClientError) -> Response {
        let scheme = request.url.prefix { $0 != ":" }.lowercased()
        guard scheme == "https" || (scheme == "http" && configuration.allowsPlainHTTP) else {
            throw HTTPClientError(.refusedURL, "only https URLs may be fetched, not \(Self.redacted(request.url))")
        }
        await gate.acquire()
        defer { gate.release() }
        let configuration = self.configuration
        let outcome: Result<Response, HTTPClientError> = await withCheckedContinuation { continuation in
            do {
                try SystemThread.startDetached(name: "hermes-curl") {
                    continuation.resume(returning: CurlTransfer(configuration: configuration, request: request).perform())
                }
            } catch {
                preconditionFailure("\(error)")
            }
        }
        return try outcome.get()
    }

    /// A GET of `url`.
    package func get(_ url: String, headers: [(String, String)] = []) async throws(HTTPClientError) -> Response {
        try await send(Request(url: url, headers: headers))
    }

    /// The URL without its query (which may carry tokens), for messages.
    static func redacted(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }
}

/// An error from ``HTTPClient``: compare by ``code``; ``description`` says what happened.
package struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The URL's scheme is not allowed (only https unless plain http is enabled).
        package static let refusedURL = Code("refusedURL")
        /// The transfer took longer than the configured timeout.
        package static let timedOut = Code("timedOut")
        /// The response body exceeded the configured maximum.
        package static let responseTooLarge = Code("responseTooLarge")
        /// The TLS handshake or certificate verification failed.
        package static let tlsFailed = Code("tlsFailed")
        /// Connecting, resolving, sending or receiving failed.
        package static let transferFailed = Code("transferFailed")
        package var description: String { name }
    }

    package let code: Code
    private let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    package static func == (lhs: HTTPClientError, rhs: HTTPClientError) -> Bool { lhs.code == rhs.code }
}

/// Limits how many transfers run at once; waiters resume in arrival order.
private final class TransferGate: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state in
                if state.running < limit {
                    state.running += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiters.removeFirst()  // the slot passes to the next waiter
        }
        next?.resume()
    }
}

/// `curl_global_init`, once per process.
enum CurlGlobal {
    private static let status: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    static func ensureInitialized() {
        precondition(status == CURLE_OK, "curl_global_init failed (\(status.rawValue)); libcurl cannot be used")
    }
}
