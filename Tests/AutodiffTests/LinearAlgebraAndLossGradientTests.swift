import XCTest
import DLCIR
@testable import DLCAutodiff

/// Finite-difference checks of matrix products, neural-network ops and losses.
final class LinearAlgebraAndLossGradientTests: XCTestCase {
    private let flags = [(false, false), (false, true), (true, false), (true, true)]

    /// op(a) is m×k, op(b) is k×n; `batchA` / `batchB` put a batch axis of 2 in front.
    private func checkMatmul(batchA: Bool, batchB: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let (m, k, n) = (3, 4, 2)
        for (ta, tb) in flags {
            var f = Fixture(seed: 11)
            let a = f.param("a", (batchA ? [2] : []) + (ta ? [k, m] : [m, k]))
            let b = f.param("b", (batchB ? [2] : []) + (tb ? [n, k] : [k, n]))
            f.weightedSumLoss(f.emit(.matmul(transposeA: ta, transposeB: tb), [a, b]))
            assertGradientsMatch(f, file: file, line: line)
            let train = try! differentiate(f.graph)
            XCTAssertFalse(train.nodes.contains { $0.op == .transpose }, "a transpose node was emitted",
                           file: file, line: line)
        }
    }

    func testMatmul2D() { checkMatmul(batchA: false, batchB: false) }
    func testMatmulBatched() { checkMatmul(batchA: true, batchB: true) }
    func testMatmulBatchedWith2DRight() { checkMatmul(batchA: true, batchB: false) }
    func testMatmulBatchedWith2DLeft() { checkMatmul(batchA: false, batchB: true) }

    /// `linear(x, w, b) = x @ transpose(w) + b` on a batch, as the front end lowers it.
    func testLinearOnBatch() {
        var f = Fixture(seed: 12, batch: 4)
        let x = f.input("x", [.batch, .fixed(3)])
        let w = f.param("w", [2, 3])
        let b = f.param("b", [2])
        let z = f.emit(.matmul(transposeA: false, transposeB: true), [x, w])
        f.weightedSumLoss(f.binary(.add, z, b))
        assertGradientsMatch(f)
    }

    func testSoftmaxAndLogSoftmax() {
        for op in [Op.softmax(axis: 0), .softmax(axis: 1), .logSoftmax(axis: 0), .logSoftmax(axis: 1)] {
            var f = Fixture(seed: 13)
            let x = f.param("x", [3, 4])
            f.weightedSumLoss(f.emit(op, [x]))
            assertGradientsMatch(f)
        }
    }

    /// Each f32 loss with a param prediction and data target, then with a param target too.
    func testLosses() {
        let kinds: [(LossKind, ClosedRange<Double>?, ClosedRange<Double>?)] = [
            (.mse, nil, nil), (.l1, nil, nil), (.bce, 0.05...0.95, 0...1), (.bceLogits, nil, 0...1),
            (.hinge, nil, nil),
        ]
        for (kind, pRange, yRange) in kinds {
            for paramTarget in [false, true] {
                var f = Fixture(seed: 14, batch: 3)
                let p = f.param("p", [3, 2], in: pRange)
                let y: ValueID
                if paramTarget {
                    y = f.param("y", [3, 2], in: yRange)
                } else if kind == .hinge {
                    y = f.input("y", [.fixed(3), .fixed(2)], role: .target, values: [1, -1, -1, 1, 1, -1])
                } else {
                    y = f.input("y", [.fixed(3), .fixed(2)], role: .target, in: yRange)
                }
                f.graph.loss = f.emit(.loss(kind), [p, y])
                assertGradientsMatch(f)
            }
        }
    }

    /// Losses over a batch divide by its run-time size, and are scaled by an outer factor.
    func testLossesOnBatch() {
        for kind in [LossKind.mse, .l1, .bceLogits, .hinge] {
            var f = Fixture(seed: 15, batch: 5)
            let x = f.input("x", [.batch, .fixed(2)])
            let w = f.param("w", [2])
            let y = f.input("y", [.batch, .fixed(2)], role: .target, values: (0..<10).map { $0 % 3 == 0 ? 1 : -1 })
            let p = f.binary(.mul, x, w)
            let l = f.emit(.loss(kind), [p, y])
            f.graph.loss = f.binary(.mul, l, f.constant(3))
            assertGradientsMatch(f)
        }
    }

    /// cross_entropy(z, y) = nll(log_softmax(z), y), on a batch.
    func testCrossEntropy() {
        var f = Fixture(seed: 16, batch: 4)
        let x = f.input("x", [.batch, .fixed(3)])
        let w = f.param("w", [5, 3])
        let z = f.emit(.matmul(transposeA: false, transposeB: true), [x, w])
        let logp = f.emit(.logSoftmax(axis: 1), [z])
        let y = f.input("y", [.batch], dtype: .i32, role: .target, values: [0, 4, 2, 4])
        f.graph.loss = f.emit(.loss(.nll), [logp, y])
        assertGradientsMatch(f)
    }

    /// A two-layer MLP: linear, relu, linear, cross-entropy; gradients for all four params.
    func testMLP() {
        var f = Fixture(seed: 17, batch: 6)
        let x = f.input("x", [.batch, .fixed(4)])
        let y = f.input("y", [.batch], dtype: .i32, role: .target, values: [0, 1, 2, 1, 0, 2])
        let w1 = f.param("fc1.weight", [5, 4]), b1 = f.param("fc1.bias", [5])
        let w2 = f.param("fc2.weight", [3, 5]), b2 = f.param("fc2.bias", [3])
        let h = f.unary(.relu, f.binary(.add, f.emit(.matmul(transposeA: false, transposeB: true), [x, w1]), b1))
        let z = f.binary(.add, f.emit(.matmul(transposeA: false, transposeB: true), [h, w2]), b2)
        f.graph.loss = f.emit(.loss(.nll), [f.emit(.logSoftmax(axis: 1), [z]), y])
        assertGradientsMatch(f)
    }

    /// The lecture's LineGrid: indices computed from data (floor, int, +1) gather rows of a
    /// param grid, and the same rows are hit by several examples.
    func testLineGrid() {
        var f = Fixture(seed: 18, batch: 8)
        let x = f.input("x", [.batch], in: 0...4.99)
        let y = f.input("y", [.batch, .fixed(2)], role: .target)
        let grid = f.param("grid", [6, 2])
        let i = f.unary(.floor, x)
        let a = f.emit(.reshape, [f.binary(.sub, x, i)], declared: TensorType(.f32, [.batch, .fixed(1)]))
        let k = f.unary(.toInt, i)
        let k1 = f.binary(.add, k, f.constant(1, .i32))
        let one = f.constant(1)
        let left = f.binary(.mul, f.emit(.gather, [grid, k]), f.binary(.sub, one, a))
        let right = f.binary(.mul, f.emit(.gather, [grid, k1]), a)
        f.graph.loss = f.emit(.loss(.mse), [f.binary(.add, left, right), y])
        assertGradientsMatch(f)
    }
}
