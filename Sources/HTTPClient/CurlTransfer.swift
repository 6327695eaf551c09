import ASCIIText
import CCurl
import Glibc

/// One blocking libcurl transfer: every unsafe pointer and C callback of the client lives here.
final class CurlTransfer {
    private let configuration: HTTPClient.Configuration
    private let request: HTTPClient.Request
    private var body: [UInt8] = []
    private var headers: [(name: String, value: String)] = []
    private var tooLarge = false
    /// The address a connection was refused to (``HTTPClient/Configuration/allowsPrivateAddresses``).
    private var refusedAddress: String?

    init(configuration: HTTPClient.Configuration, request: HTTPClient.Request) {
        self.configuration = configuration
        self.request = request
    }

    /// Runs the transfer on the calling thread (which must not be an event loop).
    func perform() -> Result<HTTPClient.Response, HTTPClientError> {
        guard let handle = curl_easy_init() else {
            return .failure(HTTPClientError(.transferFailed, "libcurl could not create a transfer handle (out of memory?)"))
        }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(list) }

        let protocols = configuration.allowsPlainHTTP ? "http,https" : "https"
        hermes_curl_setopt_string(handle, CURLOPT_URL, request.url)
        hermes_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, protocols)
        hermes_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "https")
        hermes_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, configuration.maximumRedirects > 0 ? 1 : 0)
        hermes_curl_setopt_long(handle, CURLOPT_MAXREDIRS, configuration.maximumRedirects)
        hermes_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        hermes_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(configuration.timeout))
        hermes_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        hermes_curl_setopt_long(handle, CURLOPT_MAXFILESIZE_LARGE, configuration.maximumResponseBytes)
        hermes_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        hermes_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if configuration.allowsPrivateAddresses {
            // A proxy from the environment must never see loopback traffic.
            hermes_curl_setopt_string(handle, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1")
        } else {
            // Straight to the public address: a proxy would be the address checked, and would reach anything.
            hermes_curl_setopt_string(handle, CURLOPT_PROXY, "")
        }
        hermes_curl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent)
        if let ca = configuration.caBundlePath { hermes_curl_setopt_string(handle, CURLOPT_CAINFO, ca) }

        let method = request.method.uppercased()
        if method == "HEAD" {
            hermes_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
        } else if method != "GET" {
            hermes_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
        }
        if let payload = request.body {
            hermes_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, payload.count)
            if payload.isEmpty {
                hermes_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, "")
            } else {
                // COPYPOSTFIELDS copies the bytes now, so the buffer need not outlive this call.
                payload.withUnsafeBytes { raw in
                    _ = hermes_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress!))
                }
            }
        }
        for (name, value) in request.headers {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        if request.body != nil, !request.headers.contains(where: { $0.0.lowercased() == "expect" }) {
            list = curl_slist_append(list, "Expect:")
        }
        if list != nil { hermes_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list) }

        let this = Unmanaged.passUnretained(self).toOpaque()
        hermes_curl_setopt_write_callback(handle) { data, size, count, user in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
            return transfer.received(UnsafeRawBufferPointer(start: data, count: size * count))
        }
        hermes_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, this)
        hermes_curl_setopt_header_callback(handle) { data, size, count, user in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
            transfer.receivedHeader(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        hermes_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, this)
        if !configuration.allowsPrivateAddresses {
            hermes_curl_setopt_opensocket_callback(handle) { user, _, address in
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(user!).takeUnretainedValue()
                guard let address else { return -1 }
                return transfer.openSocket(address)
            }
            hermes_curl_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, this)
        }

        let code = withExtendedLifetime(self) { curl_easy_perform(handle) }
        let target = HTTPClient.redacted(request.url)
        // Only when nothing else got through: a name may resolve to a refused address and a public one.
        if code == CURLE_COULDNT_CONNECT, let refusedAddress {
            return .failure(HTTPClientError(.refusedURL, "\(target) leads to \(refusedAddress), a private or local address this server does not connect to; use a URL on the public internet"))
        }
        if tooLarge || code == CURLE_FILESIZE_EXCEEDED {
            return .failure(HTTPClientError(.responseTooLarge, "the response from \(target) is larger than \(configuration.maximumResponseBytes) bytes"))
        }
        guard code == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_OPERATION_TIMEDOUT:
                return .failure(HTTPClientError(.timedOut, "fetching \(target) took longer than \(configuration.timeout)"))
            case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
                return .failure(HTTPClientError(.tlsFailed, "TLS with \(target) failed: \(reason); the server's certificate must be valid and trusted"))
            case CURLE_UNSUPPORTED_PROTOCOL:
                return .failure(HTTPClientError(.refusedURL, "\(target) uses or redirects to a scheme that is not allowed (only https): \(reason)"))
            default:
                return .failure(HTTPClientError(.transferFailed, "fetching \(target) failed: \(reason)"))
            }
        }
        var status = 0
        hermes_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPClient.Response(status: status, headers: headers, body: body))
    }

    /// Opens the socket libcurl asks for if its address is public; otherwise notes the address and
    /// refuses (libcurl then fails with "couldn't connect").
    private func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        let family = address.pointee.family
        // curl_sockaddr's `addr` is followed by room for the whole address (addrlen bytes).
        let socketAddress = UnsafeRawPointer(address) + MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
        let length = Int(address.pointee.addrlen)
        let allowed: Bool
        let text: String
        switch family {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            let ipv4 = socketAddress.loadUnaligned(as: sockaddr_in.self).sin_addr
            let bytes = withUnsafeBytes(of: ipv4) { Array($0) }  // network order: first octet first
            allowed = AddressPolicy.isPublic(ipv4: bytes[0], bytes[1], bytes[2], bytes[3])
            text = bytes.map(String.init).joined(separator: ".")
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            let ipv6 = socketAddress.loadUnaligned(as: sockaddr_in6.self).sin6_addr
            let bytes = withUnsafeBytes(of: ipv6) { Array($0) }
            allowed = AddressPolicy.isPublic(ipv6: bytes)
            text = "[" + stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":") + "]"
        default:
            allowed = false
            text = "an address of family \(family)"
        }
        guard allowed else {
            refusedAddress = text
            return -1
        }
        return socket(family, address.pointee.socktype, address.pointee.protocol)
    }

    private func received(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard body.count + bytes.count <= configuration.maximumResponseBytes else {
            tooLarge = true
            return 0  // aborts the transfer with CURLE_WRITE_ERROR
        }
        body.append(contentsOf: bytes)
        return bytes.count
    }

    private func receivedHeader(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            headers = []  // a new response (after a redirect or 100 Continue): keep only the final one's
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = String(line[line.index(after: colon)...].trimmingHTTPWhitespace)
        headers.append((name, value))
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
