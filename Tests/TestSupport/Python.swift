import Foundation

extension ChildProcess {
    /// The interpreter of the virtual environment `scripts/python-env` makes in the repository root
    /// (this file is Tests/TestSupport/Python.swift).
    public static let python = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".venv/bin/python").path

    /// Starts the Python script at `script` with the virtual environment's interpreter: unbuffered, writing
    /// no bytecode, without proxy variables (the scripts talk to 127.0.0.1), `environment` on top.
    public static func python(_ script: String, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> ChildProcess {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure("no Python environment at \(python): run scripts/python-env first")
        }
        var variables = ["PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"]
        variables.merge(environment) { $1 }
        return try ChildProcess(python, [script] + arguments, environment: variables, unsetting: proxyVariables)
    }
}
