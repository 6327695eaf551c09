import ArgumentParser
import Foundation
import LogOutput
import Logging
import Store

/// How the daemon is deployed; production refuses to invent secrets.
enum DeploymentEnvironment: String, ExpressibleByArgument, CaseIterable, Sendable {
    case development
    case production
}

/// Options every command that opens the store shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Directory holding the LMDB store (and, in development, the generated key). Env: HERMES_STATE_DIR. Default: ./data in development, /var/lib/hermes in production.",
        valueName: "path"))
    var stateDirectory: String?

    @Option(name: .customLong("map-size"), help: ArgumentHelp(
        "The most the store may grow to, e.g. 512M, 16G. The map starts at 1G (or this, if smaller) and grows on demand; when full, writes fail with a clear error. Env: HERMES_MAP_SIZE. Default: 16G.",
        valueName: "size"))
    var mapSize: String?

    @Option(name: .customLong("environment"), help: ArgumentHelp(
        "development or production. Production never generates a key and defaults the state directory to /var/lib/hermes. Env: HERMES_ENV. Default: development.",
        valueName: "name"))
    var environment: DeploymentEnvironment?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "trace, debug, info, notice, warning, error or critical. Env: HERMES_LOG_LEVEL. Default: info.",
        valueName: "level"))
    var logLevel: String?

    func resolvedEnvironment(_ variables: [String: String]) throws -> DeploymentEnvironment {
        if let environment { return environment }
        guard let text = variables["HERMES_ENV"], !text.isEmpty else { return .development }
        guard let value = DeploymentEnvironment(rawValue: text.lowercased()) else {
            throw ValidationError("HERMES_ENV must be development or production, not '\(text)'")
        }
        return value
    }

    func resolvedStateDirectory(_ variables: [String: String]) throws -> String {
        if let stateDirectory { return stateDirectory }
        if let value = variables["HERMES_STATE_DIR"], !value.isEmpty { return value }
        return try resolvedEnvironment(variables) == .production ? "/var/lib/hermes" : "./data"
    }

    func resolvedMapSize(_ variables: [String: String]) throws -> Int {
        let text = mapSize ?? variables["HERMES_MAP_SIZE"] ?? "16G"
        guard let bytes = ByteSize.parse(text), bytes >= 1 << 20 else {
            throw ValidationError("--map-size/HERMES_MAP_SIZE must be a size of at least 1M such as 512M or 16G, not '\(text)'")
        }
        return bytes
    }

    func resolvedLogLevel(_ variables: [String: String]) throws -> Logger.Level {
        let text = logLevel ?? variables["HERMES_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("--log-level/HERMES_LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
        }
        return level
    }

    /// The state directory, refusing one that holds no store: commands that only read or copy a store
    /// must not create an empty one in a mistyped directory and report success.
    func existingStoreDirectory(_ variables: [String: String]) throws -> String {
        let directory = try resolvedStateDirectory(variables)
        guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
            throw ValidationError("there is no store in \(directory); give the daemon's state directory with --state-dir (or HERMES_STATE_DIR), or start `hermes serve` once to create it")
        }
        return directory
    }

    /// Sets up logging and opens the store.
    func openStore(label: String) throws -> (Store, Logger) {
        let variables = ProcessInfo.processInfo.environment
        let level = try resolvedLogLevel(variables)
        LoggingSystem.bootstrap { name in
            var handler = BatchedLogHandler(label: name)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: label)
        let directory = try resolvedStateDirectory(variables)
        let maximum = try resolvedMapSize(variables)
        let configuration = StoreConfiguration(
            location: .directory(directory),
            mapSize: min(1 << 30, maximum),
            maximumMapSize: maximum
        )
        return (try Store(configuration, logger: logger), logger)
    }
}

/// Sizes written as a number with an optional K, M, G or T suffix (powers of 1024).
enum ByteSize {
    static func parse(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        let shift: Int
        switch digits.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        case "T": shift = 40
        default: shift = 0
        }
        if shift > 0 { digits.removeLast() }
        guard let value = Int(digits), value > 0, value <= Int.max >> shift else { return nil }
        return value << shift
    }
}
