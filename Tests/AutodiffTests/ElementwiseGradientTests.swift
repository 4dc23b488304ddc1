import XCTest
import DLCIR
@testable import DLCAutodiff

/// Finite-difference checks of the elementwise ops, on seeded random shapes that broadcast in
/// every direction and hold size-1 axes.
final class ElementwiseGradientTests: XCTestCase {
    /// A random shape of rank 0...3 with sizes 1...4.
    private func randomShape(_ f: inout Fixture) -> [Int] {
        (0..<f.int(0...3)).map { _ in f.int(1...4) }
    }

    /// `full` with some leading axes dropped and some axes set to 1: it broadcasts to `full`.
    private func broadcastable(to full: [Int], _ f: inout Fixture) -> [Int] {
        Array(full.dropFirst(f.int(0...full.count))).map { f.int(0...2) == 0 ? 1 : $0 }
    }

    private func checkUnary(_ u: UnaryOp, in range: ClosedRange<Double>? = nil,
                            file: StaticString = #filePath, line: UInt = #line) {
        for seed in 0..<6 {
            var f = Fixture(seed: UInt64(seed))
            let shape = randomShape(&f)
            let x = f.param("x", shape, in: range)
            f.weightedSumLoss(f.unary(u, x))
            assertGradientsMatch(f, file: file, line: line)
        }
    }

    func testNeg() { checkUnary(.neg) }
    func testExp() { checkUnary(.exp) }
    func testLog() { checkUnary(.log, in: 0.2...3) }
    func testSqrt() { checkUnary(.sqrt, in: 0.2...3) }
    func testAbs() { checkUnary(.abs) }
    func testSquare() { checkUnary(.square) }
    func testRelu() { checkUnary(.relu) }
    func testSigmoid() { checkUnary(.sigmoid) }
    func testTanh() { checkUnary(.tanh) }

    func testPow() {
        for (i, c) in [3, 2, 1, 0.5, -1, -2.5, 0].enumerated() {
            var f = Fixture(seed: UInt64(i))
            let x = f.param("x", [2, 3], in: 0.3...2)
            f.weightedSumLoss(f.emit(.pow(c), [x]))
            assertGradientsMatch(f)
        }
    }

    private func checkBinary(_ b: BinaryOp, divisorAwayFromZero: Bool = false,
                             file: StaticString = #filePath, line: UInt = #line) {
        for seed in 0..<16 {
            var f = Fixture(seed: UInt64(seed))
            let full = randomShape(&f)
            // Either side may be the smaller one.
            var (sa, sb) = (broadcastable(to: full, &f), full)
            if seed % 2 == 1 { swap(&sa, &sb) }
            let a = f.param("a", sa)
            let bRange: ClosedRange<Double>? = divisorAwayFromZero ? 0.5...2 : nil
            let bv = f.param("b", sb, in: bRange)
            f.weightedSumLoss(f.binary(b, a, bv))
            assertGradientsMatch(f, file: file, line: line)
        }
    }

    func testAdd() { checkBinary(.add) }
    func testSub() { checkBinary(.sub) }
    func testMul() { checkBinary(.mul) }
    func testDiv() { checkBinary(.div, divisorAwayFromZero: true) }
    func testMaximum() { checkBinary(.maximum) }
    func testMinimum() { checkBinary(.minimum) }

    /// Both operands broadcast: [2,1] against [1,3], [4,1,3] against [2,1], scalar against tensor.
    func testMutualBroadcasting() {
        for b in [BinaryOp.add, .sub, .mul, .div, .maximum, .minimum] {
            for (i, (sa, sb)) in [([2, 1], [1, 3]), ([4, 1, 3], [2, 1]), ([], [2, 3]), ([1], [3, 1])].enumerated() {
                var f = Fixture(seed: UInt64(10 * i + 1))
                let a = f.param("a", sa)
                let bv = f.param("b", sb, in: 0.5...2)
                f.weightedSumLoss(f.binary(b, a, bv))
                assertGradientsMatch(f)
            }
        }
    }

    /// A param against a batched input: only the param gets a gradient, summed over the batch.
    func testBroadcastAgainstBatchedInput() {
        for b in [BinaryOp.add, .sub, .mul, .div, .maximum, .minimum] {
            var f = Fixture(seed: 7, batch: 4)
            let x = f.input("x", [.batch, .fixed(3)], in: 0.5...2)
            let w = f.param("w", [3], in: 0.5...2)
            f.weightedSumLoss(f.binary(b, w, x))
            assertGradientsMatch(f)
        }
    }

    func testSameValueOnBothSides() {
        for b in [BinaryOp.add, .sub, .mul, .div, .maximum, .minimum] {
            var f = Fixture(seed: 3)
            let x = f.param("x", [2, 3], in: 0.5...2)
            f.weightedSumLoss(f.binary(b, x, x))
            assertGradientsMatch(f)
        }
    }

    func testWhere() {
        for seed in 0..<8 {
            var f = Fixture(seed: UInt64(seed))
            let full = [2, 3, 4].suffix(f.int(1...3)).map { $0 }
            let (sc, sa) = (broadcastable(to: full, &f), broadcastable(to: full, &f))
            let c = f.input("c", Shape(sc.map { .fixed($0) }))
            let zero = f.constant(0)
            let positive = f.binary(.gt, c, zero)
            let a = f.param("a", sa)
            let b = f.param("b", full)
            f.weightedSumLoss(f.emit(.select, [positive, a, b]))
            assertGradientsMatch(f)
        }
    }

    /// The mask of dropout is kept from the forward pass: with the same generator in every run
    /// (training mode), the gradient is the mask times g.
    func testDropout() {
        var f = Fixture(seed: 5)
        let x = f.param("x", [4, 5])
        let mask = f.emit(.dropoutMask(p: 0.4, site: 0), [x])
        f.weightedSumLoss(f.binary(.mul, x, mask))
        assertGradientsMatch(f, mode: .training)
        assertGradientsMatch(f, mode: .evaluation)
    }
}
