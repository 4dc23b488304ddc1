import DLCBackendKit
import DLCDiagnostics
import DLCDriver
import Foundation
import XCTest

/// What every registered backend states is consistent with what it generates: the command
/// line, the build and the cache all rely on it.
final class BackendRegistryTests: XCTestCase {
    func testNamesAndStagesAreUnique() {
        let names = Backends.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "backend names: \(names)")
        XCTAssertEqual(Backends.default.name, "c")
        let stages = EmitStage.all.map(\.name)
        XCTAssertEqual(Set(stages).count, stages.count, "emit stages: \(stages)")
        for b in Backends.all {
            XCTAssertFalse(b.emitStages.isEmpty, b.name)
            for s in b.emitStages {
                XCTAssertTrue(EmitStage(named: s)?.isGeneratedFile == true, "\(b.name): --emit \(s)")
            }
        }
    }

    /// Each backend's files: unique names, one per stage it states, each built by a tool it
    /// states (so the toolchain probe finds it before the build needs it).
    func testGeneratedFilesMatchWhatTheBackendStates() throws {
        let url = Golden.root.appendingPathComponent("models/digits.dl")
        let p = Pipeline(source: SourceFile(path: "digits.dl", bytes: try [UInt8](Data(contentsOf: url))))
        for b in Backends.all {
            let files = try p.generatedFiles(b, for: .unspecified).get()
            XCTAssertEqual(Set(files.map(\.name)).count, files.count, b.name)
            XCTAssertEqual(Set(files.compactMap(\.stage)), Set(b.emitStages), "\(b.name): a file or more per stage")
            let tools = Set(b.tools(BuildOptions()))
            XCTAssertTrue(tools.contains(b.runtime(BuildOptions()).compiler), "\(b.name): the runtime's compiler")
            for f in files {
                XCTAssertTrue(tools.contains(f.compile.tool), "\(b.name): \(f.name) is built by \(f.compile.tool.role)")
                XCTAssertFalse(f.contents.isEmpty, "\(b.name): \(f.name)")
            }
            // `--emit STAGE --backend NAME` prints the files of that stage.
            for s in b.emitStages {
                XCTAssertEqual(try p.emit(EmitStage(named: s)!, backend: b).get(),
                               try p.generatedFiles(b, for: .host).get().emitted(s))
            }
        }
    }
}
