import DLCDiagnostics
import DLCDriver
import DLCIR
import DLCInterpreter
import Foundation
import XCTest

/// Batch normalization as the reference trainer runs it, against PyTorch (torch 2.15, float64):
///
///     bn = nn.BatchNorm1d(3); opt = SGD(bn.parameters(), lr=0.1)
///     loss = mse_loss(bn(x), y); loss.backward(); opt.step()     # training mode
///     bn.running_mean, bn.running_var, bn.num_batches_tracked; bn.eval(); bn(x)
final class BatchNormTests: XCTestCase {
    static let source = """
        model bn {
            input  x: f32[N, 3]
            target y: f32[N, 3]
            layer bn = BatchNorm1d(3)
            forward {
                p = bn(x)
                output p
                loss mse(p, y)
            }
            train {
                optimizer sgd(lr: 0.1)
                batch 4
                shuffle false
            }
        }
        """
    let x = Tensor(shape: [4, 3], scalars: [1, 2, -1, 0.5, -3, 2, 4, 0, 0, -2, 1, 3])
    let y = Tensor(shape: [4, 3], scalars: [0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1])

    func graph(_ source: String = BatchNormTests.source) throws -> Graph {
        let p = Pipeline(source: SourceFile(path: "bn.dl", bytes: Array(source.utf8)))
        switch p.trainingGraph() {
        case .success(let g): return g
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (u, v)) in zip(a, b).enumerated() where abs(u - v) > 1e-9 * max(1, abs(v)) {
            XCTFail("\(what)[\(i)]: \(u), PyTorch \(v)", file: file, line: line)
            return
        }
    }

    func testTrainingStepMatchesPyTorch() throws {
        let g = try graph()
        let params = ["bn.weight": Tensor([1, 1, 1]), "bn.bias": Tensor([0, 0, 0])]
        let dropout = DropoutDraw(seed: 0, epoch: 0, firstRow: 0)
        let values = try Interpreter(graph: g).run(feeds: ["x": x, "y": y], params: params, mode: .training, dropout: dropout)
        assertClose(values[g.outputs[0].value].scalars, [
            0.05862097371316394, 1.0690434404458735, -1.264908534252813, -0.1758629211394918, -1.6035651606688104,
            0.6324542671264065, 1.4655243428290985, 0.0, -0.6324542671264065, -1.3482823954027705, 0.5345217202229368,
            1.264908534252813,
        ], "training output")
        let grads = Dictionary(uniqueKeysWithValues: g.gradients.map { ($0.name, values[$0.value].scalars) })
        assertClose(grads["bn.weight"]!, [0.920689419885125, 0.3994039017987358, 0.5612549554895989], "d.bn.weight")
        assertClose(grads["bn.bias"]!, [-1.0 / 3, -1.0 / 3, -1.0 / 3], "d.bn.bias")
    }

    /// One epoch of one batch: the running statistics (variance unbiased) and the eval output.
    func testRunningStatisticsMatchPyTorch() throws {
        let g = try graph()
        XCTAssertEqual(g.state.map(\.name), ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
        let result = try Trainer(graph: g).train(data: ["x": x, "y": y],
                                                 initialParams: ["bn.weight": Tensor([1, 1, 1]), "bn.bias": Tensor([0, 0, 0])])
        assertClose(result.state["bn.running_mean"]!.scalars, [0.0875, 0, 0.1], "running_mean")
        assertClose(result.state["bn.running_var"]!.scalars, [1.50625, 1.3666666666666667, 1.2333333333333334], "running_var")
        XCTAssertEqual(result.state["bn.num_batches_tracked"]!.scalars, [1])
        let eval = try Interpreter(graph: g).run(feeds: ["x": x, "y": y], params: result.params, state: result.state)
        assertClose(eval[g.outputs[0].value].scalars, [
            0.7083830728115604, 1.675795236404347, -0.9015662045329973, 0.3384928046043127, -2.430359521273187,
            1.6481598078297226, 2.927724682055047, 0.03333333333333333, -0.051657533745424, -1.510958536431926,
            0.8545642848688401, 2.498068478617296,
        ], "eval output")
    }

    /// With `accumulate 2`, each micro-batch is normalised with its own statistics and updates
    /// the running statistics once: two updates of the counter for one optimizer update.
    func testAccumulateUpdatesTheStatisticsPerMicroBatch() throws {
        let g = try graph(Self.source.replacingOccurrences(of: "batch 4", with: "batch 2\n        accumulate 2"))
        let result = try Trainer(graph: g).train(data: ["x": x, "y": y])
        XCTAssertEqual(result.updates, 1)
        XCTAssertEqual(result.state["bn.num_batches_tracked"]!.scalars, [2])
        // rows 0-1 then rows 2-3: running = 0.9·(0.9·0 + 0.1·mean01) + 0.1·mean23
        let mean01 = [0.75, -0.5, 0.5], mean23 = [1.0, 0.5, 1.5]
        assertClose(result.state["bn.running_mean"]!.scalars, zip(mean01, mean23).map { 0.09 * $0 + 0.1 * $1 }, "running_mean")
    }

    /// A last batch of one row cannot be normalised over [N, C]: reported before the first
    /// step, at the layer's call, with the way out.
    func testAOneRowBatchIsRefusedBeforeTheFirstStep() throws {
        let g = try graph(Self.source.replacingOccurrences(of: "batch 4", with: "batch 3"))
        XCTAssertThrowsError(try Trainer(graph: g).train(data: ["x": x, "y": y])) { e in
            let error = e as! InterpreterError
            XCTAssertEqual(error.location?.line, 6)
            XCTAssertTrue(error.message.contains("a training batch of 1 row"), error.message)
            XCTAssertTrue(error.message.contains("drop_last"), error.message)
        }
        var config = g.train
        config.dropLast = true
        XCTAssertNoThrow(try Trainer(graph: g, config: config).train(data: ["x": x, "y": y]))
        // Over [N, C, L] with L > 1 a single row still has L values per channel.
        XCTAssertNil(try graph(Self.source.replacingOccurrences(of: "f32[N, 3]", with: "f32[N, 3, 2]")).nodeNeedingTwoRows())
    }
}
