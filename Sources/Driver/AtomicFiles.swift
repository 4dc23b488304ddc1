import Foundation

/// File writes that other processes never see half done: write under a unique temporary name
/// in the destination's directory, then rename(2), which replaces the destination atomically
/// (a temporary name elsewhere could be on another file system, where rename cannot work).
enum AtomicFiles {
    /// A fresh name beside `path`, hidden, unique to this process and call.
    static func temporaryPath(beside path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let unique = "\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(unique)").path
    }

    /// Writes `contents` to `path` atomically.
    static func write(_ contents: String, to path: String) throws {
        let temporary = temporaryPath(beside: path)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(contents.utf8)) else {
            throw TrainerBuildError.io("cannot write '\(temporary)': \(String(cString: strerror(errno)))")
        }
        try replace(path, with: temporary)
    }

    /// Renames `temporary` over `path`; on failure removes `temporary` and throws.
    static func replace(_ path: String, with temporary: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw TrainerBuildError.io("cannot write '\(path)': \(reason)")
        }
    }
}
