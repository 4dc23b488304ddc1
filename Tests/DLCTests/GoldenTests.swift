import DLCDiagnostics
import DLCDriver
import Foundation
import XCTest

/// The compiler's stages against stored golden files:
/// - every program in `models/` and `Golden/programs/`: its `--emit ir` text;
/// - every program in `Golden/errors/`: its diagnostics, exactly as `dlc` prints them.
final class GoldenTests: XCTestCase {
    /// A pipeline whose diagnostics name the file relative to its folder's parent, so golden
    /// files do not depend on where the repository is checked out.
    private func pipeline(_ url: URL) throws -> Pipeline {
        let bytes = try [UInt8](Data(contentsOf: url))
        let name = url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
        return Pipeline(source: SourceFile(path: name, bytes: bytes))
    }

    private func checkIR(of programs: [URL], goldenFolder: URL) throws {
        XCTAssertFalse(programs.isEmpty)
        for url in programs {
            let golden = goldenFolder.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".ir")
            switch try pipeline(url).emit(.ir) {
            case .success(let text): Golden.assertMatches(text, golden: golden)
            case .failure(let f): XCTFail("\(Golden.relative(url)) does not compile:\n\(f.rendered)")
            }
        }
    }

    func testModelsIR() throws {
        try checkIR(of: Golden.programs(in: Golden.root.appendingPathComponent("models")),
                    goldenFolder: Golden.directory.appendingPathComponent("models"))
    }

    func testProgramsIR() throws {
        let folder = Golden.directory.appendingPathComponent("programs")
        try checkIR(of: Golden.programs(in: folder), goldenFolder: folder)
    }

    func testErrorDiagnostics() throws {
        let folder = Golden.directory.appendingPathComponent("errors")
        let programs = Golden.programs(in: folder)
        XCTAssertGreaterThanOrEqual(programs.count, 30)
        for url in programs {
            let golden = url.deletingPathExtension().appendingPathExtension("err")
            switch try pipeline(url).emit(.ir) {
            case .success: XCTFail("\(Golden.relative(url)) compiled but should fail")
            case .failure(let f):
                Golden.assertMatches(f.rendered, golden: golden)
                // The first diagnostic is where the program's `# expect: LINE:COL` comment says.
                if let expected = expectedLocation(url), let first = f.diagnostics.sorted.first {
                    XCTAssertEqual("\(first.location.line):\(first.location.column)", expected,
                                   "\(Golden.relative(url)): first error at the wrong place")
                }
            }
        }
    }

    /// `# expect: 7:18 ...` on the first line of an error program.
    private func expectedLocation(_ url: URL) -> String? {
        guard let text = try? String(contentsOf: url, encoding: .utf8),
              let first = text.split(separator: "\n").first, first.hasPrefix("# expect: ") else { return nil }
        return first.dropFirst("# expect: ".count).split(separator: " ").first.map(String.init)
    }
}
