import DLCDiagnostics
import DLCDriver
import DLCIR
import DLCInterpreter
import DLCPasses
import Foundation
import XCTest

/// The optimisation passes keep the meaning of every program: the optimized training graph
/// and the plain one (AD of the unfused graph) give the same loss, gradients and outputs in
/// the reference interpreter, to double precision.
final class PassesTests: XCTestCase {
    func testOptimizedGraphsComputeTheSame() throws {
        let programs = Golden.programs(in: Golden.root.appendingPathComponent("models"))
            + Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        for url in programs {
            let p = Pipeline(source: SourceFile(path: url.lastPathComponent, bytes: try [UInt8](Data(contentsOf: url))))
            guard case .success(let plain) = p.trainingGraph(), case .success(let optimized) = p.optimizedGraph() else {
                return XCTFail("\(url.lastPathComponent) does not compile")
            }
            var rng = SplitMix64(seed: 5, stream: .initialization)
            var run = GradCheckRun()
            run.rows = 4
            // Models read their own data (an index into a table must be in range); programs get synthetic data.
            let feeds = plain.train.data != nil
                ? try run.batchFeeds(plain, modelDirectory: url.deletingLastPathComponent().path)
                : SyntheticData.feeds(plain, batch: 4, rng: &rng)
            let params = ParamInitializer.initialValues(plain.params, seed: 0)
            let dropout = DropoutDraw(seed: 0, epoch: 0, firstRow: 0)
            let a = try Interpreter(graph: plain).run(feeds: feeds, params: params, mode: .training, dropout: dropout)
            let b = try Interpreter(graph: optimized).run(feeds: feeds, params: params, mode: .training, dropout: dropout)
            func close(_ x: [Double], _ y: [Double], _ what: String) {
                let scale = max(1, y.map(abs).max() ?? 0)
                for (u, v) in zip(x, y) where abs(u - v) > 1e-9 * scale {
                    return XCTFail("\(url.lastPathComponent): \(what): optimized \(u), plain \(v)")
                }
            }
            close(b[optimized.loss!].scalars, a[plain.loss!].scalars, "loss")
            for (ga, gb) in zip(plain.gradients, optimized.gradients) {
                XCTAssertEqual(ga.name, gb.name)
                close(b[gb.value].scalars, a[ga.value].scalars, "grad \(ga.name)")
            }
            for (oa, ob) in zip(plain.outputs, optimized.outputs) { close(b[ob.value].scalars, a[oa.value].scalars, oa.name) }
        }
    }

    /// The fusions the spec names happen: Linear+ReLU and softmax+cross-entropy, forward and
    /// backward; nothing is computed for the first layer's input.
    func testMLPIsFused() throws {
        let url = Golden.root.appendingPathComponent("models/mnist_mlp.dl")
        let p = Pipeline(source: SourceFile(path: "mnist_mlp.dl", bytes: try [UInt8](Data(contentsOf: url))))
        guard case .success(let g) = p.optimizedGraph() else { return XCTFail("does not compile") }
        let ops = g.nodes.map(\.op.mnemonic)
        XCTAssertEqual(ops.filter { $0 == "linear" }.count, 2)
        XCTAssertTrue(g.nodes.contains { $0.op == .linear(relu: true) })
        XCTAssertEqual(ops.filter { $0 == "softmax_cross_entropy" }.count, 1)
        XCTAssertEqual(ops.filter { $0 == "softmax_cross_entropy_grad" }.count, 1)
        XCTAssertEqual(ops.filter { $0 == "relu_grad" }.count, 1)
        for banned in ["log_softmax", "nll", "relu", "one_hot", "exp", "add"] {
            XCTAssertFalse(ops.contains(banned), "\(banned) left after fusion")
        }
        // Three GEMMs backward (dW2, dx of layer 2, dW1), none for the input x.
        XCTAssertEqual(ops.filter { $0 == "matmul" }.count, 3)
    }
}
