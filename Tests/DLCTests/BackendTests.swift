import DLCBackendC
import DLCDriver
import Foundation
import XCTest

/// The C backend against the reference interpreter (see `HarnessComparison`): every example
/// and test program at batch sizes 1, 5 and 13, which exercises the affine memory plan with
/// different N and both the BLAS and the small-product paths.
final class BackendTests: XCTestCase {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-backend-\(getpid())")
    var comparison: HarnessComparison { HarnessComparison(backend: "C", work: work) }

    override func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    /// Compiles the model's generated C with the harness.
    func buildHarness(_ p: Pipeline, name: String) throws -> URL {
        let source: String
        switch p.emit(EmitStage(named: "c")!, backend: CBackend()) {
        case .success(let s): source = s
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
        let c = work.appendingPathComponent("\(name).c"), exe = work.appendingPathComponent(name)
        try source.write(to: c, atomically: true, encoding: .utf8)
        let r = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
            HarnessComparison.compiler, "-O1", "-std=c11", "-Wall", "-Werror", "-Wno-unused-variable",
            "-Wno-unused-but-set-variable", "-I", Golden.root.appendingPathComponent("codegen").path,
            c.path, HarnessComparison.harnessSource.path, "-lopenblas", "-lm", "-o", exe.path,
        ])
        guard r.status == 0 else { throw DataFailure(message: "\(name).c does not compile:\n\(r.stderr)") }
        return exe
    }

    func testModelsMatchInterpreter() throws {
        XCTAssertGreaterThanOrEqual(try comparison.checkModels(build: buildHarness), 15)
    }

    func testProgramsMatchInterpreter() throws {
        XCTAssertGreaterThanOrEqual(try comparison.checkPrograms(build: buildHarness), 25)
    }
}
