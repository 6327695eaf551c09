import ArgumentParser
import Crypto
import Foundation
import HTTP2
import Hermes
import Logging
import Platforms
import ServiceLifecycle
import Store

/// `hermes serve`: runs the daemon until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: open the store and the key ring, start the background work, stop cleanly on SIGTERM or SIGINT."
    )

    @Option(help: ArgumentHelp("Address to listen on. Env: HERMES_HOST. Default: 127.0.0.1.", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on. Env: HERMES_PORT. Default: 8080.", valueName: "port"))
    var port: Int?

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var keyOptions: KeyOptions

    func run() async throws {
        let variables = ProcessInfo.processInfo.environment
        let environment = try storeOptions.resolvedEnvironment(variables)
        let host = self.host ?? variables["HERMES_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let port = try self.port ?? Self.port(from: variables["HERMES_PORT"])
        guard (1...65535).contains(port) else { throw ValidationError("--port/HERMES_PORT must be between 1 and 65535, not \(port)") }

        do {
            try CryptoLibrary.initialize()
        } catch {
            throw ValidationError("\(error)")
        }
        let (store, logger) = try storeOptions.openStore(label: "hermes")
        let stateDirectory = try storeOptions.resolvedStateDirectory(variables)
        let keyRing: KeyRing
        do {
            keyRing = try keyOptions.loadKeyRing(environment: environment, stateDirectory: stateDirectory, variables: variables, logger: logger)
        } catch {
            store.close()
            throw error
        }

        logger.info("hermes starting", metadata: [
            "version": "\(HermesVersion.current)",
            "environment": "\(environment.rawValue)",
            "state_dir": "\(stateDirectory)",
            "store.map_mib": "\(store.mapSize >> 20)",
            "key.count": "\(keyRing.keys.count)",
            "address": "\(host):\(port)",
            "lib.lmdb": "\(StoreLibrary.version)",
            "lib.sodium": "\(CryptoLibrary.version)",
            "lib.nghttp2": "\(NGHTTP2Library.version)",
            "lib.curl": "\(CurlLibrary.version)",
        ])

        let group = ServiceGroup(
            services: [SweeperService(store: store)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        logger.info("hermes ready")
        do {
            try await group.run()
        } catch {
            store.close()
            logger.error("hermes stopped after a failure", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        store.close()
        logger.info("hermes stopped cleanly", metadata: ["store.commits": "\(store.statistics.commits)"])
    }

    static func port(from text: String?) throws -> Int {
        guard let text, !text.isEmpty else { return 8080 }
        guard let port = Int(text) else { throw ValidationError("HERMES_PORT must be a number, not '\(text)'") }
        return port
    }
}

/// Deletes expired entries in the background until graceful shutdown.
struct SweeperService: Service {
    let store: Store

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await store.runSweeper()
        }
    }
}
