import ArgumentParser
import Crypto
import Foundation
import HTTP2
import Routing
import Hermes
import Logging
import OAuth
import HTTPClient
import MCP
import ToolRuntime
import ServiceLifecycle
import Store
import Tenancy

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

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain; with --tls-key the server speaks TLS and negotiates h2 or http/1.1 (ALPN). Env: HERMES_TLS_CERT. Default: plain HTTP.", valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key for --tls-cert. Env: HERMES_TLS_KEY.", valueName: "file"))
    var tlsKey: String?

    @Option(name: .customLong("public-url"), help: ArgumentHelp("The URL clients reach this server at (https://hermes.example.com): the OAuth issuer and the resource MCP tokens are for. Env: HERMES_PUBLIC_URL. Default: http://<host>:<port>.", valueName: "url"))
    var publicURL: String?

    @Option(help: ArgumentHelp("Event-loop threads serving HTTP. Env: HERMES_THREADS. Default: one per core.", valueName: "count"))
    var threads: Int?

    @Option(name: .customLong("trusted-proxy"), help: ArgumentHelp("A reverse proxy (address or CIDR range, repeatable) whose X-Forwarded-For names the client, for per-address limits and logs. Env: HERMES_TRUSTED_PROXIES (comma-separated). Default: none.", valueName: "address"))
    var trustedProxies: [String] = []

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var keyOptions: KeyOptions

    /// `--trusted-proxy` (repeated) or `HERMES_TRUSTED_PROXIES`; an entry that is not an address or range is an error.
    func resolvedTrustedProxies(_ variables: [String: String]) throws -> TrustedProxies {
        let entries = trustedProxies.isEmpty
            ? (variables["HERMES_TRUSTED_PROXIES"] ?? "").split(separator: ",").map(String.init)
            : trustedProxies
        do {
            return try TrustedProxies(entries)
        } catch {
            throw ValidationError("--trusted-proxy/HERMES_TRUSTED_PROXIES: \(error)")
        }
    }

    func run() async throws {
        let variables = ProcessInfo.processInfo.environment
        let environment = try storeOptions.resolvedEnvironment(variables)
        let trustedProxies = try resolvedTrustedProxies(variables)
        let host = self.host ?? variables["HERMES_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let port = try self.port ?? Self.port(from: variables["HERMES_PORT"])
        guard (0...65535).contains(port) else { throw ValidationError("--port/HERMES_PORT must be between 1 and 65535 (or 0 for any free port), not \(port)") }

        do {
            try CryptoLibrary.initialize()
        } catch {
            throw ValidationError("\(error)")
        }
        let (store, logger) = try storeOptions.openStore(label: "hermes")
        // The one place the store closes: after the service group has stopped, or on any failure before.
        defer { store.close() }
        let stateDirectory = try storeOptions.resolvedStateDirectory(variables)
        let keyRing = try keyOptions.loadKeyRing(environment: environment, stateDirectory: stateDirectory, variables: variables, logger: logger)

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

        let server = HTTPServer(
            configuration: HTTPServerConfiguration(
                host: host, port: port, tls: try tlsConfiguration(variables),
                eventLoopThreads: try threads ?? Self.positiveInteger(variables["HERMES_THREADS"], name: "HERMES_THREADS"),
                trustedProxies: trustedProxies
            ),
            logger: logger
        )
        let boundPort: Int
        do {
            boundPort = try await server.bind()
        } catch {
            throw ValidationError("cannot listen on \(host):\(port): \(error)")
        }
        let resource = ProtectedResource(publicURL: try resolvedPublicURL(variables, host: host, port: boundPort))
        logger.info("public url", metadata: ["http.public_url": "\(resource.publicURL)"])
        if publicURL == nil, (variables["HERMES_PUBLIC_URL"] ?? "").isEmpty, ["0.0.0.0", "::"].contains(host) {
            logger.warning("no --public-url/HERMES_PUBLIC_URL: OAuth metadata names \(resource.publicURL), which clients cannot reach; set the URL they use")
        }
        let directory = CustomerDirectory(store: store)
        let meter = UsageMeter(store: store, logger: logger)
        let singleUser = StaticAPIKeyAuthenticator(
            apiKey: variables["MCP_API_KEY"],
            customer: Customer(id: "single-user", kind: .singleUser, plan: "single-user", displayName: "single user", credentials: EnvironmentCredentials(variables))
        )
        if try directory.hasCustomers() {
            let count = try directory.list().count
            logger.info("serving customers: requests need a customer API key or an OAuth token", metadata: ["customers": "\(count)"])
        } else if !singleUser.isConfigured {
            logger.warning("MCP_API_KEY is not set and no customer exists: /mcp, /sse and /api refuse every request until one of them is (`hermes customers create`)")
        }
        let oauth: OAuthServer
        do {
            oauth = try OAuthServer(
                configuration: OAuthConfiguration(issuer: resource.publicURL), store: store, directory: directory,
                audit: AuditLog(store: store, logger: logger), logger: logger
            )
        } catch {
            throw ValidationError("\(error)")
        }
        let authenticator = TenantAuthenticator(
            directory: directory, meter: meter, tokens: oauth, singleUser: singleUser,
            resource: resource, credentials: CredentialVault(store: store, keyRing: keyRing)
        )
        var mcpConfiguration = MCPConfiguration.fromEnvironment(variables)
        // Customers by their plan; the single user has the whole server (held to it by MCPConfiguration).
        mcpConfiguration.sessionLimit = { caller in
            caller.kind == .singleUser ? .max : Plan.limits(for: caller.plan).maximumMCPSessions
        }

        var router = Router()
        HealthEndpoint(store: store).register(in: &router)
        oauth.register(in: &router)
        let tools = ToolRuntime(registry: try BuiltinTools.registry(store: store), admission: MeteredToolCalls(meter: meter), logger: logger)
        MCPEndpoint(tools: tools, configuration: mcpConfiguration, serverVersion: HermesVersion.current, logger: logger)
            .register(in: &router, authenticator: authenticator, logger: logger)
        let apiGate = AccessGate(allowedOrigins: mcpConfiguration.allowedOrigins, authenticator: authenticator, style: .plain, logger: logger)
        router.use(apiGate, on: ["/api"])
        UsageEndpoint(meter: meter).register(in: &router, gate: apiGate)
        do {
            try await server.start(router: router)
        } catch {
            throw ValidationError("cannot serve on \(host):\(port): \(error)")
        }

        let group = ServiceGroup(
            services: [SweeperService(store: store), UsageMeterService(meter: meter), HTTPServerService(server: server), ReadinessAnnouncer(logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        do {
            try await group.run()
        } catch {
            logger.error("hermes stopped after a failure", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        logger.info("hermes stopped cleanly", metadata: ["store.commits": "\(store.statistics.commits)"])
    }

    func tlsConfiguration(_ variables: [String: String]) throws -> HTTPServerConfiguration.TLS? {
        let certificate = tlsCertificate ?? variables["HERMES_TLS_CERT"].flatMap { $0.isEmpty ? nil : $0 }
        let key = tlsKey ?? variables["HERMES_TLS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (certificate, key) {
        case (nil, nil): return nil
        case (let certificate?, let key?): return .init(certificateChainPath: certificate, privateKeyPath: key)
        default: throw ValidationError("--tls-cert and --tls-key go together: give both PEM files, or neither for plain HTTP")
        }
    }

    func resolvedPublicURL(_ variables: [String: String], host: String, port: Int) throws -> String {
        guard let text = publicURL ?? variables["HERMES_PUBLIC_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "http://\(shownHost):\(port)"
        }
        let lowered = text.lowercased()
        guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://"), !text.contains("?"), !text.contains("#"), text.count > 8 else {
            throw ValidationError("--public-url/HERMES_PUBLIC_URL must be an http(s) URL without query or fragment, such as https://hermes.example.com, not '\(text)'")
        }
        return text
    }

    static func positiveInteger(_ text: String?, name: String) throws -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = Int(text), value > 0 else { throw ValidationError("\(name) must be a positive number, not '\(text)'") }
        return value
    }

    static func port(from text: String?) throws -> Int {
        guard let text, !text.isEmpty else { return 8080 }
        guard let port = Int(text) else { throw ValidationError("HERMES_PORT must be a number, not '\(text)'") }
        return port
    }
}

/// Serves HTTP until graceful shutdown, then drains connections.
struct HTTPServerService: Service {
    let server: HTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        await server.shutdown()
    }
}

/// Logs "hermes ready" once the service group's signal handlers are in place, so a supervisor (or a test)
/// that signals the daemon as soon as it reads the line always gets a graceful shutdown.
///
/// The group registers its SIGTERM and SIGINT sources with libdispatch, which installs the actual handlers
/// asynchronously; until then a signal would still take its default action.
struct ReadinessAnnouncer: Service {
    let logger: Logger

    func run() async throws {
        for _ in 0..<2_000 where !Self.shutdownSignalsAreHandled() {
            try? await Task.sleep(for: .milliseconds(1))
        }
        logger.info("hermes ready")
        try? await gracefulShutdown()
    }

    /// Whether SIGTERM and SIGINT are caught, read from the kernel's own account (`SigCgt` in
    /// `/proc/self/status`, proc(5)) rather than from the C library's `sigaction` layout.
    static func shutdownSignalsAreHandled() -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let caught = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return true }
        return [SIGTERM, SIGINT].allSatisfy { caught & (1 << UInt64($0 - 1)) != 0 }
    }
}

/// Writes usage counters every second; once more on shutdown.
struct UsageMeterService: Service {
    let meter: UsageMeter

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await meter.run()
        }
        try? await meter.flush()
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
