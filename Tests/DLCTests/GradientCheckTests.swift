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

    /// A correct 10-32-32-32-1 ReLU regressor on wine's first rows (issue 9): `dlc gradcheck`
    /// failed it at 5.7e-2, skipping nothing, where differences straddle ReLU kinks. With the
    /// rule both checks share (codegen/dlc_gradcheck_rule.h) it passes, skipping those elements,
    /// and so does the compiled trainer's own gradcheck.
    func testDeepReLUNetworkPassesAtItsKinks() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-deep-relu-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let data = Golden.root.appendingPathComponent("models/data/wine.csv").path
        let model = work.appendingPathComponent("deep.dl")
        try """
            model deep {
                input  x: f32[N, 10]
                target y: f32[N, 1]
                layer l1 = Linear(10, 32)
                layer l2 = Linear(32, 32)
                layer l3 = Linear(32, 32)
                layer l4 = Linear(32, 1)
                forward {
                    pred = l4(relu(l3(relu(l2(relu(l1(x)))))))
                    output pred
                    loss mse(pred, y)
                }
                train {
                    normalize x
                    seed 0
                    data "\(data)"
                    columns x: "0-9", y: "13"
                }
            }
            """.write(to: model, atomically: true, encoding: .utf8)
        let g = try trainingGraph(model)
        let report = try GradCheckRun().run(g, modelDirectory: work.path)
        XCTAssertTrue(report.passed, report.text)
        XCTAssertGreaterThan(report.results.map(\.skipped).reduce(0, +), 0, "no element was at a kink:\n\(report.text)")
        let exe = work.appendingPathComponent("deep")
        let built = try Run.dlc(["compile", model.path, "-o", exe.path])
        XCTAssertEqual(built.status, 0, built.stderr)
        let trainer = try Run.run(exe, ["gradcheck"], in: work)
        XCTAssertEqual(trainer.status, 0, trainer.stdout + trainer.stderr)
        XCTAssertTrue(trainer.stdout.hasSuffix("gradcheck passed\n"), trainer.stdout)
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
