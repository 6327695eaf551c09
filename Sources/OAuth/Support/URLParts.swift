/// The parts of an absolute URL that redirect-URI and client-id checks need. Deliberately strict: the
/// URLs compared here are matched exactly (loopback redirect URIs part by part, ignoring the port), so
/// this only has to recognise well-formed ones.
struct URLParts: Equatable {
    var scheme: String
    /// Host as written, lower-cased; an IPv6 literal keeps its brackets.
    var host: String
    var port: Int?
    /// Path, query and fragment as written (may be empty).
    var path: String
    var hasFragment: Bool
    var hasUserInfo: Bool

    init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].hasPrefix("//") else { return nil }
        scheme = text[..<colon].lowercased()
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }) else { return nil }
        guard !text.contains(where: { $0.isWhitespace || $0 == "\\" }), text.allSatisfy(\.isASCII) else { return nil }
        let rest = text[text.index(colon, offsetBy: 3)...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        path = String(rest[authorityEnd...])
        hasFragment = path.contains("#")
        hasUserInfo = authority.contains("@")
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close].lowercased()
            let after = authority[authority.index(after: close)...]
            if after.isEmpty { port = nil } else {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()), (1...65535).contains(number) else { return nil }
                port = number
            }
        } else if let portColon = authority.lastIndex(of: ":") {
            host = authority[..<portColon].lowercased()
            guard let number = Int(authority[authority.index(after: portColon)...]), (1...65535).contains(number) else { return nil }
            port = number
        } else {
            host = authority.lowercased()
            port = nil
        }
        guard !host.isEmpty else { return nil }
    }

    /// Loopback hosts a native client may listen on with plain http (RFC 8252 section 7.3).
    var isLoopback: Bool { host == "localhost" || host == "127.0.0.1" || host == "[::1]" }

    /// `host` or `host:port`, for showing a person where they will be sent.
    var displayHost: String { port.map { "\(host):\($0)" } ?? host }
}
