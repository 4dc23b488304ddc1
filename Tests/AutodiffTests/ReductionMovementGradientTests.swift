import XCTest
import DLCIR
@testable import DLCAutodiff

/// Finite-difference checks of reductions and movement ops.
final class ReductionMovementGradientTests: XCTestCase {
    /// Every axis subset of a [2,3,4] tensor, with and without keepdim, and the rank-1 and
    /// scalar cases.
    private let cases: [(dims: [Int], axes: [Int])] = [
        ([2, 3, 4], [0]), ([2, 3, 4], [1]), ([2, 3, 4], [2]), ([2, 3, 4], [0, 1]), ([2, 3, 4], [0, 2]),
        ([2, 3, 4], [1, 2]), ([2, 3, 4], [0, 1, 2]), ([5], [0]), ([3, 1], [1]), ([], []),
    ]

    private func checkReduce(_ r: ReduceOp) {
        for (i, c) in cases.enumerated() {
            for keepdim in [false, true] {
                var f = Fixture(seed: UInt64(i))
                let x = f.param("x", c.dims)
                f.weightedSumLoss(f.emit(.reduce(r, axes: c.axes, keepdim: keepdim), [x]))
                assertGradientsMatch(f)
            }
        }
    }

    func testSum() { checkReduce(.sum) }
    func testMean() { checkReduce(.mean) }
    func testMax() { checkReduce(.max) }

    /// A mean over the batch axis divides by the run-time batch size (a `count` node).
    func testMeanOverBatch() {
        for axes in [[0], [0, 1], [1]] {
            var f = Fixture(seed: 2, batch: 5)
            let x = f.input("x", [.batch, .fixed(3)])
            let w = f.param("w", [3])
            let y = f.binary(.mul, x, w)
            f.weightedSumLoss(f.emit(.reduce(.mean, axes: axes, keepdim: false), [y]))
            assertGradientsMatch(f)
        }
    }

    func testReshape() {
        var f = Fixture(seed: 1)
        let x = f.param("x", [2, 6])
        f.weightedSumLoss(f.emit(.reshape, [x], declared: TensorType(.f32, [.fixed(3), .fixed(1), .fixed(4)])))
        assertGradientsMatch(f)
    }

    func testTranspose() {
        var f = Fixture(seed: 1)
        let x = f.param("x", [2, 5])
        f.weightedSumLoss(f.emit(.transpose, [x]))
        assertGradientsMatch(f)
    }

    func testBroadcastAndSumTo() {
        for (i, (from, to)) in [([3], [2, 3]), ([2, 1], [2, 4]), ([], [3]), ([1, 3], [4, 2, 3])].enumerated() {
            var f = Fixture(seed: UInt64(i))
            let x = f.param("x", from)
            f.weightedSumLoss(f.emit(.broadcast, [x], declared: TensorType(.f32, Shape(to.map { .fixed($0) }))))
            assertGradientsMatch(f)

            var g = Fixture(seed: UInt64(i))
            let y = g.param("y", to)
            g.weightedSumLoss(g.emit(.sumTo, [y], declared: TensorType(.f32, Shape(from.map { .fixed($0) }))))
            assertGradientsMatch(g)
        }
    }

    func testConcat() {
        for axis in 0..<2 {
            var f = Fixture(seed: UInt64(axis))
            let sizes = [2, 1, 3]
            let parts = sizes.enumerated().map { i, n -> ValueID in
                f.param("p\(i)", axis == 0 ? [n, 4] : [4, n])
            }
            f.weightedSumLoss(f.emit(.concat(axis: axis), parts))
            assertGradientsMatch(f)
        }
        // A single operand, and an operand that does not need a gradient.
        var f = Fixture(seed: 9)
        let p = f.param("p", [2, 3])
        let x = f.input("x", [.fixed(2), .fixed(2)])
        f.weightedSumLoss(f.emit(.concat(axis: 1), [x, p]))
        assertGradientsMatch(f)
    }

    func testSlice() {
        for (start, length) in [(0, 2), (1, 3), (3, 2), (0, 5)] {
            for axis in 0..<2 {
                var f = Fixture(seed: UInt64(start))
                let x = f.param("x", axis == 0 ? [5, 3] : [3, 5])
                f.weightedSumLoss(f.emit(.slice(axis: axis, start: start, length: length), [x]))
                assertGradientsMatch(f)
            }
        }
    }

    func testGather() {
        for idxShape in [[4], [2, 3]] {
            var f = Fixture(seed: 4)
            let table = f.param("table", [5, 3])
            let count = idxShape.reduce(1, *)
            let idx = f.input("idx", Shape(idxShape.map { .fixed($0) }), dtype: .i32,
                              values: (0..<count).map { Double(($0 * 3) % 5 % 4) })  // repeats
            f.weightedSumLoss(f.emit(.gather, [table, idx]))
            assertGradientsMatch(f)
        }
    }

    func testScatterAdd() {
        var f = Fixture(seed: 4)
        let updates = f.param("updates", [4, 3])
        let idx = f.input("idx", [.fixed(4)], dtype: .i32, values: [1, 0, 1, 4])
        f.weightedSumLoss(f.emit(.scatterAdd, [idx, updates], declared: TensorType(.f32, [.fixed(5), .fixed(3)])))
        assertGradientsMatch(f)
    }
}
