import Foundation
import XCTest

/// Messages of the command line and of trainers against golden files: each
/// `Golden/runs/NAME.run` holds one `dlc` command line (after `# ` comments), run from the
/// repository's root; its stderr is stored beside it (`NAME.err`) and its exit status must be
/// the one its `# exit: N` line gives (the checkout's path written `$ROOT`). Trainer runs go
/// through `dlc train`, which compiles
/// the model into the build cache once. Runs here only fail or warn: none writes a file.
final class RunGoldenTests: XCTestCase {
    func testRunMessages() throws {
        let folder = Golden.directory.appendingPathComponent("runs")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".run") }.sorted()
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let url = folder.appendingPathComponent(name)
            let text = try String(contentsOf: url, encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            guard let exitLine = lines.first(where: { $0.hasPrefix("# exit: ") }), let status = Int32(exitLine.dropFirst(8)),
                  let command = lines.first(where: { !$0.hasPrefix("#") && !$0.isEmpty }) else {
                XCTFail("\(name): needs a '# exit: N' line and a command line")
                continue
            }
            let r = try Run.dlc(Self.words(command), in: Golden.root)
            XCTAssertEqual(r.status, status, "\(name): exit status; stderr:\n\(r.stderr)")
            // A model's data path is absolute (resolved at compile time): the checkout is $ROOT.
            let stderr = r.stderr.replacingOccurrences(of: Golden.root.path + "/", with: "$ROOT/")
            Golden.assertMatches(stderr, golden: url.deletingPathExtension().appendingPathExtension("err"))
        }
    }

    /// A command line split into words; single quotes group words, as in a shell.
    static func words(_ line: String) -> [String] {
        var words: [String] = [], word = "", quoted = false, inWord = false
        for c in line {
            if c == "'" { quoted.toggle(); inWord = true; continue }
            if c == " " && !quoted {
                if inWord { words.append(word) }
                word = ""
                inWord = false
                continue
            }
            word.append(c)
            inWord = true
        }
        if inWord { words.append(word) }
        return words
    }
}
