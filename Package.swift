// swift-tools-version: 6.2
import PackageDescription

/// `NonisolatedNonsendingByDefault` (SE-0461): a nonisolated async function runs on its caller's executor.
/// The daemon has no actors and its request tasks prefer their connection's event loop, so this changes
/// where nothing runs; it removes an executor hop at every async call, each of which looked up the task's
/// preferred executor under a lock (about 3 % of an MCP tools/call).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

/// Targets on the per-request path: release builds leave out the run-time exclusivity checks (every access
/// to a class's stored property otherwise records itself in a thread-local set). Debug builds, which the
/// tests run, keep them, so a violation still shows there.
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
        // llhttp, the HTTP/1.1 parser NIO embeds, vendored with its own symbol prefix: the HTTP/1.1 connection
        // handler drives it directly instead of through NIO's decoder stage (see Sources/CLLHTTP).
        .target(name: "CLLHTTP"),

        .target(
            name: "Store",
            dependencies: ["CLMDB", .product(name: "Logging", package: "swift-log")],
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
        .target(name: "HTTPClient", dependencies: ["CCurl", "ASCIIText"], swiftSettings: strict),
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
            dependencies: ["JSON", "ASCIIText", "Crypto", "HTTP2", "Tenancy", "ToolRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),
        // The OAuth 2.1 authorization server (metadata, registration, consent, tokens) on the router.
        .target(
            name: "OAuth",
            dependencies: ["Tenancy", "Store", "Crypto", "JSON", "HTTP2", "HTTPClient", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The application: who may call (access gate, authenticators), credentials, the daemon's own tools
        // and endpoints, and the wiring of every route.
        .target(
            name: "Hermes",
            dependencies: ["Store", "Crypto", "JSON", "ASCIIText", "HTTP2", "Tenancy", "ToolRuntime", "MCP", "OAuth", .product(name: "Logging", package: "swift-log")],
            swiftSettings: perRequest
        ),

        // A swift-log handler that writes lines in batches instead of one write(2) per line.
        .target(name: "LogOutput", dependencies: [.product(name: "Logging", package: "swift-log")], swiftSettings: perRequest),
        .executableTarget(
            name: "HermesAppliance",
            dependencies: [
                "Hermes", "MCP", "ToolRuntime", "Store", "Crypto", "HTTP2", "HTTPClient", "Tenancy", "OAuth", "LogOutput",
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
                "Store", "Crypto", "JSON", "HTTP2", "Hermes", "MCP", "ToolRuntime", "Tenancy", "OAuth", .product(name: "Logging", package: "swift-log"),
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
            dependencies: ["OAuth", "Tenancy", "Store", "Crypto", "JSON", "HTTP2", "HTTPClient", "TestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Clients"],
            swiftSettings: strict
        ),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"], swiftSettings: strict),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient"], swiftSettings: strict),
        .testTarget(name: "LogOutputTests", dependencies: ["LogOutput", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "ASCIITextTests", dependencies: ["ASCIIText"], swiftSettings: strict),
        // JSONTestSuite's parsing cases and real MCP messages compared with Foundation, read from their folders.
        .testTarget(name: "JSONTests", dependencies: ["JSON"], exclude: ["JSONTestSuite", "MCPCorpus"], swiftSettings: strict),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzJSON", "FuzzHTTP1Parser", "FuzzToolArguments", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "HTTP2Tests",
            dependencies: ["HTTP2", "TestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Clients"],
            swiftSettings: strict
        ),
        .testTarget(name: "HermesTests", dependencies: ["Hermes", "MCP", "ToolRuntime", "Tenancy", "Store", "Crypto", "JSON", "HTTP2", "TestSupport"], exclude: ["Clients"], swiftSettings: strict),
        .testTarget(
            name: "HermesApplianceTests",
            dependencies: ["HermesAppliance", "Hermes", "Store", "Crypto", "Tenancy", "HTTPClient", "TestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
