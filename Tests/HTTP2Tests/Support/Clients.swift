import Foundation
import TestSupport
import Testing

/// Where the test's files and tools are.
enum Paths {
    /// The Python client scripts (this file is Tests/HTTP2Tests/Support/Clients.swift).
    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Clients")

    static func script(_ name: String) -> String { clients.appendingPathComponent(name).path }

    /// A fresh temporary directory for one test.
    static func temporaryDirectory(_ name: String = #function) -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hermes-http2-tests/\(safe)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension ChildProcess.Result {
    /// The last line of stdout parsed as a JSON object (the Python clients print one).
    func json() throws -> JSONObject {
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            Issue.record("the client printed no JSON result:\n\(self)")
            throw ClientFailure(description: "no JSON result")
        }
        return JSONObject(values: object)
    }
}

struct ClientFailure: Error, CustomStringConvertible {
    var description: String
}

/// Typed access to a decoded JSON object.
struct JSONObject: @unchecked Sendable, CustomStringConvertible {
    // `@unchecked Sendable`: holds only values JSONSerialization produced, never mutated.
    let values: [String: Any]

    subscript(int key: String) -> Int? { (values[key] as? NSNumber)?.intValue }
    subscript(double key: String) -> Double? { (values[key] as? NSNumber)?.doubleValue }
    subscript(bool key: String) -> Bool? { (values[key] as? NSNumber)?.boolValue }
    subscript(string key: String) -> String? { values[key] as? String }
    subscript(object key: String) -> JSONObject? { (values[key] as? [String: Any]).map(JSONObject.init) }
    subscript(list key: String) -> [JSONObject] {
        (values[key] as? [Any])?.compactMap { ($0 as? [String: Any]).map(JSONObject.init) } ?? []
    }
    subscript(strings key: String) -> [String] { (values[key] as? [Any])?.compactMap { $0 as? String } ?? [] }
    subscript(ints key: String) -> [Int] { (values[key] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }

    var description: String {
        (try? JSONSerialization.data(withJSONObject: values, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "\(values)"
    }
}

extension ChildProcess {
    /// Runs a Python client from Tests/HTTP2Tests/Clients to completion and returns its JSON result.
    static func runPython(_ script: String, _ arguments: [String], seconds: Double = 60) async throws -> (JSONObject, Result) {
        let child = try python(Paths.script(script), arguments)
        child.closeInput()
        let result = await child.finish(seconds: seconds)
        guard result.status == 0 else {
            Issue.record("\(script) \(arguments.joined(separator: " ")) failed: \(result)")
            throw ClientFailure(description: "\(script) failed")
        }
        return (try result.json(), result)
    }
}

/// Command-line HTTP clients.
enum Curl {
    /// One curl process; `-s -S` with the response body on stdout and the verbose trace on stderr.
    static func run(_ arguments: [String], seconds: Double = 60) async throws -> ChildProcess.Result {
        try await ChildProcess.run(
            "curl", ["-sS", "--noproxy", "*", "--max-time", "\(Int(seconds) - 5)"] + arguments,
            unsetting: ChildProcess.proxyVariables, seconds: seconds
        )
    }

    /// Status code and protocol version of one request, printed after the body by `-w`.
    static func request(_ url: String, _ extra: [String] = [], seconds: Double = 60) async throws -> (status: Int, version: String, body: String, result: ChildProcess.Result) {
        let marker = "\n--curl-write-out--"
        let result = try await run(extra + ["-w", "\(marker) %{http_code} %{http_version}", url], seconds: seconds)
        guard let range = result.output.range(of: marker, options: .backwards) else {
            return (0, "", result.output, result)
        }
        let fields = result.output[range.upperBound...].split(separator: " ")
        return (Int(fields.first ?? "") ?? 0, fields.dropFirst().first.map(String.init) ?? "", String(result.output[..<range.lowerBound]), result)
    }
}

enum Nghttp {
    static func run(_ arguments: [String], seconds: Double = 60) async throws -> ChildProcess.Result {
        try await ChildProcess.run("nghttp", ["-t", "\(Int(seconds) - 5)"] + arguments, seconds: seconds)
    }
}

extension TestServer {
    /// Runs `h1_probe.py exchange`: the requests go out one after another on one connection (see the script).
    func exchange(_ requests: [String]) async throws -> JSONObject {
        try await ChildProcess.runPython("h1_probe.py", ["exchange", "--port", "\(port)", "--seconds", "10", "--requests"] + requests).0
    }
}
