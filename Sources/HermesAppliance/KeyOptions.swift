import ArgumentParser
import Crypto
import Foundation
import Logging

/// Where the credential encryption key comes from, in order of precedence.
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: ArgumentHelp(
        "File holding the credential encryption key(s): 32 bytes as hex or base64, one per line, newest first. Env: HERMES_KEY_FILE. Otherwise CREDENTIAL_ENCRYPTION_KEY (same format, comma-separated), then the systemd credential 'credential-encryption-key' ($CREDENTIALS_DIRECTORY), then, in development only, <state-dir>/credential-encryption.key (generated when missing).",
        valueName: "path"))
    var keyFile: String?

    static let systemdCredentialName = "credential-encryption-key"
    static let developmentKeyFileName = "credential-encryption.key"

    /// Loads the key ring, generating a development key when allowed.
    func loadKeyRing(
        environment: DeploymentEnvironment,
        stateDirectory: String,
        variables: [String: String],
        logger: Logger
    ) throws -> KeyRing {
        if let path = keyFile ?? variables["HERMES_KEY_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            logger.info("credential key loaded", metadata: ["key.source": "file", "key.path": "\(path)"])
            return try KeyRing(contentsOfFile: path)
        }
        if let text = variables["CREDENTIAL_ENCRYPTION_KEY"], !text.isEmpty {
            logger.info("credential key loaded", metadata: ["key.source": "CREDENTIAL_ENCRYPTION_KEY"])
            return try KeyRing(parsing: text)
        }
        if let directory = variables["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let path = directory + "/" + Self.systemdCredentialName
            if FileManager.default.fileExists(atPath: path) {
                logger.info("credential key loaded", metadata: ["key.source": "systemd credential", "key.path": "\(path)"])
                return try KeyRing(contentsOfFile: path)
            }
        }
        guard environment == .development else {
            throw ValidationError("""
                no credential encryption key: set CREDENTIAL_ENCRYPTION_KEY or --key-file (generate one with \
                `hermes keys generate`), or pass it as the systemd credential '\(Self.systemdCredentialName)'. \
                Production never generates a key by itself.
                """)
        }
        let path = stateDirectory + "/" + Self.developmentKeyFileName
        if FileManager.default.fileExists(atPath: path) {
            logger.warning("using the development credential key from the state directory; set CREDENTIAL_ENCRYPTION_KEY in production", metadata: ["key.path": "\(path)"])
            return try KeyRing(contentsOfFile: path)
        }
        let ring = try KeyRing.generate()
        try Self.writeSecretFile(path, contents: "# Hermes development credential encryption key. Without it, stored credentials cannot be opened.\n\(ring.newestKey.hexEncoded)\n")
        logger.warning("""
            GENERATED A NEW CREDENTIAL ENCRYPTION KEY because none was configured (development mode). \
            Anyone who can read this file can open every stored credential, and losing it loses them all: \
            back it up, and in production set CREDENTIAL_ENCRYPTION_KEY or --key-file instead.
            """, metadata: ["key.path": "\(path)"])
        return ring
    }

    /// Writes a file readable by its owner only, refusing to replace an existing one.
    static func writeSecretFile(_ path: String, contents: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
