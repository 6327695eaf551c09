#if !FUZZING
import FuzzReplay
import Glibc

/// Without libFuzzer: replays the files (or folders of files) given as arguments, the regression run. An
/// `@main` type rather than main.swift: with `-parse-as-library` (the fuzz build) even an inactive
/// `#if` block may not hold top-level code.
@main
enum ReplayMain {
    static func main() {
        exit(replay(CommandLine.arguments.dropFirst(), harness: "FuzzJSON", check))
    }
}
#endif
