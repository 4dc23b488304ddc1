import DLCBackendKit
import DLCDiagnostics
import DLCDriver
import DLCIR
import Foundation
import XCTest

/// The compiler's stages against stored golden files:
/// - every program in `models/` and `Golden/programs/`: its `--emit ir`, `grad`, `opt` and
///   `kernels` text, and the code each backend generates for it (`generated`);
/// - every program in `Golden/errors/`: its diagnostics, exactly as `dlc` prints them.
final class GoldenTests: XCTestCase {
    /// A pipeline whose diagnostics name the file relative to its folder's parent, so golden
    /// files do not depend on where the repository is checked out.
    private func pipeline(_ url: URL) throws -> Pipeline {
        let bytes = try [UInt8](Data(contentsOf: url))
        let name = url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
        return Pipeline(source: SourceFile(path: name, bytes: bytes))
    }

    /// Each stage's dump is stored as NAME.STAGE beside the others.
    static let stages: [EmitStage] = [.ir, .grad, .opt, .kernels]

    private func checkStages(of programs: [URL], goldenFolder: URL) throws {
        XCTAssertFalse(programs.isEmpty)
        for url in programs {
            for stage in Self.stages {
                let name = url.deletingPathExtension().lastPathComponent + "." + stage.name
                switch try pipeline(url).emit(stage) {
                case .success(let text): Golden.assertMatches(text, golden: goldenFolder.appendingPathComponent(name))
                case .failure(let f): XCTFail("\(Golden.relative(url)) fails at --emit \(stage):\n\(f.rendered)")
                }
            }
            for (suffix, text) in try generated(url) {
                let name = url.deletingPathExtension().lastPathComponent + "." + suffix
                switch text {
                case .success(let text): Golden.assertMatches(text, golden: goldenFolder.appendingPathComponent(name))
                case .failure(let f): XCTFail("\(Golden.relative(url)) fails to generate .\(suffix):\n\(f.rendered)")
                }
            }
        }
    }

    /// The code every registered backend generates, printed for no machine in particular (so
    /// the same on every host), one file per `--emit` stage it has: NAME.STAGE for the backend
    /// `--emit STAGE` picks by default (`.c` is the C backend's model, `.llvm` the LLVM
    /// backend's module), NAME.BACKEND.STAGE for another (`.llvm.c`: the LLVM backend's C
    /// descriptor, `--backend llvm --emit c`).
    /// The pipeline reads the program at its real path, so that its `data` setting resolves
    /// as `dlc compile` resolves it (from the .dl file's folder); the repository's location is
    /// then written `$ROOT`, so the golden files do not depend on the checkout.
    private func generated(_ url: URL) throws -> [(String, Result<String, CompileFailure>)] {
        let bytes = try [UInt8](Data(contentsOf: url))
        let p = Pipeline(source: SourceFile(path: url.standardizedFileURL.path, bytes: bytes))
        let root = Golden.root.standardizedFileURL.path
        func portable(_ text: String) -> String { text.replacingOccurrences(of: root, with: "$ROOT") }
        var out: [(String, Result<String, CompileFailure>)] = []
        for backend in Backends.all {
            let files = p.generatedFiles(backend, for: .unspecified)
            for stage in backend.emitStages {
                let byDefault = Backends.printing(EmitStage(named: stage)!, chosen: nil)?.name == backend.name
                out.append(((byDefault ? "" : backend.name + ".") + stage,
                            files.map { portable($0.emitted(stage)) }))
            }
        }
        return out
    }

    func testModelsStages() throws {
        try checkStages(of: Golden.programs(in: Golden.root.appendingPathComponent("models")),
                    goldenFolder: Golden.directory.appendingPathComponent("models"))
    }

    func testProgramsStages() throws {
        let folder = Golden.directory.appendingPathComponent("programs")
        try checkStages(of: Golden.programs(in: folder), goldenFolder: folder)
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

    /// Every program in `Golden/warnings/` compiles, with warnings: stored beside it (`.warn`)
    /// exactly as `dlc` prints them, the first where its `# expect:` comment says.
    func testWarningDiagnostics() throws {
        let folder = Golden.directory.appendingPathComponent("warnings")
        let programs = Golden.programs(in: folder)
        XCTAssertFalse(programs.isEmpty)
        for url in programs {
            let p = try pipeline(url)
            if case .failure(let f) = p.emit(.ir) {
                XCTFail("\(Golden.relative(url)) should compile:\n\(f.rendered)")
                continue
            }
            let warnings = p.renderedWarnings()
            XCTAssertTrue(warnings.contains(": warning: "), "\(Golden.relative(url)): no warning")
            Golden.assertMatches(warnings, golden: url.deletingPathExtension().appendingPathExtension("warn"))
            if let expected = expectedLocation(url), let first = warnings.split(separator: "\n").first {
                let place = first.split(separator: ":").dropFirst().prefix(2).joined(separator: ":")
                XCTAssertEqual(place, expected, "\(Golden.relative(url)): first warning at the wrong place")
            }
        }
    }

    /// `# expect: 7:18 ...` on the first line of an error program.
    private func expectedLocation(_ url: URL) -> String? {
        // Decoded leniently: some error programs hold invalid UTF-8 on purpose.
        guard let data = try? Data(contentsOf: url), case let text = String(decoding: data, as: UTF8.self),
              let first = text.split(separator: "\n").first, first.hasPrefix("# expect: ") else { return nil }
        return first.dropFirst("# expect: ".count).split(separator: " ").first.map(String.init)
    }
}

/// The IR text form parses back into the same graph, for every stage dump of every program.
final class IRRoundTripTests: XCTestCase {
    func testEveryDumpParsesBackToTheSameGraph() throws {
        let programs = Golden.programs(in: Golden.root.appendingPathComponent("models"))
            + Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        for url in programs {
            let p = Pipeline(source: SourceFile(path: url.lastPathComponent, bytes: try [UInt8](Data(contentsOf: url))))
            for case .success(let graph) in [p.typedGraph(), p.trainingGraph()] {
                let text = printIR(graph)
                let parsed = try parseIR(text)
                XCTAssertEqual(printIR(parsed), text, url.lastPathComponent)
                // The text keeps a location's line and column, not its byte offset.
                var expected = graph
                expected.replaceNodes(graph.nodes.map { n in
                    var n = n
                    n.location = n.location.map { SourceLocation(line: $0.line, column: $0.column) }
                    return n
                })
                XCTAssertEqual(parsed, expected, url.lastPathComponent)
            }
        }
    }
}
