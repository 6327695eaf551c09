import Foundation
import Testing

@testable import Crypto

/// Parsing CREDENTIAL_ENCRYPTION_KEY and key files.
@Suite("Key parsing")
struct KeyParsingTests {
    /// 32 bytes whose standard base64 contains both `+` and `/`, so the variants differ.
    static let keyBytes: [UInt8] = Array([[UInt8]](repeating: [0xfb, 0xef, 0xff], count: 10).joined()) + [0xfe, 0xfd]
    static let otherBytes: [UInt8] = (0..<32).map { UInt8(255 - $0) }

    /// Standard base64 from Foundation, an implementation independent of the one under test.
    static var standardBase64: String { Data(keyBytes).base64EncodedString() }
    static var urlSafeBase64: String {
        standardBase64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    func parseError(_ text: String) -> CryptoError? {
        do {
            _ = try KeyRing(parsing: text)
            Issue.record("expected a CryptoError")
            return nil
        } catch {
            return error
        }
    }

    func fileError(_ path: String) -> CryptoError? {
        do {
            _ = try KeyRing(contentsOfFile: path)
            Issue.record("expected a CryptoError")
            return nil
        } catch {
            return error
        }
    }

    func withTemporaryFile<R>(_ contents: String, _ body: (String) throws -> R) throws -> R {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hermes-key-\(RandomToken.urlSafe(byteCount: 9)).txt")
        try Data(contents.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url.path)
    }

    @Test("the test key's encodings are what the test means them to be")
    func fixture() {
        #expect(Self.standardBase64 == "++//++//++//++//++//++//++//++//++//++///v0=")
        #expect(Self.urlSafeBase64 == "--__--__--__--__--__--__--__--__--__--___v0=")
    }

    @Test("one key in hex (either case), base64 or base64url, padded or not, gives the same key")
    func encodings() throws {
        let expected = try MasterKey(bytes: Self.keyBytes)
        let forms = [
            hex(Self.keyBytes),
            hex(Self.keyBytes).uppercased(),
            Self.standardBase64,
            String(Self.standardBase64.dropLast()),
            Self.urlSafeBase64,
            String(Self.urlSafeBase64.dropLast()),
            "  \(hex(Self.keyBytes))\n",
        ]
        for form in forms {
            let ring = try KeyRing(parsing: form)
            #expect(ring.keys.count == 1)
            #expect(ring.newestKey == expected, "\(form)")
        }
    }

    @Test("several keys separated by commas, whitespace or newlines keep their order, newest first")
    func severalKeys() throws {
        let first = hex(Self.keyBytes)
        let second = Data(Self.otherBytes).base64EncodedString()
        let texts = [
            "\(first),\(second)", "\(first) \(second)", "\(first)\n\(second)", " , \(first) ,\n\n\t\(second) ,",
        ]
        for text in texts {
            let ring = try KeyRing(parsing: text)
            #expect(ring.keys.count == 2)
            #expect(ring.newestKey == (try MasterKey(bytes: Self.keyBytes)))
            #expect(ring.keys[1] == (try MasterKey(bytes: Self.otherBytes)))
        }
    }

    @Test("hexEncoded round-trips through parsing")
    func hexExportRoundTrip() throws {
        let key = try MasterKey.generate()
        #expect(try KeyRing(parsing: key.hexEncoded).newestKey == key)
        #expect(key.hexEncoded.count == 64)
    }

    @Test("a key file with comments, blank lines and CRLF line ends parses")
    func keyFile() throws {
        let contents = """
            # Hermes credential encryption keys, newest first.\r
            \r
            \(hex(Self.keyBytes))   # added 2026-11-25\r
            # the previous key, kept until every credential is re-sealed
            \(Data(Self.otherBytes).base64EncodedString())

            """
        let ring = try withTemporaryFile(contents) { try KeyRing(contentsOfFile: $0) }
        #expect(ring.keys.count == 2)
        #expect(ring.newestKey == (try MasterKey(bytes: Self.keyBytes)))
        #expect(ring.keys[1] == (try MasterKey(bytes: Self.otherBytes)))
    }

    @Test("a key file with only comments gives noKey naming the file")
    func keyFileWithoutKey() throws {
        let failure = try withTemporaryFile("# nothing here yet\n\n") { fileError($0) }
        #expect(failure?.code == .noKey)
        #expect(failure?.description.contains("hermes-key-") == true)
    }

    @Test("a bad entry in a key file is named by entry and line, never by its text")
    func keyFileBadEntry() throws {
        let bad = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"  // 62 digits
        let failure = try withTemporaryFile("# keys\n\(hex(Self.keyBytes))\n\n\(bad)\n") { fileError($0) }
        #expect(failure?.code == .invalidKey)
        #expect(failure?.description.contains("entry 2 (line 4)") == true)
        #expect(failure?.description.contains(bad.prefix(12)) == false)
    }

    @Test("missing, directory and oversized key files give keyFileUnreadable")
    func unreadableFiles() throws {
        let missing = fileError("/nonexistent/hermes/credential.key")
        #expect(missing?.code == .keyFileUnreadable)
        #expect(missing?.description.contains("/nonexistent/hermes/credential.key") == true)
        #expect(missing?.description.contains("No such file") == true)

        #expect(fileError(FileManager.default.temporaryDirectory.path)?.code == .keyFileUnreadable)

        let huge = String(repeating: "# padding padding padding padding padding padding\n", count: 2000)
        let oversized = try withTemporaryFile(huge + hex(Self.keyBytes)) { fileError($0) }
        #expect(oversized?.code == .keyFileUnreadable)
        #expect(oversized?.description.contains("64 KiB") == true)
    }

    @Test("empty text, whitespace and comments only give noKey with a way to make a key")
    func empty() {
        for text in ["", "   ", "\n\n", " , , ", "# CREDENTIAL_ENCRYPTION_KEY goes here"] {
            let failure = parseError(text)
            #expect(failure?.code == .noKey, "\(text.debugDescription)")
            #expect(failure?.description.contains("openssl rand -hex 32") == true)
        }
    }

    struct BadKey: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let entry: Int
        let says: String
        var testDescription: String { name }
    }

    static let badKeys: [BadKey] = [
        BadKey(
            name: "62 hex digits", text: String(hex((0..<32).map { UInt8($0 | 0xa0) }).dropLast(2)), entry: 1,
            says: "has 62 hex digits"
        ),
        BadKey(
            name: "66 hex digits", text: hex((0..<33).map { UInt8($0 | 0xa0) }), entry: 1, says: "has 66 hex digits"
        ),
        BadKey(
            name: "base64 of 16 bytes", text: Data((0..<16).map { UInt8($0 * 7) }).base64EncodedString(), entry: 1,
            says: "base64 of 16 bytes"
        ),
        BadKey(
            name: "base64 of 48 bytes", text: Data((0..<48).map { UInt8($0 * 5) }).base64EncodedString(), entry: 1,
            says: "base64 of 48 bytes"
        ),
        BadKey(
            name: "characters of neither alphabet",
            text: "s3cr3t!p@ssw0rd-that-is-not-a-key-at-all!!", entry: 1, says: "neither 64 hex digits nor base64"
        ),
        BadKey(
            name: "mixed base64 alphabets",
            text: "+/-_" + String(Self.urlSafeBase64.dropFirst(4)), entry: 1, says: "neither 64 hex digits nor base64"
        ),
        BadKey(
            name: "bad second entry",
            text: hex(Self.keyBytes) + ",hunter2hunter2hunter2", entry: 2, says: "neither 64 hex digits nor base64"
        ),
        BadKey(
            name: "base64 with broken padding",
            text: String(Self.standardBase64.dropLast(2)) + "==", entry: 1, says: "neither 64 hex digits nor base64"
        ),
    ]

    @Test("bad keys give invalidKey naming the entry and the expected format, never the input", arguments: badKeys)
    func badKey(_ bad: BadKey) {
        let failure = parseError(bad.text)
        #expect(failure?.code == .invalidKey)
        let message = failure?.description ?? ""
        #expect(message.contains("entry \(bad.entry)"), "\(message)")
        #expect(message.contains(bad.says), "\(message)")
        #expect(message.contains("openssl rand -hex 32"))
        // Neither the whole bad entry nor any 8-character piece of it appears in the message.
        let entryText = bad.text.split(separator: ",").last.map(String.init) ?? bad.text
        let characters = Array(entryText)
        for start in stride(from: 0, through: max(0, characters.count - 8), by: 1) {
            let piece = String(characters[start..<min(start + 8, characters.count)])
            #expect(!message.contains(piece), "message contains \(piece)")
        }
    }

    @Test("MasterKey(bytes:) rejects anything but 32 bytes")
    func rawBytes() {
        for count in [0, 16, 31, 33, 64] {
            do {
                _ = try MasterKey(bytes: [UInt8](repeating: 7, count: count))
                Issue.record("\(count) bytes were accepted")
            } catch {
                #expect(error.code == .invalidKey)
                #expect(error.description.contains("\(count) bytes"))
            }
        }
    }
}
