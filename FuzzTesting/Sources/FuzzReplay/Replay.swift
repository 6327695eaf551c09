import Foundation

/// The harnesses' `main` when they are not built for libFuzzer: runs `check` on every file named in `paths`
/// and on every file in the folders named there, and returns the exit status. A broken invariant traps inside
/// `check`, so returning 0 means every input passed; the last path printed names the input that did not.
public func replay(_ paths: some Collection<String>, harness: String, _ check: ([UInt8]) -> Void) -> Int32 {
    guard !paths.isEmpty else {
        FileHandle.standardError.write(Data("usage: \(harness) FILE-OR-FOLDER...\n(built with -DFUZZING it is a libFuzzer binary; see scripts/fuzz)\n".utf8))
        return 2
    }
    var count = 0
    for path in paths {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            FileHandle.standardError.write(Data("\(harness): no such file or folder: \(path)\n".utf8))
            return 1
        }
        let files = isFolder.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }
            : [path]
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("\(harness): cannot read \(file)\n".utf8))
                return 1
            }
            print("\(harness): \(file)")
            check(Array(data))
            count += 1
        }
    }
    print("\(harness): \(count) inputs replayed, no invariant broken")
    return 0
}
