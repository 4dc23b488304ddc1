import XCTest
import DLCIR
@testable import DLCInterpreter

/// Convolution and pooling against values PyTorch computes (torch 2.15, float64):
///
///     x = 3 * sin(0.7 * arange(80).reshape(2, 2, 4, 5))
///     w = cos(0.3 * arange(54).reshape(3, 2, 3, 3)); b = [0.5, -1, 0.25]
///     F.conv2d(x, w, b, stride=2, padding=1); F.max_pool2d(x, 3, 2, 1); F.avg_pool2d(x, 3, 2, 1)
final class ConvolutionTests: XCTestCase {
    let xs = (0..<80).map { 3 * sin(0.7 * Double($0)) }

    func run(_ op: Op, _ operands: [(String, [Int], [Double])]) throws -> Tensor {
        var g = Graph(name: "t")
        var params: [String: Tensor] = [:]
        let ids = operands.map { name, shape, values -> ValueID in
            params[name] = Tensor(shape: shape, scalars: values)
            return g.param(name, TensorType(.f32, Shape(shape.map { .fixed($0) })))
        }
        let y = g.emit(op, ids)
        return try evaluate(g, params: params)[y]
    }

    func testConv2dMatchesPyTorch() throws {
        let w = (0..<54).map { cos(0.3 * Double($0)) }
        let y = try run(.conv2d(stride: 2, padding: 1, relu: false),
                        [("x", [2, 2, 4, 5], xs), ("w", [3, 2, 3, 3], w), ("b", [3], [0.5, -1, 0.25])])
        assertTensor(y, [2, 3, 2, 3], [
            -1.2471215358, 5.2298529272, 5.6688562904, 4.1250587974, 0.0234066533, -2.8712198554, -2.4230242237,
            1.586627232, 1.1494662765, -0.4600312068, -4.3921424379, -2.6211044683, 0.1907548617, -1.1964251735,
            -2.1903544249, -2.6896301048, -3.5793439323, 1.5634129411, 3.5904563145, -2.6177649926, -4.7329966535,
            -3.4881465854, -0.5101020794, 3.4037569293, 1.2454159823, -2.7624415235, -3.08428512, -2.2013797952,
            1.8080822733, 1.0493742105, 0.0098427405, 1.1305468341, 2.8372348194, 2.7131321908, 4.8246417073,
            -0.0523105062,
        ], accuracy: 1e-9)
        // ReLU fused in: the same values, negatives cut to 0.
        let r = try run(.conv2d(stride: 2, padding: 1, relu: true),
                        [("x", [2, 2, 4, 5], xs), ("w", [3, 2, 3, 3], w), ("b", [3], [0.5, -1, 0.25])])
        XCTAssertEqual(r.scalars, y.scalars.map { max($0, 0) })
    }

    func testMaxPool2dMatchesPyTorch() throws {
        let y = try run(.maxPool2d(Window2d(kernel: 3, stride: 2, padding: 1)), [("x", [2, 2, 4, 5], xs)])
        assertTensor(y, [2, 2, 2, 3], [
            1.9326530617, 2.95634919, 2.5896280999, 2.9645047016, 2.9645047016, 2.0087092866, 2.9718220671,
            2.5372404934, 2.9782992175, 2.5099669156, 2.9839343216, 2.9839343216, 2.1185083715, 2.9887257863,
            2.4532987636, 2.9926722567, 2.9926722567, 2.4532987636, 2.9957726172, 2.3938563502, 2.1887302122,
            2.9957726172, 2.3938563502, 2.9980259912,
        ], accuracy: 1e-9)
    }

    /// Padding cells count as zeros in the average (count_include_pad).
    func testAvgPool2dMatchesPyTorch() throws {
        let y = try run(.avgPool2d(Window2d(kernel: 3, stride: 2, padding: 1)), [("x", [2, 2, 4, 5], xs)])
        assertTensor(y, [2, 2, 2, 3], [
            -0.192713771, 0.0025272537, 0.1945815931, -0.4786925522, -0.6290404376, 0.013786435, 0.085298453,
            0.2981157521, 0.135030525, -0.3269666651, 0.2926268668, 0.5432389623, 0.2160407173, 0.0789997836,
            -0.1576541964, 0.3892755277, 0.7090664051, 0.134775534, -0.0262168396, -0.2765113308, -0.1781449176,
            0.4334235707, -0.0987153313, -0.5063812991,
        ], accuracy: 1e-9)
        let corner = try run(.avgPool2d(Window2d(kernel: 2, stride: 2, padding: 1)), [("x", [1, 1, 2, 2], [4, 8, 12, 16])])
        assertTensor(corner, [1, 1, 2, 2], [1, 2, 3, 4])
    }

    /// Max pooling pads with -inf: a window over padding and -inf cells gives -inf, not 0.
    func testMaxPoolPaddingNeverWins() throws {
        let y = try run(.maxPool2d(Window2d(kernel: 2, stride: 2, padding: 1)),
                        [("x", [1, 1, 2, 2], [-.infinity, -3, -5, -.infinity])])
        assertTensor(y, [1, 1, 2, 2], [-.infinity, -3, -5, -.infinity])
    }

    /// if_training picks its first operand in training, its second otherwise.
    func testIfTraining() throws {
        var g = Graph(name: "t")
        let a = g.param("a", TensorType(.f32, [.fixed(2)])), b = g.param("b", TensorType(.f32, [.fixed(2)]))
        let y = g.emit(.ifTraining, [a, b])
        let params = ["a": Tensor([1, 2]), "b": Tensor([3, 4])]
        let dropout = DropoutDraw(seed: 0, epoch: 0, firstRow: 0)
        XCTAssertEqual(try Interpreter(graph: g).run(feeds: [:], params: params, mode: .training, dropout: dropout)[y].scalars, [1, 2])
        XCTAssertEqual(try evaluate(g, params: params)[y].scalars, [3, 4])
    }
}
