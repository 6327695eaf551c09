import Glibc
import Synchronization
import SystemThreads

// MARK: - Clock

/// Monotonic nanoseconds (`clock_gettime(CLOCK_MONOTONIC)`, a vDSO call on Linux: no system call).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}

func inSeconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }

// MARK: - Random numbers

/// SplitMix64: fast, deterministic, good enough to pick keys.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    @inline(__always)
    mutating func next(below bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

// MARK: - Statistics

/// Latency percentiles (nearest rank) of a set of samples in nanoseconds.
struct LatencySummary: Sendable {
    var count: Int
    var median: UInt64
    var p99: UInt64
    var p999: UInt64
    var maximum: UInt64
    var mean: Double

    init(_ samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func rank(_ fraction: Double) -> UInt64 {
            guard !sorted.isEmpty else { return 0 }
            let index = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
            return sorted[min(max(index, 0), sorted.count - 1)]
        }
        median = rank(0.5)
        p99 = rank(0.99)
        p999 = rank(0.999)
        maximum = sorted.last ?? 0
        mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

// MARK: - Formatting (no Foundation)

/// `x` with `decimals` digits after the point.
func fixed(_ x: Double, _ decimals: Int = 1) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(x) * scale).rounded()
    let whole = scaled / scale
    let integer = UInt64(whole.rounded(.down))
    var text = (x < 0 && scaled != 0 ? "-" : "") + String(integer)
    if decimals > 0 {
        let fraction = UInt64(scaled - Double(integer) * scale)
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: max(0, decimals - digits.count)) + digits
    }
    return text
}

/// An integer rate with thousands separators: `1,234,567`.
func grouped(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    let digits = String(Int64(x.rounded()).magnitude)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return (x < 0 ? "-" : "") + out
}

func microseconds(_ nanoseconds: UInt64) -> String { fixed(Double(nanoseconds) / 1000, 2) + " µs" }

func milliseconds(_ nanoseconds: UInt64) -> String { fixed(Double(nanoseconds) / 1e6, 2) + " ms" }

func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

// MARK: - JSON (flat objects, insertion order kept)

enum JSONValue: Sendable {
    case number(Double)
    case integer(Int64)
    case bool(Bool)
    case string(String)
    case object(JSONObject)
    case array([JSONValue])

    func render(indent: Int) -> String {
        switch self {
        case .number(let value):
            guard value.isFinite else { return "null" }
            return fixed(value, 3)
        case .integer(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .string(let value): return JSONValue.quote(value)
        case .object(let object): return object.render(indent: indent)
        case .array(let values):
            if values.isEmpty { return "[]" }
            let pad = String(repeating: "  ", count: indent + 1)
            let items = values.map { pad + $0.render(indent: indent + 1) }
            return "[\n" + items.joined(separator: ",\n") + "\n" + String(repeating: "  ", count: indent) + "]"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

struct JSONObject: Sendable {
    private(set) var fields: [(String, JSONValue)] = []

    init() {}

    subscript(key: String) -> JSONValue? {
        get { fields.first { $0.0 == key }?.1 }
        set {
            if let index = fields.firstIndex(where: { $0.0 == key }) {
                if let newValue { fields[index].1 = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((key, newValue))
            }
        }
    }

    mutating func set(_ key: String, _ value: Double) { self[key] = .number(value) }
    mutating func set(_ key: String, _ value: Int) { self[key] = .integer(Int64(value)) }
    mutating func set(_ key: String, _ value: UInt64) { self[key] = .integer(Int64(value)) }
    mutating func set(_ key: String, _ value: Bool) { self[key] = .bool(value) }
    mutating func set(_ key: String, _ value: String) { self[key] = .string(value) }
    mutating func set(_ key: String, _ value: JSONObject) { self[key] = .object(value) }

    func render(indent: Int = 0) -> String {
        if fields.isEmpty { return "{}" }
        let pad = String(repeating: "  ", count: indent + 1)
        let items = fields.map { pad + JSONValue.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }
        return "{\n" + items.joined(separator: ",\n") + "\n" + String(repeating: "  ", count: indent) + "}"
    }
}

// MARK: - Output

/// Writes human-readable lines to stdout, or to stderr when stdout carries the JSON summary.
struct Reporter: Sendable {
    let descriptor: Int32

    func line(_ text: String = "") {
        var bytes = Array((text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}

func writeStandardOutput(_ text: String) {
    Reporter(descriptor: 1).line(text)
}

/// The text of a NUL-terminated buffer.
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBytes { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}

// MARK: - Scratch directories

/// A fresh directory under `parent`, removed (with everything in it) by `remove()`.
struct ScratchDirectory: Sendable {
    let path: String

    init(parent: String, prefix: String = "hermes-bench-") throws(BenchmarkError) {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw BenchmarkError("cannot create a scratch directory under \(parent): \(String(cString: strerror(errno)))")
        }
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func subdirectory(_ name: String) -> String { path + "/" + name }

    func remove() { removeTree(path) }
}

/// Deletes a directory tree without following symbolic links.
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        if let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { removeTree(path + "/" + name) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// The filesystem type holding `path`, from /proc/self/mounts (longest matching mount point).
func filesystemDescription(of path: String) -> String {
    guard let file = fopen("/proc/self/mounts", "r") else { return "unknown" }
    defer { fclose(file) }
    var resolvedPath = path
    if let resolved = realpath(path, nil) {
        resolvedPath = String(cString: resolved)
        free(resolved)
    }
    var best: (mount: String, device: String, type: String) = ("", "unknown", "unknown")
    var buffer = [CChar](repeating: 0, count: 4096)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let line = cString(buffer)
        let parts = line.split(separator: " ")
        guard parts.count >= 3 else { continue }
        let mount = String(parts[1])
        let matches = mount == "/" || resolvedPath == mount || resolvedPath.hasPrefix(mount + "/")
        if matches && mount.count >= best.mount.count {
            best = (mount, String(parts[0]), String(parts[2]))
        }
    }
    return "\(best.type) on \(best.device) (mounted at \(best.mount))"
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Threads

/// Runs `body(i)` for i in 0..<count, each on its own OS thread, and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    // A JoinableThread is noncopyable, so no array holds them: each call starts one thread, starts the
    // rest through the next call, then joins its own.
    func start(from index: Int) {
        guard index < count else { return }
        let thread: JoinableThread
        do {
            thread = try SystemThread.startJoinable(name: "bench-\(index)") { body(index) }
        } catch {
            preconditionFailure("\(error)")
        }
        start(from: index + 1)
        thread.join()
    }
    start(from: 0)
}
