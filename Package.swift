// swift-tools-version: 6.2
import PackageDescription

/// `NonisolatedNonsendingByDefault`: nonisolated async functions run on their caller's executor, no hop per call
/// (docs/adr/0007-nonisolated-nonsending-by-default.md).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

/// Per-request targets: no run-time exclusivity checks in release builds; debug builds (the tests) keep them
/// (docs/adr/0008-no-exclusivity-checks-in-release.md).
let perRequest: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "hermes-appliance",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hermes", targets: ["HermesAppliance"]),
        .executable(name: "hermes-bench", targets: ["HermesBenchmarks"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "Crypto", targets: ["Crypto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // C libraries from the system, one module map each (pkg-config names in parentheses).
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // llhttp, vendored from NIO's copy with its own symbol prefix
        // (docs/adr/0003-llhttp-driven-from-the-connection-handler.md).
        .target(name: "CLLHTTP"),

        // Named OS threads running a Swift closure, detached or joinable: the one place that hands a closure
        // to pthread_create.
        .target(name: "SystemThreads", swiftSettings: strict),
        .target(
            name: "Store",
            dependencies: ["CLMDB", "SystemThreads", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "Crypto", dependencies: ["CSodium"], swiftSettings: strict),
        // JSON values, a strict parser and a compact writer: MCP messages, OAuth documents, stored records.
        .target(name: "JSON", swiftSettings: perRequest),
        // Byte-level helpers for ASCII protocol text (trimming and matching header values), below every
        // module that reads headers, Platforms' HTTP client included.
        .target(name: "ASCIIText", swiftSettings: strict),
        .target(
            name: "HTTP2",
            dependencies: [
                "CNGHTTP2", "CLLHTTP", "JSON", "ASCIIText",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: perRequest
        ),
        // Outbound HTTP on libcurl: platform APIs and OAuth client metadata documents.
        // The router and middleware on top of the server: routes by method and path pattern, the server's
        // HTTPResponder.
        .target(name: "Routing", dependencies: ["HTTP2"], swiftSettings: perRequest),
        .target(name: "HTTPClient", dependencies: ["CCurl", "ASCIIText", "SystemThreads"], swiftSettings: strict),
        // Customers (who a request runs for), API keys, plans, usage metering and audit logs, on the store.
        .target(
            name: "Tenancy",
            dependencies: ["Store", "Crypto", "JSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),
        // Tools: definitions, the registry, JSON Schema validation of arguments, plan gating and dispatch.
        // MCP's tools/call and the REST tool endpoints both run tools through it.
        .target(
            name: "ToolRuntime",
            dependencies: ["JSON", "Tenancy", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),
        // MCP: JSON-RPC, the protocol methods, sessions, Streamable HTTP and legacy SSE transports.
        .target(
            name: "MCP",
            dependencies: ["JSON", "ASCIIText", "Crypto", "HTTP2", "Routing", "Tenancy", "ToolRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),
        // The OAuth 2.1 authorization server (metadata, registration, consent, tokens) on the router.
        .target(
            name: "OAuth",
            dependencies: ["Tenancy", "Store", "Crypto", "JSON", "HTTP2", "Routing", "HTTPClient", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The application: who may call (access gate, authenticators), credentials, the daemon's own tools
        // and endpoints, and the wiring of every route.
        .target(
            name: "Hermes",
            dependencies: ["Store", "Crypto", "JSON", "ASCIIText", "HTTP2", "Routing", "Tenancy", "ToolRuntime", "MCP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),

        // A swift-log handler that writes lines in batches instead of one write(2) per line.
        .target(
            name: "LogOutput",
            dependencies: ["SystemThreads", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),
        .executableTarget(
            name: "HermesAppliance",
            dependencies: [
                "Hermes", "MCP", "ToolRuntime", "Store", "Crypto", "HTTP2", "Routing", "HTTPClient", "Tenancy", "OAuth", "LogOutput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Writes to a store and reports every acknowledged write; the crash test kills it with SIGKILL.
        .executableTarget(name: "StoreCrashProbe", dependencies: ["Store"], swiftSettings: strict),
        .executableTarget(
            name: "HermesBenchmarks",
            dependencies: [
                "Store", "Crypto", "JSON", "HTTP2", "Routing", "Hermes", "MCP", "ToolRuntime", "Tenancy", "OAuth", "SystemThreads",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // libFuzzer harnesses, run by scripts/fuzz (built with -DFUZZING they export LLVMFuzzerTestOneInput). In a
        // normal build each replays the files given as arguments: FuzzRegressionTests runs the seed corpus and
        // every saved crash input through them.
        .target(name: "FuzzReplay", path: "FuzzTesting/Sources/FuzzReplay", swiftSettings: strict),
        .executableTarget(name: "FuzzJSON", dependencies: ["JSON", "FuzzReplay"], path: "FuzzTesting/Sources/FuzzJSON", swiftSettings: strict),
        .executableTarget(
            name: "FuzzHTTP1Parser",
            dependencies: ["HTTP2", "FuzzReplay", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
            path: "FuzzTesting/Sources/FuzzHTTP1Parser",
            swiftSettings: strict
        ),
        .executableTarget(name: "FuzzToolArguments", dependencies: ["JSON", "ToolRuntime", "FuzzReplay"], path: "FuzzTesting/Sources/FuzzToolArguments", swiftSettings: strict),

        // Child processes for the tests (posix_spawn, not Foundation's Process), shared by every test target.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),

        .testTarget(name: "StoreTests", dependencies: ["Store", "StoreCrashProbe", "CLMDB", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "TenancyTests", dependencies: ["Tenancy", "Store", "Crypto"], swiftSettings: strict),
        .testTarget(
            name: "OAuthTests",
            dependencies: ["OAuth", "Tenancy", "Store", "Crypto", "JSON", "HTTP2", "Routing", "HTTPClient", "TestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Clients"],
            swiftSettings: strict
        ),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"], swiftSettings: strict),
        .testTarget(name: "SystemThreadsTests", dependencies: ["SystemThreads"], swiftSettings: strict),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient"], swiftSettings: strict),
        .testTarget(name: "LogOutputTests", dependencies: ["LogOutput", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "HTTP2", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "ASCIITextTests", dependencies: ["ASCIIText"], swiftSettings: strict),
        // JSONTestSuite's parsing cases and real MCP messages compared with Foundation, read from their folders.
        .testTarget(name: "JSONTests", dependencies: ["JSON"], exclude: ["JSONTestSuite", "MCPCorpus"], swiftSettings: strict),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzJSON", "FuzzHTTP1Parser", "FuzzToolArguments", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "HTTP2Tests",
            dependencies: ["HTTP2", "Routing", "TestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Clients"],
            swiftSettings: strict
        ),
        .testTarget(name: "HermesTests", dependencies: ["Hermes", "MCP", "ToolRuntime", "Tenancy", "Store", "Crypto", "JSON", "HTTP2", "Routing", "TestSupport"], exclude: ["Clients"], swiftSettings: strict),
        .testTarget(
            name: "HermesApplianceTests",
            dependencies: ["HermesAppliance", "Hermes", "Store", "Crypto", "Tenancy", "HTTPClient", "TestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
