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

switch command {
case "store":
    let rest = Array(arguments.dropFirst())
    if rest.contains("-h") || rest.contains("--help") {
        writeStandardOutput(StoreBenchmarkOptions.usage)
        exit(0)
    }
    do {
        let options = try StoreBenchmarkOptions.parse(rest)
        exit(try await StoreBenchmark(options: options).run())
    } catch {
        Reporter(descriptor: 2).line("hermes-bench: \(error)")
        exit(1)
    }
case "auth":
    do {
        let rest = Array(arguments.dropFirst())
        if rest.contains("-h") || rest.contains("--help") {
            writeStandardOutput(AuthBenchmark.usage)
            exit(0)
        }
        exit(try await AuthBenchmark(arguments: rest).run())
    } catch {
        Reporter(descriptor: 2).line("hermes-bench: \(error)")
        exit(1)
    }
case "nio-floor":
    do {
        let rest = Array(arguments.dropFirst())
        if rest.contains("-h") || rest.contains("--help") {
            writeStandardOutput(NIOFloorServer.usage)
            exit(0)
        }
        exit(try await NIOFloorServer(arguments: rest).run())
    } catch {
        Reporter(descriptor: 2).line("hermes-bench: \(error)")
        exit(1)
    }
default:
    Reporter(descriptor: 2).line("hermes-bench: unknown benchmark \(command)\n\n\(generalUsage)")
    exit(2)
}
