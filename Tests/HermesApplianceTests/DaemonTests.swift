import Foundation
import Store
import TestSupport
import Testing

@Suite("Daemon lifecycle and options")
struct DaemonTests {
    @Test func helpDescribesEveryCommandAndOption() async throws {
        let top = try await DaemonProcess.run(["--help"])
        #expect(top.status == 0)
        for command in ["serve", "customers", "backup", "keys", "version"] { #expect(top.output.contains(command)) }
        let customers = try await DaemonProcess.run(["customers", "--help"])
        for command in ["create", "list", "show", "disable", "enable", "set-plan", "rotate-key", "revoke-keys", "starter"] {
            #expect(customers.output.contains(command), "customers --help does not mention \(command)")
        }

        let serve = try await DaemonProcess.run(["serve", "--help"])
        #expect(serve.status == 0)
        for text in ["--host", "HERMES_HOST", "127.0.0.1", "--port", "HERMES_PORT", "8080", "--state-dir", "HERMES_STATE_DIR",
                     "./data", "--map-size", "HERMES_MAP_SIZE", "--key-file", "HERMES_KEY_FILE", "CREDENTIAL_ENCRYPTION_KEY",
                     "CREDENTIALS_DIRECTORY", "--environment", "HERMES_ENV", "--log-level", "HERMES_LOG_LEVEL", "--public-url", "HERMES_PUBLIC_URL",
                     "--tls-cert", "--threads"] {
            #expect(serve.output.contains(text), "serve --help does not mention \(text)")
        }
    }

    @Test func versionNamesTheLinkedLibraries() async throws {
        let result = try await DaemonProcess.run(["version"])
        #expect(result.status == 0)
        for library in ["hermes 0.", "lmdb 0.9", "libsodium 1.0", "nghttp2 1.", "libcurl 7."] {
            #expect(result.output.contains(library))
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func developmentStartGeneratesAKeyAndStopsCleanlyOnSignal(signal: Int32) async throws {
        let state = temporaryStateDirectory() + "/state"
        let daemon = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"])
        #expect(try await daemon.waitFor("hermes ready"))
        #expect(daemon.standardError.contains("GENERATED A NEW CREDENTIAL ENCRYPTION KEY"))
        let keyFile = state + "/credential-encryption.key"
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let keyHex = try String(contentsOfFile: keyFile, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        #expect(keyHex.count == 64)
        #expect(!daemon.standardError.contains(keyHex), "the key was logged")

        daemon.signal(signal)
        #expect(try await daemon.waitForExit() == 0)
        #expect(daemon.standardError.contains("hermes stopped cleanly"))

        // The next start reuses the key instead of generating another.
        let again = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"])
        #expect(try await again.waitFor("hermes ready"))
        #expect(again.standardError.contains("using the development credential key"))
        #expect(!again.standardError.contains("GENERATED"))
        again.signal(SIGTERM)
        #expect(try await again.waitForExit() == 0)
        #expect(try String(contentsOfFile: keyFile, encoding: .utf8).contains(keyHex))
    }

    @Test func productionWithoutAKeyRefusesToStart() async throws {
        let state = temporaryStateDirectory()
        let result = try await DaemonProcess.run(["serve", "--state-dir", state], environment: ["HERMES_ENV": "production"])
        #expect(result.status != 0)
        #expect(result.error.contains("CREDENTIAL_ENCRYPTION_KEY"))
        #expect(!FileManager.default.fileExists(atPath: state + "/credential-encryption.key"))
    }

    @Test func aKeyFromTheEnvironmentIsUsedAndNeverLogged() async throws {
        let state = temporaryStateDirectory()
        let key = String(repeating: "ab", count: 32)
        let daemon = try DaemonProcess(
            ["serve", "--log-level", "trace"],
            environment: ["HERMES_STATE_DIR": state, "HERMES_ENV": "production", "CREDENTIAL_ENCRYPTION_KEY": key, "HERMES_PORT": "0"]
        )
        #expect(try await daemon.waitFor("hermes ready"))
        #expect(daemon.standardError.contains("CREDENTIAL_ENCRYPTION_KEY"))
        #expect(daemon.standardError.contains("http server listening"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(!daemon.standardError.contains(key))
        #expect(!FileManager.default.fileExists(atPath: state + "/credential-encryption.key"))
    }

    @Test func aMalformedKeyIsRefusedWithoutEchoingIt() async throws {
        let bad = "not-a-key-\(UUID().uuidString)"
        let result = try await DaemonProcess.run(["serve", "--state-dir", temporaryStateDirectory()], environment: ["CREDENTIAL_ENCRYPTION_KEY": bad])
        #expect(result.status != 0)
        #expect(result.error.lowercased().contains("hex"))
        #expect(!result.error.contains(bad))
    }

    @Test func badOptionsAndAnUnwritableStateDirectoryAreExplained() async throws {
        let port = try await DaemonProcess.run(["serve", "--port", "70000", "--state-dir", temporaryStateDirectory()])
        #expect(port.status != 0)
        #expect(port.error.contains("between 1 and 65535"))
        let size = try await DaemonProcess.run(["serve", "--map-size", "lots", "--state-dir", temporaryStateDirectory()])
        #expect(size.status != 0)
        #expect(size.error.contains("--map-size"))
        let proxy = try await DaemonProcess.run(["serve", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "edge.example", "--state-dir", temporaryStateDirectory()])
        #expect(proxy.status != 0)
        #expect(proxy.error.contains("'edge.example' is not an IP address or CIDR range"), "\(proxy.error)")
        let unwritable = try await DaemonProcess.run(["serve", "--state-dir", "/proc/self"])
        #expect(unwritable.status != 0)
        #expect(unwritable.error.contains("not writable"))
    }

    @Test func aBackupIsTakenWhileTheDaemonRuns() async throws {
        let state = temporaryStateDirectory()
        let daemon = try DaemonProcess(["serve", "--state-dir", state, "--port", "0"])
        #expect(try await daemon.waitFor("hermes ready"))
        let backupFile = temporaryStateDirectory() + "/hermes.backup"
        let backup = try await DaemonProcess.run(["backup", "--state-dir", state, "--output", backupFile])
        #expect(backup.status == 0, "\(backup.error)")
        let copy = try Store(StoreConfiguration(location: .file(backupFile)))
        #expect(try copy.get(.meta, "no-such-key") == nil)
        copy.close()
        let again = try await DaemonProcess.run(["backup", "--state-dir", state, "--output", backupFile])
        #expect(again.status != 0)
        #expect(again.error.contains("already exists"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
    }

    @Test func aBackupOfADirectoryWithoutAStoreIsRefused() async throws {
        let empty = temporaryStateDirectory()
        let backupFile = temporaryStateDirectory() + "/hermes.backup"
        let backup = try await DaemonProcess.run(["backup", "--state-dir", empty, "--output", backupFile])
        #expect(backup.status != 0)
        #expect(backup.error.contains("there is no store in \(empty)"), "\(backup.error)")
        #expect(!FileManager.default.fileExists(atPath: empty + "/data.mdb"))
        #expect(!FileManager.default.fileExists(atPath: backupFile))
    }

    @Test func keysGenerateAndRotateFromTheCommandLine() async throws {
        let first = try await DaemonProcess.run(["keys", "generate"])
        let second = try await DaemonProcess.run(["keys", "generate"])
        let newKey = first.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(first.status == 0 && newKey.count == 64 && newKey != second.output.trimmingCharacters(in: .whitespacesAndNewlines))
        let state = temporaryStateDirectory()
        let oldKey = String(repeating: "01", count: 32)
        let rotated = try await DaemonProcess.run(["keys", "rotate", "--state-dir", state], environment: ["CREDENTIAL_ENCRYPTION_KEY": "\(newKey),\(oldKey)"])
        #expect(rotated.status == 0, "\(rotated.error)")
        #expect(rotated.error.contains("rotation.finished=true"))
    }
}

@Suite("Daemon HTTP")
struct DaemonHTTPTests {
    /// The port the daemon logged it listens on.
    static func port(of daemon: DaemonProcess) throws -> Int {
        let log = daemon.standardError
        guard let range = log.range(of: "http.address=127.0.0.1:") else { throw PortNotLogged() }
        return Int(log[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    struct PortNotLogged: Error {}

    /// One curl run; its exit status (nil when killed) and stdout.
    static func curl(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
        let result = try await ChildProcess.run("/usr/bin/curl", ["-s", "--max-time", "10"] + arguments, seconds: 30)
        return (result.status, result.output)
    }

    @Test func healthzAnswersOverHTTP1AndHTTP2AndIsLogged() async throws {
        let daemon = try DaemonProcess(["serve", "--state-dir", temporaryStateDirectory(), "--port", "0"])
        #expect(try await daemon.waitFor("hermes ready"))
        let port = try Self.port(of: daemon)
        #expect(port > 0)
        for flag in ["--http1.1", "--http2-prior-knowledge"] {
            let result = try await Self.curl([flag, "-H", "Authorization: Bearer very-secret-value", "http://127.0.0.1:\(port)/healthz?token=query-secret"])
            #expect(result.status == 0)
            #expect(result.output.contains("\"status\":\"ok\""))
            #expect(result.output.contains("\"store\":\"ok\""))
            #expect(result.output.contains("\"version\":\"0."))
        }
        let missing = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/nothing-here"])
        #expect(missing.output == "404")
        #expect(try await daemon.waitFor("http.protocol=HTTP/2"))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        let log = daemon.standardError
        #expect(log.contains("http.path=/healthz"))
        #expect(log.contains("http.status=404"))
        #expect(!log.contains("very-secret-value"))
        #expect(!log.contains("query-secret"))
    }
}
