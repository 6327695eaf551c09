import Glibc

// hermes-bench: performance measurements of Hermes Appliance's foundations.
//
//   hermes-bench store [--json] [options]     (see `hermes-bench store --help`)

let arguments = Array(CommandLine.arguments.dropFirst())
let generalUsage = """
    usage: hermes-bench <benchmark> [options]

    benchmarks:
      store    the LMDB store: gets, puts, durable appends, credential resolves, expiry sweeps
      auth     what the auth step and metering add to a request (API key, OAuth bearer)
      nio-floor  SwiftNIO's own HTTP/1.1 server answering a constant body: the reference for bench-mcp.sh

    Run `hermes-bench store --help` for its options.
    """

guard let command = arguments.first, command != "-h", command != "--help" else {
    writeStandardOutput(generalUsage)
    exit(arguments.isEmpty ? 2 : 0)
}

/// Runs the benchmark `command` names with the arguments after it: its usage for `-h`/`--help`, otherwise its
/// exit code, or its error on stderr.
func runBenchmark(usage: String, _ run: ([String]) async throws -> Int32) async -> Never {
    let rest = Array(arguments.dropFirst())
    if rest.contains("-h") || rest.contains("--help") {
        writeStandardOutput(usage)
        exit(0)
    }
    do {
        exit(try await run(rest))
    } catch {
        Reporter(descriptor: 2).line("hermes-bench: \(error)")
        exit(1)
    }
}

switch command {
case "store":
    await runBenchmark(usage: StoreBenchmarkOptions.usage) { try await StoreBenchmark(options: StoreBenchmarkOptions.parse($0)).run() }
case "auth":
    await runBenchmark(usage: AuthBenchmark.usage) { try await AuthBenchmark(arguments: $0).run() }
case "nio-floor":
    await runBenchmark(usage: NIOFloorServer.usage) { try await NIOFloorServer(arguments: $0).run() }
default:
    Reporter(descriptor: 2).line("hermes-bench: unknown benchmark \(command)\n\n\(generalUsage)")
    exit(2)
}
