import Foundation

/// The directory where dlc keeps what outlives one build: toolchain verdicts and the runtime's
/// objects, each under a name derived from everything that went into it. Entries are only
/// ever created whole (atomic renames) and never modified, so concurrent dlc processes can
/// share one cache without locks: at worst two of them compile the same object and the second
/// rename replaces the first with identical bytes.
public struct BuildCache: Sendable {
    /// The cache's root directory.
    public let root: String

    public init(root: String) { self.root = root }

    /// $DLC_CACHE_DIR, else $XDG_CACHE_HOME/dlc, else ~/.cache/dlc, else a directory in /tmp.
    public static func defaultRoot(environment: [String: String]) -> String {
        if let dir = environment["DLC_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/dlc" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/dlc" }
        return NSTemporaryDirectory() + "dlc-cache-\(getuid())"
    }

    /// `root/name`, created (with parents) if missing.
    func directory(_ name: String) throws -> String {
        let path = (root as NSString).appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw TrainerBuildError.io("cannot create the build cache directory '\(path)': \(error.localizedDescription)\n"
                + "note: set DLC_CACHE_DIR to a writable directory")
        }
        return path
    }
}
