#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses the text form of credential keys (environment variable or key file).
///
/// Entries are separated by commas and whitespace; `#` starts a comment that runs to the end of the
/// line. An entry made only of hex digits is hex and must have 64 of them; anything else is base64,
/// standard or URL-safe (chosen by whether `-` or `_` appears), padded or not (by whether it ends in
/// `=`), and must decode to 32 bytes. The decoding itself is libsodium's constant-time hex and base64.
///
/// Errors name an entry by position (and line), never by content, and decoded bytes are wiped.
enum KeyText {
    static func parse(_ text: [UInt8], source: KeySource) throws(CryptoError) -> [MasterKey] {
        var keys: [MasterKey] = []
        var index = 0
        var line = 1
        var entry = 0
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "#") {
                while index < text.count, text[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            }
            if isSeparator(byte) {
                if byte == UInt8(ascii: "\n") { line += 1 }
                index += 1
                continue
            }
            let start = index
            while index < text.count, !isSeparator(text[index]), text[index] != UInt8(ascii: "#") { index += 1 }
            entry += 1
            keys.append(try decodeKey(text[start..<index], entry: entry, line: line, source: source))
        }
        guard !keys.isEmpty else { throw .noKey(in: source) }
        return keys
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
            0x0B, 0x0C:
            true
        default:
            false
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default:
            false
        }
    }

    private static func decodeKey(
        _ entryText: ArraySlice<UInt8>, entry: Int, line: Int, source: KeySource
    ) throws(CryptoError) -> MasterKey {
        let lineForMessage: Int? = if case .file = source { line } else { line > 1 ? line : nil }
        func invalid(_ reason: CryptoError.InvalidKeyReason) -> CryptoError {
            .invalidKey(entry: entry, line: lineForMessage, in: source, reason)
        }

        // Large enough for the hex or base64 decoding of the entry (both shrink their input).
        var decoded = [UInt8](repeating: 0, count: max(entryText.count, MasterKey.byteCount))
        defer { wipe(&decoded) }

        if entryText.allSatisfy(isHexDigit) {
            guard entryText.count == MasterKey.byteCount * 2 else { throw invalid(.hexDigitCount(entryText.count)) }
            guard Sodium.hexDecode(entryText, into: &decoded) == MasterKey.byteCount else {
                throw invalid(.notHexOrBase64)
            }
        } else {
            let urlSafe = entryText.contains(UInt8(ascii: "-")) || entryText.contains(UInt8(ascii: "_"))
            let padded = entryText.last == UInt8(ascii: "=")
            let variant: Base64.Variant =
                switch (urlSafe, padded) {
                case (false, true): .standard
                case (false, false): .standardUnpadded
                case (true, true): .urlSafe
                case (true, false): .urlSafeUnpadded
                }
            guard let count = Sodium.base64Decode(entryText, variant: variant, into: &decoded) else {
                throw invalid(.notHexOrBase64)
            }
            guard count == MasterKey.byteCount else { throw invalid(.decodedByteCount(count)) }
        }

        // Bound before returning, so the slice is gone when the deferred wipe runs on the unshared buffer.
        let key = try MasterKey(copying: decoded[0..<MasterKey.byteCount])
        return key
    }
}

/// Reads a key file into memory the caller wipes.
enum KeyFile {
    /// Key files hold a few keys and comments; anything larger is a mistake (a wrong path, say).
    static let maximumByteCount = 64 * 1024

    static func read(path: String) throws(CryptoError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .keyFileUnreadable(path: path, reason: errorText(errno)) }
        defer { _ = close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .keyFileUnreadable(path: path, reason: errorText(errno))
        }
        guard (status.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else {
            throw .keyFileUnreadable(path: path, reason: "it is not a regular file")
        }

        var bytes = [UInt8](repeating: 0, count: maximumByteCount + 1)
        var filled = 0
        while filled < bytes.count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                readFromDescriptor(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if result == 0 { break }
            if result < 0 {
                let code = errno
                if code == EINTR { continue }
                wipe(&bytes)
                throw .keyFileUnreadable(path: path, reason: errorText(code))
            }
            filled += result
        }
        guard filled <= maximumByteCount else {
            wipe(&bytes)
            throw .keyFileUnreadable(path: path, reason: "it is larger than 64 KiB, too large for a key file")
        }
        // Shrink in place: removeLast does not reallocate, so no unwiped copy is left behind.
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// `read(2)`, named apart from ``KeyFile/read(path:)``.
private func readFromDescriptor(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
