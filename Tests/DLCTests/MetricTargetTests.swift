import DLCDriver
import DLCDiagnostics
import DLCIR
import Foundation
import XCTest

/// The metric follows the loss's target (`MetricTarget`, docs/language.md "Training").
final class MetricTargetTests: XCTestCase {
    private func graph(_ forward: String, data: String = "input x: f32[N, 1]\n target y: f32[N, 1]") throws -> Graph {
        let text = "model m {\n \(data)\n param w: f32[1, 1] = ones\n forward {\n\(forward)\n }\n}\n"
        switch Pipeline(source: SourceFile(path: "m.dl", text: text)).typedGraph() {
        case .success(let g): return g
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    func testTheRule() throws {
        // A declared target.
        var g = try graph("p = x @ w\n output p\n loss mse(p, y)")
        XCTAssertEqual(g.metricTarget().source, .data(1))
        // An expression of the data: followed.
        g = try graph("p = x @ w\n output p\n loss mse(p, where(x > 0.5, -2 * y, y))")
        guard case .computed(let v) = g.metricTarget().source else { return XCTFail("\(g.metricTarget())") }
        XCTAssertEqual(g[v].op, .select)
        XCTAssertNil(g.metricTarget().unfollowed)
        // Inside a larger loss (a penalty added): the loss op's target still.
        g = try graph("p = x @ w\n output p\n loss hinge(p, 2 * y - 1) + 0.1 * sum(square(w))")
        guard case .computed = g.metricTarget().source else { return XCTFail("\(g.metricTarget())") }
        XCTAssertEqual(g.metricTarget().lossKind, .hinge)
        // An expression of the params: not followed; the declared target it reads instead.
        g = try graph("p = x @ w\n output p\n loss mse(p, y * w)")
        XCTAssertEqual(g.metricTarget().source, .data(1))
        XCTAssertNotNil(g.metricTarget().unfollowed)
        // A loss written by hand: the target it reads, no loss op, nothing unfollowed.
        g = try graph("p = x @ w\n output p\n loss mean(square(p - y))")
        XCTAssertEqual(g.metricTarget().source, .data(1))
        XCTAssertNil(g.metricTarget().lossKind)
        XCTAssertNil(g.metricTarget().unfollowed)
    }

    /// The case: `mse(pred, where(x > 0.5, -2 * y, y))` with `metric mse`. The trainer's
    /// `eval` then reports an mse equal to the loss (both compare pred with the same target);
    /// reading the raw y instead gave 40.8 beside a loss of 4.4.
    func testTheMetricOfTheTrainerFollowsAnExpressionTarget() throws {
        var csv = "x,y\n"
        for i in 0..<200 {
            let x = Double((i * 37) % 200) / 200
            csv += "\(x),\(3 * x + 1)\n"
        }
        let model = """
            model follow {
                input  x: f32[N, 1]
                target y: f32[N, 1]
                layer fc = Linear(1, 1)
                forward {
                    pred = fc(x)
                    output pred
                    loss mse(pred, where(x > 0.5, -2 * y, y))
                }
                train { optimizer sgd(lr: 0.1); epochs 5; batch 16; metric mse; data "d.csv" }
            }
            """
        let t = try ScratchTrainer("metric-follow", files: ["model.dl": model, "d.csv": csv])
        defer { t.remove() }
        let train = try t.run(["train", "--save", "w.safetensors"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let eval = try t.run(["eval", "--data", "d.csv", "--weights", "w.safetensors"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let v = ScratchTrainer.evalValues(eval.stdout)
        let loss = try XCTUnwrap(v["loss"], eval.stdout), mse = try XCTUnwrap(v["mse"], eval.stdout)
        XCTAssertEqual(mse, loss, accuracy: 1e-5 * loss, eval.stdout)
        XCTAssertGreaterThan(loss, 0.1)
    }
}
