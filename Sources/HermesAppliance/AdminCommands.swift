import ArgumentParser
import Crypto
import Foundation
import HTTP2
import Hermes
import HTTPClient
import Store

/// `hermes backup`: a compacted hot copy of the store, safe while the daemon runs.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a compacted, consistent copy of the store to a file while the daemon keeps running.",
        discussion: "Restore by stopping the daemon and moving the file to <state-dir>/data.mdb, or open it directly: `hermes serve --state-dir` of a directory holding it as data.mdb."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The backup file to write (must not exist).", valueName: "file"))
    var output: String

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: output) else {
            throw ValidationError("\(output) already exists; choose a new file name so no backup is overwritten")
        }
        _ = try storeOptions.existingStoreDirectory(ProcessInfo.processInfo.environment)
        let (store, logger) = try storeOptions.openStore(label: "hermes.backup")
        defer { store.close() }
        try await store.backup(to: output)
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        logger.info("backup written", metadata: ["backup.path": "\(output)", "backup.bytes": "\(size)"])
    }
}

/// `hermes keys`: credential encryption keys.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate credential encryption keys and re-seal stored credentials under the newest key.",
        subcommands: [Generate.self, Rotate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random 32-byte key as hex, for CREDENTIAL_ENCRYPTION_KEY or a key file."
        )

        func run() throws {
            try CryptoLibrary.initialize()
            print(try KeyRing.generate().newestKey.hexEncoded)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every stored credential under the newest key of the ring.",
            discussion: """
                Put the new key first and keep the old ones after it (CREDENTIAL_ENCRYPTION_KEY="new,old" or one \
                per line in the key file), restart the daemon with that ring, then run this. It works in batches, \
                may run while the daemon serves, and continues where it stopped if interrupted. When it reports \
                that every credential is current, the old keys can be removed.
                """
        )

        @Option(help: "Credentials re-sealed per write transaction.")
        var batchSize: Int = 256

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var keyOptions: KeyOptions

        func run() async throws {
            try CryptoLibrary.initialize()
            let variables = ProcessInfo.processInfo.environment
            let (store, logger) = try storeOptions.openStore(label: "hermes.keys")
            defer { store.close() }
            let ring = try keyOptions.loadKeyRing(
                environment: try storeOptions.resolvedEnvironment(variables),
                stateDirectory: try storeOptions.resolvedStateDirectory(variables),
                variables: variables,
                logger: logger
            )
            let report = try await CredentialVault(store: store, keyRing: ring).rotate(batchSize: batchSize)
            logger.info("rotation finished", metadata: [
                "rotation.resealed": "\(report.resealed)",
                "rotation.already_current": "\(report.alreadyCurrent)",
                "rotation.finished": "\(report.finished)",
            ])
        }
    }
}

/// `hermes version`: this build and the C libraries it loaded.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version of hermes and of the libraries it loaded."
    )

    func run() throws {
        print("hermes \(HermesVersion.current)")
        print("lmdb \(StoreLibrary.version)")
        print("libsodium \(CryptoLibrary.version)")
        print("nghttp2 \(NGHTTP2Library.version)")
        print("libcurl \(CurlLibrary.version)")
    }
}
