import DLCBackendC
import DLCDriver
import Foundation
import XCTest

/// The C backend against the reference interpreter (see `HarnessComparison`): every example
/// and test program at batch sizes 1, 5 and 13, which exercises the affine memory plan with
/// different N and both the BLAS and the small-product paths.
final class BackendTests: XCTestCase {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-backend-\(getpid())")
    var comparison: HarnessComparison { HarnessComparison(backend: "C", work: work, runs: HarnessComparison.oneAndTwoThreads) }

    override func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    /// Compiles the model's generated C with the harness.
    func buildHarness(_ p: Pipeline, name: String) throws -> URL {
        try HarnessComparison.buildC(p, name: name, work: work)
    }

    func testModelsMatchInterpreter() throws {
        XCTAssertGreaterThanOrEqual(try comparison.checkModels(build: buildHarness), 15)
    }

    func testProgramsMatchInterpreter() throws {
        XCTAssertGreaterThanOrEqual(try comparison.checkPrograms(build: buildHarness), 25)
    }
}
