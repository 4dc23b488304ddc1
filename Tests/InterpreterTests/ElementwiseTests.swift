import XCTest
import DLCDiagnostics
import DLCIR
@testable import DLCInterpreter

final class ElementwiseTests: XCTestCase {
    func testBroadcastingAddInEachDirection() throws {
        var g = Graph(name: "t")
        let a = g.input("a", f32(N, d(3)))
        let b = g.param("b", f32(d(3)))
        let c = g.param("c", f32(d(2), d(1)))
        let e = g.param("e", f32(d(1), d(3)))
        let ab = g.emit(.binary(.add), [a, b])      // [N,3] + [3]
        let ba = g.emit(.binary(.add), [b, a])      // [3] + [N,3]
        let ce = g.emit(.binary(.sub), [c, e])      // [2,1] - [1,3] -> [2,3]
        let ec = g.emit(.binary(.sub), [e, c])
        let s = g.emit(.binary(.mul), [a, g.constant(2)])  // scalar on the right
        let values = try evaluate(g, feeds: ["a": Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])],
                                  params: ["b": Tensor([10, 20, 30]),
                                           "c": Tensor(shape: [2, 1], scalars: [1, 2]),
                                           "e": Tensor(shape: [1, 3], scalars: [10, 20, 30])])
        XCTAssertEqual(values.batch, 2)
        assertTensor(values[ab], [2, 3], [11, 22, 33, 14, 25, 36])
        assertTensor(values[ba], [2, 3], [11, 22, 33, 14, 25, 36])
        assertTensor(values[ce], [2, 3], [-9, -19, -29, -8, -18, -28])
        assertTensor(values[ec], [2, 3], [9, 19, 29, 8, 18, 28])
        assertTensor(values[s], [2, 3], [2, 4, 6, 8, 10, 12])
    }

    func testDivisionAndMaximumMinimumTies() throws {
        var g = Graph(name: "t")
        let a = g.param("a", f32(d(3)))
        let b = g.param("b", f32(d(3)))
        let q = g.emit(.binary(.div), [a, b])
        let mx = g.emit(.binary(.maximum), [a, b])
        let mn = g.emit(.binary(.minimum), [a, b])
        let v = try evaluate(g, params: ["a": Tensor([1, 5, 3]), "b": Tensor([2, 5, 0])])
        assertTensor(v[q], [3], [0.5, 1, .infinity])
        assertTensor(v[mx], [3], [2, 5, 3])
        assertTensor(v[mn], [3], [1, 5, 0])
    }

    func testMaximumPropagatesNaN() throws {
        var g = Graph(name: "t")
        let a = g.param("a", f32(d(2)))
        let mx = g.emit(.binary(.maximum), [a, g.constant(0)])
        let r = g.emit(.unary(.relu), [a])
        let v = try evaluate(g, params: ["a": Tensor([.nan, -1])])
        assertTensor(v[mx], [2], [.nan, 0])
        assertTensor(v[r], [2], [.nan, 0])
    }

    func testComparisonsGiveZeroOrOne() throws {
        var g = Graph(name: "t")
        let a = g.param("a", f32(d(3)))
        let two = g.constant(2)
        let ops: [BinaryOp] = [.eq, .ne, .lt, .le, .gt, .ge]
        let results = ops.map { g.emit(.binary($0), [a, two]) }
        let v = try evaluate(g, params: ["a": Tensor([1, 2, 3])])
        let expected: [[Double]] = [[0, 1, 0], [1, 0, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1]]
        for (r, e) in zip(results, expected) {
            XCTAssertEqual(g.type(of: r).dtype, .f32)
            assertTensor(v[r], [3], e)
        }
    }

    func testI32FloorDivAndModOfNegatives() throws {
        var g = Graph(name: "t")
        let a = g.input("a", i32(N))
        let b = g.input("b", i32(N))
        let q = g.emit(.binary(.floorDiv), [a, b])
        let r = g.emit(.binary(.mod), [a, b])
        let v = try evaluate(g, feeds: ["a": Tensor([7, -7, 7, -7, 0, 6, -6]),
                                        "b": Tensor([2, 2, -2, -2, 3, 3, 3])])
        // Python: 7//2=3, -7//2=-4, 7//-2=-4, -7//-2=3; 7%2=1, -7%2=1, 7%-2=-1, -7%-2=-1.
        assertTensor(v[q], [7], [3, -4, -4, 3, 0, 2, -2])
        assertTensor(v[r], [7], [1, 1, -1, -1, 0, 0, 0])
    }

    func testI32DivisionByZeroIsAnError() {
        var g = Graph(name: "t")
        let a = g.input("a", i32(N))
        g.emit(.binary(.mod), [a, g.constant(0, .i32)])
        assertInterpreterError("division by zero") {
            _ = try evaluate(g, feeds: ["a": Tensor([1, 2])])
        }
    }

    func testI32ArithmeticWrapsAround() throws {
        var g = Graph(name: "t")
        let a = g.input("a", i32(N))
        let s = g.emit(.binary(.add), [a, g.constant(1, .i32)])
        let m = g.emit(.binary(.mul), [a, g.constant(2, .i32)])
        let n = g.emit(.unary(.neg), [a])
        let q = g.emit(.binary(.floorDiv), [a, g.constant(-1, .i32)])
        let v = try evaluate(g, feeds: ["a": Tensor([2_147_483_647, -2_147_483_648, -3])])
        assertTensor(v[s], [3], [-2_147_483_648, -2_147_483_647, -2])
        assertTensor(v[m], [3], [-2, 0, -6])
        assertTensor(v[n], [3], [-2_147_483_647, -2_147_483_648, 3])
        assertTensor(v[q], [3], [-2_147_483_647, -2_147_483_648, 3])
    }

    func testCasts() throws {
        var g = Graph(name: "t")
        let x = g.param("x", f32(d(5)))
        let i = g.emit(.unary(.toInt), [x])
        let f = g.emit(.unary(.toFloat), [i])
        let v = try evaluate(g, params: ["x": Tensor([2.7, -2.7, 0.5, -0.5, -3])])
        XCTAssertEqual(g.type(of: i).dtype, .i32)
        assertTensor(v[i], [5], [2, -2, 0, 0, -3])
        XCTAssertFalse(v[i].scalars[3].sign == .minus, "int(-0.5) is 0, not -0")
        assertTensor(v[f], [5], [2, -2, 0, 0, -3])
    }

    func testIntOfNaNOrHugeIsAnError() {
        for bad in [Double.nan, 3e9, -.infinity] {
            var g = Graph(name: "t")
            let x = g.param("x", f32(d(1)))
            g.emit(.unary(.toInt), [x])
            assertInterpreterError("outside the range of i32") {
                _ = try evaluate(g, params: ["x": Tensor([bad])])
            }
        }
    }

    func testUnaryOps() throws {
        var g = Graph(name: "t")
        let x = g.param("x", f32(d(4)))
        func u(_ op: UnaryOp) -> ValueID { g.emit(.unary(op), [x]) }
        let (neg, abs, sq, relu, floor, sign, tanh) = (u(.neg), u(.abs), u(.square), u(.relu), u(.floor), u(.sign), u(.tanh))
        let v = try evaluate(g, params: ["x": Tensor([-1.5, 0, 1.5, 2])])
        assertTensor(v[neg], [4], [1.5, 0, -1.5, -2])
        assertTensor(v[abs], [4], [1.5, 0, 1.5, 2])
        assertTensor(v[sq], [4], [2.25, 0, 2.25, 4])
        assertTensor(v[relu], [4], [0, 0, 1.5, 2])
        assertTensor(v[floor], [4], [-2, 0, 1, 2])
        assertTensor(v[sign], [4], [-1, 0, 1, 1])
        assertTensor(v[tanh], [4], [-0.905148253644866567, 0, 0.905148253644866567, 0.964027580075816884])
    }

    func testExpLogSqrtSigmoid() throws {
        var g = Graph(name: "t")
        let x = g.param("x", f32(d(4)))
        let exp = g.emit(.unary(.exp), [x])
        let log = g.emit(.unary(.log), [x])
        let sqrt = g.emit(.unary(.sqrt), [x])
        let sig = g.emit(.unary(.sigmoid), [x])
        let v = try evaluate(g, params: ["x": Tensor([0, 1, 4, 1000])])
        assertTensor(v[exp], [4], [1, 2.718281828459045, 54.598150033144236, .infinity])
        assertTensor(v[log], [4], [-.infinity, 0, 1.3862943611198906, 6.907755278982137])
        assertTensor(v[sqrt], [4], [0, 1, 2, 31.622776601683793])
        assertTensor(v[sig], [4], [0.5, 0.7310585786300049, 0.9820137900379085, 1])
        // No overflow on the negative side either.
        var h = Graph(name: "t")
        let y = h.param("y", f32(d(2)))
        let s = h.emit(.unary(.sigmoid), [y])
        assertTensor(try evaluate(h, params: ["y": Tensor([-1000, -1])])[s], [2], [0, 0.2689414213699951])
    }

    func testPow() throws {
        var g = Graph(name: "t")
        let x = g.param("x", f32(d(3)))
        let p2 = g.emit(.pow(2), [x])
        let pm1 = g.emit(.pow(-1), [x])
        let ph = g.emit(.pow(0.5), [x])
        let v = try evaluate(g, params: ["x": Tensor([-3, 0.5, 4])])
        assertTensor(v[p2], [3], [9, 0.25, 16])
        assertTensor(v[pm1], [3], [-1.0 / 3, 2, 0.25])
        assertTensor(v[ph], [3], [.nan, 0.7071067811865476, 2])
    }

    func testSelectBroadcasts() throws {
        var g = Graph(name: "t")
        let c = g.param("c", f32(d(2), d(1)))
        let a = g.param("a", f32(d(3)))
        let w = g.emit(.select, [c, a, g.constant(-1)])
        let v = try evaluate(g, params: ["c": Tensor(shape: [2, 1], scalars: [1, 0]), "a": Tensor([1, 2, 3])])
        assertTensor(v[w], [2, 3], [1, 2, 3, -1, -1, -1])
    }

    func testI32SelectAndComparison() throws {
        var g = Graph(name: "t")
        let k = g.input("k", i32(N))
        let big = g.emit(.binary(.gt), [k, g.constant(1, .i32)])
        let w = g.emit(.select, [big, k, g.constant(0, .i32)])
        let v = try evaluate(g, feeds: ["k": Tensor([0, 1, 2, 3])])
        assertTensor(v[big], [4], [0, 0, 1, 1])
        assertTensor(v[w], [4], [0, 0, 2, 3])
    }
}
