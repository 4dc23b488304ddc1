import XCTest
import DLCIR
@testable import DLCInterpreter

final class TrainerTests: XCTestCase {
    /// `descend`: loss = -x**2 + 10*x*log(x), x a scalar param from 1.0, with its gradient built
    /// by hand: -2x + 10 log(x) + 10.
    func descendGraph() -> Graph {
        var g = Graph(name: "descend")
        let x = g.param("x", f32(), .constant(1.0))
        let ten = g.constant(10)
        let negSquare = g.emit(.unary(.neg), [g.emit(.pow(2), [x])])
        let logx = g.emit(.unary(.log), [x])
        g.loss = g.emit(.binary(.add), [negSquare, g.emit(.binary(.mul), [g.emit(.binary(.mul), [ten, x]), logx])])
        let minus2x = g.emit(.binary(.mul), [g.constant(-2), x])
        let grad = g.emit(.binary(.add), [g.emit(.binary(.add), [minus2x, g.emit(.binary(.mul), [ten, logx])]), ten])
        g.gradients = [NamedValue("x", grad)]
        g.outputs = [NamedValue("x", x)]
        g.train.optimizer = .sgd(lr: 0.02)
        g.train.steps = 20
        return g
    }

    func testDescendVisitsTheLectureValues() throws {
        var visited = [Double]()
        let result = try Trainer(graph: descendGraph()).train { _, params in visited.append(params["x"]!.scalars[0]) }
        XCTAssertEqual(result.updates, 20)
        XCTAssertEqual(visited.count, 20)
        for (v, e) in zip(visited, [0.840, 0.708, 0.606, 0.530]) { XCTAssertEqual(v, e, accuracy: 0.0005) }
        XCTAssertEqual(result.params["x"]!.scalars[0], 0.398, accuracy: 0.0005)
        // The first loss is at x = 1: -1 + 0.
        XCTAssertEqual(result.stepLosses.count, 20)
        XCTAssertEqual(result.stepLosses[0], -1)
        XCTAssertEqual(result.epochs.count, 20)
        XCTAssertEqual(result.epochs[0].learningRate, 0.02)
    }

    func testNoDataModelWithMaxUpdatesAndAccumulation() throws {
        var config = descendGraph().train
        config.accumulate = 2
        let result = try Trainer(graph: descendGraph(), config: config).train(maxUpdates: 1)
        // Two identical passes, each gradient halved: the same step as without accumulation.
        XCTAssertEqual(result.updates, 1)
        XCTAssertEqual(result.stepLosses, [-1, -1])
        XCTAssertEqual(result.params["x"]!.scalars[0], 0.84, accuracy: 1e-15)
    }

    // MARK: - Optimizers against hand-computed steps (w = 1, gradients 0.5 then -0.25)

    func steps(_ optimizer: Optimizer, lr: Double = 0.1) -> [Double] {
        var state = OptimizerState(optimizer: optimizer)
        var params = ["w": Tensor([1.0])]
        return [0.5, -0.25].map { g in
            state.update(params: &params, gradients: ["w": Tensor([g])], lr: lr)
            return params["w"]!.scalars[0]
        }
    }

    func assertSteps(_ actual: [Double], _ expected: [Double], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-14, file: file, line: line) }
    }

    func testSGD() {
        // Plain: 1 - 0.05, then + 0.025.
        assertSteps(steps(.sgd(lr: 0.1)), [0.95, 0.975])
        // momentum 0.9, weight_decay 0.1: g = 0.6, b = 0.6, w = 0.94; g = -0.25 + 0.094 = -0.156,
        // b = 0.54 - 0.156 = 0.384, w = 0.94 - 0.0384.
        var o = Optimizer.sgd(lr: 0.1)
        o.momentum = 0.9
        o.weightDecay = 0.1
        assertSteps(steps(o), [0.94, 0.9016])
        // nesterov: g + 0.9 b: 1.14 -> 0.886; g = -0.1614, b = 0.3786, g' = 0.17934 -> 0.868066.
        o.nesterov = true
        assertSteps(steps(o), [0.886, 0.868066])
    }

    func testAdam() {
        // t = 1: m = 0.05, v = 0.00025, step 0.1/0.1, denom sqrt(0.00025)/sqrt(0.001) + 1e-8 = 0.5 + 1e-8.
        var o = Optimizer.defaults(.adam)
        assertSteps(steps(o), [0.900000002, 0.8733662987078463])
        o.weightDecay = 0.1
        assertSteps(steps(o), [0.9000000016666666, 0.8544413674617625])
    }

    func testAdamWDecaysFirst() {
        // w = 1 * (1 - 0.1 * 0.01) = 0.999 first, then Adam's step.
        assertSteps(steps(Optimizer.defaults(.adamw)), [0.899000002, 0.8714672987058463])
    }

    func testAdagrad() {
        // s = 0.25, w = 1 - 0.1 * 0.5 / (0.5 + 1e-10); s = 0.3125, w += 0.1 * 0.25 / sqrt(0.3125).
        var o = Optimizer.defaults(.adagrad)
        XCTAssertEqual(o.eps, 1e-10)
        assertSteps(steps(o), [0.90000000002, 0.9447213595619959])
        o.weightDecay = 0.1
        assertSteps(steps(o), [0.9000000000166667, 0.9257662650683])
    }

    // MARK: - Schedules against PyTorch's formulas

    func learningRates(_ schedule: Schedule, epochs: Int, metrics: [Double]? = nil) -> [Double] {
        var s = LearningRateSchedule(schedule, baseLR: 0.1)
        return (0..<epochs).map { e in
            let lr = s.lr
            s.step(metric: metrics?[e] ?? 0)
            return lr
        }
    }

    func testStepLR() {
        assertSteps(learningRates(.stepLR(every: 2, gamma: 0.5), epochs: 6), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
        assertSteps(learningRates(.stepLR(every: 1, gamma: 0.1), epochs: 3), [0.1, 0.01, 0.001])
    }

    func testCosine() {
        // 0.1 * (1 + cos(pi e / 4)) / 2.
        assertSteps(learningRates(.cosine(epochs: 4), epochs: 5),
                    [0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0])
    }

    func testReduceOnPlateau() {
        // patience 1: a reduction after two epochs without a relative improvement of 1e-4;
        // 0.89995 is not better than 0.9 (needs < 0.89991).
        let metrics = [1.0, 0.9, 0.89995, 0.9, 0.8, 0.8, 0.8, 0.8]
        assertSteps(learningRates(.reduceOnPlateau(factor: 0.1, patience: 1, threshold: 1e-4), epochs: 8, metrics: metrics),
                    [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001])
    }

    // MARK: - The loop with data

    /// pred = x @ w (w: f32[1,1]), loss = mse(pred, y), gradient by hand: 2 x^T (pred - y) / N.
    func regressionGraph() -> Graph {
        var g = Graph(name: "fit")
        let x = g.input("x", f32(N, d(1)))
        let y = g.input("y", f32(N, d(1)), role: .target)
        let w = g.param("w", f32(d(1), d(1)))
        let pred = g.emit(.matmul(transposeA: false, transposeB: false), [x, w])
        g.loss = g.emit(.loss(.mse), [pred, y])
        let diff = g.emit(.binary(.sub), [pred, y])
        let xtd = g.emit(.matmul(transposeA: true, transposeB: false), [x, diff])
        let grad = g.emit(.binary(.div), [g.emit(.binary(.mul), [xtd, g.constant(2)]), g.emit(.count(axes: [0]), [pred])])
        g.gradients = [NamedValue("w", grad)]
        g.train.optimizer = .sgd(lr: 0.1)
        g.train.batch = 2
        g.train.shuffle = false
        return g
    }

    /// x = 1...5, y = 2x.
    let data = ["x": Tensor(shape: [5, 1], scalars: [1, 2, 3, 4, 5]),
                "y": Tensor(shape: [5, 1], scalars: [2, 4, 6, 8, 10])]
    let w0 = ["w": Tensor(shape: [1, 1], scalars: [0])]

    func testBatchesWithAPartialLastBatch() throws {
        // Rows (1, 2) at w = 0: loss 10, grad -10 -> w = 1; rows (3, 4): loss 12.5, grad -25 -> 3.5;
        // row 5: loss 56.25, grad 75 -> -4.
        let r = try Trainer(graph: regressionGraph()).train(data: data, initialParams: w0)
        XCTAssertEqual(r.stepLosses, [10, 12.5, 56.25])
        XCTAssertEqual(r.updates, 3)
        XCTAssertEqual(r.params["w"]!.scalars[0], -4, accuracy: 1e-14)
        XCTAssertEqual(r.epochs.count, 1)
        XCTAssertEqual(r.epochs[0].loss, 101.25 / 5, accuracy: 1e-14)  // (2 * 10 + 2 * 12.5 + 56.25) / 5
        XCTAssertEqual(r.epochs[0].rows, 5)
        XCTAssertNil(r.epochs[0].validationLoss)
    }

    func testDropLastSkipsThePartialBatch() throws {
        var g = regressionGraph()
        g.train.dropLast = true
        let r = try Trainer(graph: g).train(data: data, initialParams: w0)
        XCTAssertEqual(r.stepLosses, [10, 12.5])
        XCTAssertEqual(r.params["w"]!.scalars[0], 3.5, accuracy: 1e-14)
        XCTAssertEqual(r.epochs[0].loss, 11.25, accuracy: 1e-14)
    }

    func testAccumulationDividesByKAndTheTailStillUpdates() throws {
        // Rows (1,2) and (3,4) at w = 0: grads -10 and -50, halved and summed: -30 -> w = 3;
        // the tail, row 5 at w = 3: grad 50, halved: 25 -> w = 0.5.
        var g = regressionGraph()
        g.train.accumulate = 2
        let r = try Trainer(graph: g).train(data: data, initialParams: w0)
        XCTAssertEqual(r.stepLosses, [10, 50, 25])
        XCTAssertEqual(r.updates, 2)
        XCTAssertEqual(r.params["w"]!.scalars[0], 0.5, accuracy: 1e-14)
    }

    func testBatchFullAndEpochs() throws {
        // One batch of all 5 rows per epoch: grad = 2 * sum(x (x w - 2x)) / 5 = 22 (w - 2).
        var g = regressionGraph()
        g.train.batch = nil
        g.train.epochs = 2
        g.train.optimizer = .sgd(lr: 0.01)
        let r = try Trainer(graph: g).train(data: data, initialParams: w0)
        let w1 = 0 - 0.01 * 22 * (0 - 2.0)
        let w2 = w1 - 0.01 * 22 * (w1 - 2)
        XCTAssertEqual(r.updates, 2)
        XCTAssertEqual(r.params["w"]!.scalars[0], w2, accuracy: 1e-14)
        XCTAssertEqual(r.epochs.map(\.loss), r.stepLosses)
    }

    func testShuffleFollowsTheShuffleStream() throws {
        // Seed 0: epoch orders [0, 2, 3, 1, 4] then [2, 3, 0, 1, 4], cut into batches of 2.
        var g = regressionGraph()
        g.train.shuffle = true
        g.train.optimizer = .sgd(lr: 0)
        g.train.epochs = 2
        let r = try Trainer(graph: g).train(data: data, initialParams: w0)
        // Loss at w = 0 of rows {a, b} is mean((2x)^2) = 2 (xa^2 + xb^2).
        func loss(_ rows: [Int]) -> Double {
            let terms: [Double] = rows.map { r in
                let x = Double(r + 1)
                return 4 * x * x
            }
            return terms.reduce(0, +) / Double(rows.count)
        }
        let batches: [[Int]] = [[0, 2], [3, 1], [4], [2, 3], [0, 1], [4]]
        XCTAssertEqual(r.stepLosses, batches.map(loss))
    }

    func testValidationSplitAndPlateauWatchesIt() throws {
        // Seed 0 holds out rows 1 and 2 of 5 (fraction 0.4); the training rows are 0, 3, 4.
        var g = regressionGraph()
        g.train.validation = 0.4
        g.train.optimizer = .sgd(lr: 0)
        g.train.epochs = 3
        g.train.schedule = .reduceOnPlateau(factor: 0.5, patience: 0, threshold: 0)
        let r = try Trainer(graph: g).train(data: data, initialParams: w0)
        XCTAssertEqual(r.split, DataSplit(training: [0, 3, 4], validation: [1, 2]))
        // Training rows x = 1, 4 then 5: mean(4, 64) = 34, then 100.
        XCTAssertEqual(r.stepLosses, [34, 100, 34, 100, 34, 100])
        // Validation rows x = 2, 3 at w = 0: mean(16, 36) = 26, evaluated in batches of 2.
        XCTAssertEqual(r.epochs.map(\.validationLoss), [26, 26, 26])
        var h = regressionGraph()
        h.train.validation = 0.4
        h.train.epochs = 3
        h.train.optimizer = .sgd(lr: 1e-3)
        h.train.schedule = .reduceOnPlateau(factor: 0.5, patience: 0, threshold: 0)
        let s = try Trainer(graph: h).train(data: data, initialParams: ["w": Tensor(shape: [1, 1], scalars: [2])])
        // At the optimum w = 2 every loss is 0: no improvement after the first epoch.
        XCTAssertEqual(s.epochs.map(\.learningRate), [1e-3, 1e-3, 5e-4])
    }

    func testNormalizeUsesTrainingRowStatistics() throws {
        var g = regressionGraph()
        g.train.normalize = ["x"]
        g.train.optimizer = .sgd(lr: 0)
        let r = try Trainer(graph: g).train(data: data, initialParams: ["w": Tensor(shape: [1, 1], scalars: [1])])
        // Population std of 1...5, rounded once to f32 as the checkpoint stores it.
        let std = Double(Float(2.0.squareRoot()))
        XCTAssertEqual(r.normalization["x"], Trainer.FeatureStats(mean: [3], std: [std]))
        // With w = 1 the prediction is the z-scored x: rows x = 1, 2 against y = 2, 4.
        let (z1, z2) = ((1 - 3) / std, (2 - 3) / std)
        XCTAssertEqual(r.stepLosses[0], ((z1 - 2) * (z1 - 2) + (z2 - 4) * (z2 - 4)) / 2, accuracy: 1e-14)
    }

    func testMaxUpdatesStopsMidEpoch() throws {
        let r = try Trainer(graph: regressionGraph()).train(data: data, initialParams: w0, maxUpdates: 2)
        XCTAssertEqual(r.updates, 2)
        XCTAssertEqual(r.params["w"]!.scalars[0], 3.5, accuracy: 1e-14)
        XCTAssertEqual(r.epochs.count, 1)
    }

    func testInitialParamsComeFromTheInitStream() throws {
        var g = regressionGraph()
        g.params[0].initializer = .uniform(low: -1, high: 3)
        g.train.optimizer = .sgd(lr: 0)
        g.train.seed = 0
        let r = try Trainer(graph: g).train(data: data)
        // The first draw of seed 0, stream 1 is 0.18383979100743952: -1 + 4 u.
        XCTAssertEqual(r.params["w"]!.scalars[0], Double(Float(-1 + 4 * 0.18383979100743952)))
    }

    func testDataErrors() {
        let t = Trainer(graph: regressionGraph())
        assertInterpreterError("no data for 'y'") { _ = try t.train(data: ["x": self.data["x"]!]) }
        assertInterpreterError("has 4 rows, but other data has 5") {
            _ = try t.train(data: ["x": self.data["x"]!, "y": Tensor.zeros([4, 1])])
        }
        assertInterpreterError("its data has shape [5]") { _ = try t.train(data: ["x": Tensor.zeros([5]), "y": self.data["y"]!]) }
        var g = regressionGraph()
        g.gradients = []
        assertInterpreterError("run the AD pass first") { _ = try Trainer(graph: g).train(data: self.data) }
    }

    func testEvaluateLoss() throws {
        let t = Trainer(graph: regressionGraph())
        // At w = 0 the per-row losses are 4x^2: 4, 16, 36, 64, 100; in batches of 2 or all at once.
        XCTAssertEqual(try t.evaluateLoss(data: data, params: w0), 44, accuracy: 1e-12)
        XCTAssertEqual(try t.evaluateLoss(data: data, params: w0, batch: 2), 44, accuracy: 1e-12)
        XCTAssertEqual(try t.evaluateLoss(data: data, params: w0, rows: [0, 4]), 52, accuracy: 1e-12)
    }

    /// A model without data: update u draws its masks as epoch u, its accumulated step c as row c
    /// (docs/rng.md); an unbatched mask is that one row.
    func testDropoutMasksOfAModelWithoutData() throws {
        // loss = sum(x * mask), x: f32[6] = ones, p = 0.5; the gradient is the mask.
        var g = Graph(name: "drop")
        let x = g.param("x", f32(d(6)), .ones)
        let mask = g.emit(.dropoutMask(p: 0.5, site: 0), [x])
        g.loss = g.emit(.reduce(.sum, axes: [0], keepdim: false), [g.emit(.binary(.mul), [x, mask])])
        g.gradients = [NamedValue("x", mask)]
        g.train.steps = 2
        g.train.accumulate = 2
        g.train.optimizer = .sgd(lr: 0.1)
        func expectedMask(update: Int, step: Int) -> [Double] {
            let site = DropoutDraw(seed: 0, epoch: update, firstRow: step).siteKey(0)
            let row = DropoutDraw.rowKey(site, position: step)
            return (0..<6).map { SplitMix64.unit(DropoutDraw.bits(row, element: $0)) >= 0.5 ? 2 : 0 }
        }
        let masks = (0..<2).map { u in (0..<2).map { c in expectedMask(update: u, step: c) } }
        XCTAssertEqual(Set(masks.joined().map { $0 }).count, 4, "four different masks")
        var seen = [[Double]]()
        let r = try Trainer(graph: g).train { _, params in seen.append(params["x"]!.scalars) }
        XCTAssertEqual(r.stepLosses[0], masks[0][0].reduce(0, +), accuracy: 1e-12)
        XCTAssertEqual(r.stepLosses[1], masks[0][1].reduce(0, +), accuracy: 1e-12)
        // Each update steps by lr times the mean of its two masks.
        var w = [Double](repeating: 1, count: 6)
        for u in 0..<2 {
            for j in 0..<6 { w[j] -= 0.1 * (masks[u][0][j] + masks[u][1][j]) / 2 }
            assertSteps(seen[u], w)
        }
    }
}
