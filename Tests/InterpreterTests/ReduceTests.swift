import XCTest
import DLCIR
@testable import DLCInterpreter

final class ReduceTests: XCTestCase {
    let x = Tensor(shape: [2, 3], scalars: [1, 5, 5, 7, 0, 7])

    func reduce(_ r: ReduceOp, _ axes: [Int], keepdim: Bool = false) throws -> Tensor {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let y = g.emit(.reduce(r, axes: axes, keepdim: keepdim), [p])
        return try evaluate(g, params: ["x": x])[y]
    }

    func testSum() throws {
        assertTensor(try reduce(.sum, [1]), [2], [11, 14])
        assertTensor(try reduce(.sum, [1], keepdim: true), [2, 1], [11, 14])
        assertTensor(try reduce(.sum, [0]), [3], [8, 5, 12])
        assertTensor(try reduce(.sum, [0], keepdim: true), [1, 3], [8, 5, 12])
        assertTensor(try reduce(.sum, [0, 1]), [], [25])
        assertTensor(try reduce(.sum, [0, 1], keepdim: true), [1, 1], [25])
    }

    func testMean() throws {
        assertTensor(try reduce(.mean, [1]), [2], [11.0 / 3, 14.0 / 3])
        assertTensor(try reduce(.mean, [0]), [3], [4, 2.5, 6])
        assertTensor(try reduce(.mean, [0, 1]), [], [25.0 / 6])
    }

    func testMaxWithTies() throws {
        assertTensor(try reduce(.max, [1]), [2], [5, 7])
        assertTensor(try reduce(.max, [0]), [3], [7, 5, 7])
        assertTensor(try reduce(.max, [0, 1], keepdim: true), [1, 1], [7])
    }

    func testReduceOuterAndInnerAxesOf3D() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(2), d(2)))
        let s = g.emit(.reduce(.sum, axes: [0, 2], keepdim: false), [p])
        let m = g.emit(.reduce(.max, axes: [1], keepdim: true), [p])
        let v = try evaluate(g, params: ["x": Tensor(shape: [2, 2, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])])
        // x[i,j,k] = 1 + 4i + 2j + k: sum over i, k for j = 0: 1+2+5+6 = 14; j = 1: 3+4+7+8 = 22.
        assertTensor(v[s], [2], [14, 22])
        assertTensor(v[m], [2, 1, 2], [3, 4, 7, 8])
    }

    func testI32SumWrapsAndMax() throws {
        var g = Graph(name: "t")
        let k = g.input("k", i32(N))
        let s = g.emit(.reduce(.sum, axes: [0], keepdim: false), [k])
        let m = g.emit(.reduce(.max, axes: [0], keepdim: false), [k])
        let v = try evaluate(g, feeds: ["k": Tensor([2_147_483_647, 2, 5])])
        assertTensor(v[s], [], [2_147_483_654 - 4_294_967_296])
        assertTensor(v[m], [], [2_147_483_647])
    }

    func testCountUsesTheBatch() throws {
        var g = Graph(name: "t")
        let a = g.input("a", f32(N, d(4)))
        let c0 = g.emit(.count(axes: [0]), [a])
        let c1 = g.emit(.count(axes: [1]), [a])
        let c01 = g.emit(.count(axes: [0, 1]), [a])
        let v = try evaluate(g, feeds: ["a": Tensor.zeros([3, 4])])
        assertTensor(v[c0], [], [3])
        assertTensor(v[c1], [], [4])
        assertTensor(v[c01], [], [12])
    }

    func testArgmaxTakesTheFirstMaximum() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let a1 = g.emit(.argmax(axis: 1), [p])
        let a0 = g.emit(.argmax(axis: 0), [p])
        let v = try evaluate(g, params: ["x": x])
        XCTAssertEqual(g.type(of: a1).dtype, .i32)
        assertTensor(v[a1], [2], [1, 0])
        assertTensor(v[a0], [3], [1, 0, 1])
    }

    func testArgmaxOfAllEqualAndNaN() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let a = g.emit(.argmax(axis: 1), [p])
        let v = try evaluate(g, params: ["x": Tensor(shape: [2, 3], scalars: [4, 4, 4, 1, .nan, 9])])
        assertTensor(v[a], [2], [0, 1])
    }

    func testMaxMaskMarksTheFirstMaximum() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let m1 = g.emit(.maxMask(axis: 1), [p])
        let m0 = g.emit(.maxMask(axis: 0), [p])
        let v = try evaluate(g, params: ["x": x])
        assertTensor(v[m1], [2, 3], [0, 1, 0, 1, 0, 0])
        assertTensor(v[m0], [2, 3], [0, 1, 0, 1, 0, 1])
    }

    func testSoftmaxIsStable() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let s = g.emit(.softmax(axis: 1), [p])
        let l = g.emit(.logSoftmax(axis: 1), [p])
        let s0 = g.emit(.softmax(axis: 0), [p])
        let v = try evaluate(g, params: ["x": Tensor(shape: [2, 3], scalars: [1, 2, 3, 1000, 1000, 1000])])
        // e^-2, e^-1, 1 over their sum 1.5032147244080551.
        assertTensor(v[s], [2, 3], [0.09003057317038046, 0.24472847105479764, 0.6652409557748219,
                                    1.0 / 3, 1.0 / 3, 1.0 / 3])
        assertTensor(v[l], [2, 3], [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806,
                                    -1.0986122886681098, -1.0986122886681098, -1.0986122886681098])
        assertTensor(v[s0], [2, 3], [0, 0, 0, 1, 1, 1])
    }
}
