import Foundation

/// A fresh directory for one build's or probe's files, in the system's temporary directory
/// ($TMPDIR): a kept file of a failed build sits where temporary files belong and is cleaned
/// up eventually, and nothing transient clutters the cache.
func makeScratchDirectory(_ label: String) throws -> String {
    let safe = String(label.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" }.prefix(64))
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("dlc-\(safe)-\(UUID().uuidString.prefix(8))")
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw TrainerBuildError.io("cannot create the directory '\(path)': \(error.localizedDescription)")
    }
    return path
}
