import DLCDiagnostics
import DLCDriver
import DLCIR
import DLCInterpreter
import Foundation
import XCTest

/// Every example and test program: its full AD gradients (reference interpreter, double
/// precision) against central finite differences.
final class GradientCheckTests: XCTestCase {
    func trainingGraph(_ url: URL) throws -> Graph {
        let pipeline = Pipeline(source: SourceFile(path: url.lastPathComponent, bytes: try [UInt8](Data(contentsOf: url))))
        switch pipeline.trainingGraph() {
        case .success(let g): return g
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    func optimizedGraph(_ url: URL) throws -> Graph {
        let pipeline = Pipeline(source: SourceFile(path: url.lastPathComponent, bytes: try [UInt8](Data(contentsOf: url))))
        switch pipeline.optimizedGraph() {
        case .success(let g): return g
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    /// Models read their own data file (the first rows, normalized as in training).
    func testModelsMatchFiniteDifferences() throws {
        let models = Golden.programs(in: Golden.root.appendingPathComponent("models"))
        var checked = 0
        for url in models {
            let g = try trainingGraph(url)
            if !g.data.isEmpty && g.train.data == nil { continue }  // e.g. mnist_mlp: no data shipped
            let report = try GradCheckRun().run(g, modelDirectory: url.deletingLastPathComponent().path)
            XCTAssertTrue(report.passed, "\(url.lastPathComponent):\n\(report.text)")
            // The optimized graph's gradients come from the fused ops' own rules: check them too.
            let optimized = try optimizedGraph(url)
            let fused = try GradCheckRun().run(optimized, modelDirectory: url.deletingLastPathComponent().path)
            XCTAssertTrue(fused.passed, "\(url.lastPathComponent) (optimized):\n\(fused.text)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 15)
    }

    /// Test programs run on seeded synthetic data: normal f32 values, i32 indices within the
    /// rows of the table they index, class labels within their classes.
    func testProgramsMatchFiniteDifferences() throws {
        let programs = Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        XCTAssertGreaterThanOrEqual(programs.count, 25)
        for url in programs {
            let g = try trainingGraph(url)
            var rng = SplitMix64(seed: 7, stream: .initialization)
            let report = try GradCheckRun().run(g, feeds: SyntheticData.feeds(g, batch: 5, rng: &rng))
            XCTAssertTrue(report.passed, "\(url.lastPathComponent):\n\(report.text)")
        }
    }
}
