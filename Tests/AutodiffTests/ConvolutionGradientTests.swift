import XCTest
import DLCIR
import DLCInterpreter
@testable import DLCAutodiff

/// Finite-difference checks of convolution and pooling on random shapes, strides and paddings,
/// and of how pooling routes gradients at ties (where finite differences are undefined).
final class ConvolutionGradientTests: XCTestCase {
    /// (batch, channels, height, width, out channels, kernel, stride, padding)
    private let convolutions: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 5, 5, 1, 3, 1, 0), (2, 3, 6, 5, 4, 3, 1, 1), (3, 2, 7, 7, 3, 3, 2, 1), (2, 2, 5, 6, 2, 2, 2, 0),
        (1, 3, 4, 4, 2, 1, 1, 0), (2, 1, 6, 6, 2, 5, 1, 2), (1, 2, 8, 5, 3, 3, 3, 2), (2, 2, 3, 3, 2, 3, 1, 0),
    ]

    func testConv2dOnRandomShapes() {
        for (i, (n, c, h, w, o, k, s, p)) in convolutions.enumerated() {
            for (bias, relu) in [(true, false), (false, false), (true, true)] {
                var f = Fixture(seed: UInt64(10 * i + (bias ? 1 : 0) + (relu ? 2 : 0)), batch: n)
                let x = f.param("x", [n, c, h, w])
                let weight = f.param("w", [o, c, k, k])
                var operands = [x, weight]
                if bias { operands.append(f.param("b", [o])) }
                f.weightedSumLoss(f.emit(.conv2d(stride: s, padding: p, relu: relu), operands))
                assertGradientsMatch(f)
            }
        }
    }

    /// A convolution of a batch input (the batch known only at run time): the gradients of the
    /// weight and bias sum over the rows.
    func testConv2dOverTheBatch() {
        var f = Fixture(seed: 3, batch: 4)
        let x = f.input("x", [.batch, .fixed(2), .fixed(5), .fixed(5)])
        let w = f.param("w", [3, 2, 3, 3]), b = f.param("b", [3])
        f.weightedSumLoss(f.emit(.conv2d(stride: 2, padding: 1, relu: false), [x, w, b]))
        assertGradientsMatch(f)
    }

    /// (height, width, kernel, stride, padding): overlapping windows, uncovered edges, padding.
    private let windows: [(Int, Int, Int, Int, Int)] = [
        (4, 4, 2, 2, 0), (5, 5, 2, 2, 0), (5, 6, 3, 1, 1), (6, 5, 3, 2, 1), (7, 7, 4, 3, 2), (3, 3, 3, 1, 0),
        (4, 5, 2, 1, 1),
    ]

    /// Max pooling on values far apart (no ties), so that central differences are defined.
    func testMaxPool2dOnRandomShapes() {
        for (i, (h, w, k, s, p)) in windows.enumerated() {
            var f = Fixture(seed: UInt64(i), batch: 2)
            let count = 2 * 3 * h * w
            // A shuffled ramp: distinct values 0.01 apart, so no perturbation changes a winner.
            var values = (0..<count).map { Double($0) * 0.01 - 1 }
            for j in stride(from: count - 1, to: 0, by: -1) { values.swapAt(j, f.int(0...j)) }
            let x = f.param("x", [2, 3, h, w], values: values)
            f.weightedSumLoss(f.emit(.maxPool2d(Window2d(kernel: k, stride: s, padding: p)), [x]))
            assertGradientsMatch(f)
        }
    }

    func testAvgPool2dOnRandomShapes() {
        for (i, (h, w, k, s, p)) in windows.enumerated() {
            var f = Fixture(seed: UInt64(i), batch: 2)
            let x = f.param("x", [2, 3, h, w])
            f.weightedSumLoss(f.emit(.avgPool2d(Window2d(kernel: k, stride: s, padding: p)), [x]))
            assertGradientsMatch(f)
        }
    }

    /// The gradient of each window goes to its first maximal cell in row-major order; windows
    /// that overlap add up; a padding cell never wins, even against -inf.
    func testMaxPoolTiesGoToTheFirstMaximalCell() throws {
        var f = Fixture(seed: 1, batch: 1)
        let x = f.param("x", [1, 1, 3, 3], values: [1, 2, 2,
                                                     2, 0, 2,
                                                     -.infinity, -.infinity, 1])
        f.graph.loss = f.sum(f.emit(.maxPool2d(Window2d(kernel: 2, stride: 1, padding: 1)), [x]))
        let dx = try gradients(f)["x"]!
        // 4x4 windows over the padded 5x5 input, each routing 1 to its winner: (0,1) wins four
        // (its tie with (0,2) and (1,0) goes to it as the first), (1,0) three, and the bottom
        // row's windows of -inf go to (2,0), their first real cell, never to a padding cell.
        XCTAssertEqual(dx.scalars, [1, 4, 2,
                                    3, 0, 2,
                                    2, 0, 2])
    }

    /// A NaN always wins a window (the last one of the window, as PyTorch scans it).
    func testMaxPoolNaNWins() throws {
        var f = Fixture(seed: 1, batch: 1)
        let x = f.param("x", [1, 1, 2, 2], values: [5, .nan, 7, .nan])
        let y = f.emit(.maxPool2d(Window2d(kernel: 2, stride: 2, padding: 0)), [x])
        f.graph.loss = f.sum(y)
        let train = try differentiate(f.graph)
        let values = try Interpreter(graph: train).run(feeds: f.feeds, params: f.params)
        XCTAssertTrue(values[y].scalars[0].isNaN)
        XCTAssertEqual(values[train.gradients[0].value].scalars, [0, 0, 0, 1])
    }
}
