import DLCDriver
import Foundation
import XCTest

/// A model written into a fresh scratch folder with its data, compiled by `dlc compile` into a
/// trainer there: for end-to-end tests of one trainer feature on a small made-up model.
struct ScratchTrainer {
    let folder: URL
    let binary: URL

    /// Writes `files` (name → contents; `model.dl` among them) and builds `model.dl`.
    init(_ name: String, files: [String: String]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (file, text) in files {
            try text.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        binary = folder.appendingPathComponent(name)
        let r = try Run.dlc(["compile", "model.dl", "-o", binary.path], in: folder)
        guard r.status == 0 else { throw DataFailure(message: "model.dl does not compile:\n\(r.stderr)") }
    }

    /// Runs the trainer in its folder.
    func run(_ arguments: [String]) throws -> ProcessResult {
        try Run.run(binary, arguments, in: folder)
    }

    func path(_ file: String) -> String { folder.appendingPathComponent(file).path }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// `NAME: VALUE` lines of `eval`, as numbers.
    static func evalValues(_ stdout: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in stdout.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let v = Double(parts[1]) { out[parts[0]] = v }
        }
        return out
    }
}
