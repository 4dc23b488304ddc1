import Foundation
import XCTest

/// Golden ("snapshot") files: the expected text of a compiler stage, stored beside the test.
///
/// Re-record with `DLC_RECORD=1 swift test` (see README), then review the diff with `git diff`
/// before committing. A missing golden file is recorded and the test fails once, so nothing is
/// recorded silently.
enum Golden {
    /// The repository's root, found from this file's path.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory = root.appendingPathComponent("Tests/DLCTests/Golden")

    static var recording: Bool { ProcessInfo.processInfo.environment["DLC_RECORD"] != nil }

    /// `.dl` files in a folder, sorted by name.
    static func programs(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".dl") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Compares `actual` with the golden file, recording it when asked or when it is missing.
    static func assertMatches(_ actual: String, golden: URL, file: StaticString = #filePath, line: UInt = #line) {
        let fm = FileManager.default
        let expected = fm.contents(atPath: golden.path).map { String(decoding: $0, as: UTF8.self) }
        if recording || expected == nil {
            try? fm.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? actual.write(to: golden, atomically: true, encoding: .utf8)
            if expected == nil {
                XCTFail("recorded missing golden file \(relative(golden)); review it and run again", file: file, line: line)
            }
            return
        }
        if expected != actual {
            XCTFail("\(relative(golden)) differs (- expected, + actual):\n\(diff(expected!, actual))\n"
                    + "re-record with DLC_RECORD=1 swift test and review the diff", file: file, line: line)
        }
    }

    static func relative(_ url: URL) -> String {
        url.path.replacingOccurrences(of: root.path + "/", with: "")
    }

    /// A unified-style line diff (LCS), enough to read what changed.
    static func diff(_ a: String, _ b: String) -> String {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false)
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] { i += 1; j += 1; continue }
            if j < y.count, i == x.count || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append("@\(i + 1) + \(y[j])"); j += 1
            } else {
                out.append("@\(i + 1) - \(x[i])"); i += 1
            }
        }
        return out.prefix(80).joined(separator: "\n")
    }
}
