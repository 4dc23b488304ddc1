import XCTest
import DLCDiagnostics
import DLCIR
@testable import DLCInterpreter

final class MovementTests: XCTestCase {
    let m23 = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])

    func testReshapeTransposeBroadcast() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let r = g.emit(.reshape, [p], declared: f32(d(3), d(2)))
        let t = g.emit(.transpose, [p])
        let v3 = g.param("v", f32(d(3)))
        let b = g.emit(.broadcast, [v3], declared: f32(d(2), d(3)))
        let v = try evaluate(g, params: ["x": m23, "v": Tensor([7, 8, 9])])
        assertTensor(v[r], [3, 2], [1, 2, 3, 4, 5, 6])
        assertTensor(v[t], [3, 2], [1, 4, 2, 5, 3, 6])
        assertTensor(v[b], [2, 3], [7, 8, 9, 7, 8, 9])
    }

    func testReshapeWithTheBatch() throws {
        var g = Graph(name: "t")
        let a = g.input("a", f32(N, d(2), d(2)))
        let r = g.emit(.reshape, [a], declared: f32(N, d(4)))
        let v = try evaluate(g, feeds: ["a": Tensor(shape: [2, 2, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])])
        assertTensor(v[r], [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])
    }

    func testSumToEachShape() throws {
        var g = Graph(name: "t")
        let p = g.param("x", f32(d(2), d(3)))
        let toRow = g.emit(.sumTo, [p], declared: f32(d(3)))
        let toCol = g.emit(.sumTo, [p], declared: f32(d(2), d(1)))
        let toOne = g.emit(.sumTo, [p], declared: f32(d(1), d(3)))
        let toScalar = g.emit(.sumTo, [p], declared: f32())
        let same = g.emit(.sumTo, [p], declared: f32(d(2), d(3)))
        let v = try evaluate(g, params: ["x": m23])
        assertTensor(v[toRow], [3], [5, 7, 9])
        assertTensor(v[toCol], [2, 1], [6, 15])
        assertTensor(v[toOne], [1, 3], [5, 7, 9])
        assertTensor(v[toScalar], [], [21])
        assertTensor(v[same], [2, 3], [1, 2, 3, 4, 5, 6])
    }

    func testConcatAndSlice() throws {
        var g = Graph(name: "t")
        let a = g.param("a", f32(d(2), d(1)))
        let b = g.param("b", f32(d(2), d(2)))
        let c1 = g.emit(.concat(axis: 1), [a, b, a])
        let c0 = g.emit(.concat(axis: 0), [b, b])
        let s1 = g.emit(.slice(axis: 1, start: 1, length: 2), [c1])
        let s0 = g.emit(.slice(axis: 0, start: 1, length: 2), [c0])
        let v = try evaluate(g, params: ["a": Tensor(shape: [2, 1], scalars: [1, 2]),
                                         "b": Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])])
        assertTensor(v[c1], [2, 4], [1, 3, 4, 1, 2, 5, 6, 2])
        assertTensor(v[c0], [4, 2], [3, 4, 5, 6, 3, 4, 5, 6])
        assertTensor(v[s1], [2, 2], [3, 4, 5, 6])
        assertTensor(v[s0], [2, 2], [5, 6, 3, 4])
    }

    func testConcatWithTheBatchInFront() throws {
        var g = Graph(name: "t")
        let a = g.input("a", f32(N, d(1)))
        let b = g.input("b", f32(N, d(2)))
        let c = g.emit(.concat(axis: 1), [a, b])
        let v = try evaluate(g, feeds: ["a": Tensor(shape: [2, 1], scalars: [1, 2]),
                                        "b": Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])])
        assertTensor(v[c], [2, 3], [1, 3, 4, 2, 5, 6])
    }

    // A = [[1,2],[3,4]], B = [[5,6],[7,8]].
    let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    let b = Tensor(shape: [2, 2], scalars: [5, 6, 7, 8])

    func testMatmulTransposeFlags() throws {
        var g = Graph(name: "t")
        let pa = g.param("a", f32(d(2), d(2)))
        let pb = g.param("b", f32(d(2), d(2)))
        let nn = g.emit(.matmul(transposeA: false, transposeB: false), [pa, pb])
        let tn = g.emit(.matmul(transposeA: true, transposeB: false), [pa, pb])
        let nt = g.emit(.matmul(transposeA: false, transposeB: true), [pa, pb])
        let tt = g.emit(.matmul(transposeA: true, transposeB: true), [pa, pb])
        let v = try evaluate(g, params: ["a": a, "b": b])
        assertTensor(v[nn], [2, 2], [19, 22, 43, 50])
        assertTensor(v[tn], [2, 2], [26, 30, 38, 44])
        assertTensor(v[nt], [2, 2], [17, 23, 39, 53])
        assertTensor(v[tt], [2, 2], [23, 31, 34, 46])
    }

    func testMatmulRectangular() throws {
        var g = Graph(name: "t")
        let x = g.input("x", f32(N, d(3)))
        let w = g.param("w", f32(d(2), d(3)))
        let y = g.emit(.matmul(transposeA: false, transposeB: true), [x, w])  // linear: x @ w^T
        let v = try evaluate(g, feeds: ["x": Tensor(shape: [1, 3], scalars: [1, 2, 3])],
                             params: ["w": Tensor(shape: [2, 3], scalars: [1, 0, -1, 2, 2, 2])])
        assertTensor(v[y], [1, 2], [-2, 12])
    }

    func testMatmulWithALeadingAxis() throws {
        let identity = [1.0, 0, 0, 1]
        var g = Graph(name: "t")
        let sa = g.param("sa", f32(d(2), d(2), d(2)))
        let sb = g.param("sb", f32(d(2), d(2), d(2)))
        let pa = g.param("a", f32(d(2), d(2)))
        let pb = g.param("b", f32(d(2), d(2)))
        let left = g.emit(.matmul(transposeA: false, transposeB: false), [sa, pb])   // [A, I] @ B
        let right = g.emit(.matmul(transposeA: false, transposeB: false), [pa, sb])  // A @ [B, I]
        let both = g.emit(.matmul(transposeA: false, transposeB: false), [sa, sb])   // [A, I] @ [B, I]
        let bothT = g.emit(.matmul(transposeA: true, transposeB: true), [sa, sb])    // [A^T B^T, I]
        let v = try evaluate(g, params: ["sa": Tensor(shape: [2, 2, 2], scalars: a.scalars + identity),
                                         "sb": Tensor(shape: [2, 2, 2], scalars: b.scalars + identity),
                                         "a": a, "b": b])
        assertTensor(v[left], [2, 2, 2], [19, 22, 43, 50, 5, 6, 7, 8])
        assertTensor(v[right], [2, 2, 2], [19, 22, 43, 50, 1, 2, 3, 4])
        assertTensor(v[both], [2, 2, 2], [19, 22, 43, 50, 1, 0, 0, 1])
        assertTensor(v[bothT], [2, 2, 2], [23, 31, 34, 46, 1, 0, 0, 1])
    }

    func testGatherRows() throws {
        var g = Graph(name: "t")
        let table = g.param("grid", f32(d(3), d(2)))
        let idx = g.input("k", i32(N, d(2)))
        let rows = g.emit(.gather, [table, idx])
        let v = try evaluate(g, feeds: ["k": Tensor(shape: [2, 2], scalars: [2, 0, 1, 1])],
                             params: ["grid": Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])])
        assertTensor(v[rows], [2, 2, 2], [5, 6, 1, 2, 3, 4, 3, 4])
    }

    func testGatherOutOfRangeIsAnErrorNamingTheSourceLine() throws {
        for bad in [3.0, -1.0] {
            var g = Graph(name: "t")
            let table = g.param("grid", f32(d(3), d(2)))
            let idx = g.input("k", i32(N))
            let rows = g.add(.gather, [table, idx], type: f32(N, d(2)), name: "pred",
                             location: SourceLocation(line: 7, column: 16))
            do {
                _ = try evaluate(g, feeds: ["k": Tensor([0, bad])], params: ["grid": Tensor.zeros([3, 2])])
                XCTFail("an out-of-range index must be an error")
            } catch let e as InterpreterError {
                XCTAssertEqual(e.location, SourceLocation(line: 7, column: 16))
                XCTAssertEqual(e.value, rows)
                XCTAssertTrue(e.description.hasPrefix("7:16: "), e.description)
                XCTAssertTrue(e.message.contains("index \(Int(bad)) is out of range for a table of 3 rows"), e.message)
            }
        }
    }

    func testScatterAddAccumulatesRepeatedRows() throws {
        var g = Graph(name: "t")
        let idx = g.input("k", i32(N))
        let up = g.input("u", f32(N, d(2)))
        let s = g.emit(.scatterAdd, [idx, up], declared: f32(d(3), d(2)))
        let v = try evaluate(g, feeds: ["k": Tensor([0, 2, 0]),
                                        "u": Tensor(shape: [3, 2], scalars: [1, 1, 2, 2, 3, 3])])
        assertTensor(v[s], [3, 2], [4, 4, 0, 0, 2, 2])
    }

    func testScatterAddOutOfRangeIsAnError() {
        var g = Graph(name: "t")
        let idx = g.input("k", i32(N))
        let up = g.input("u", f32(N))
        g.emit(.scatterAdd, [idx, up], declared: f32(d(2)))
        assertInterpreterError("index 2 is out of range") {
            _ = try evaluate(g, feeds: ["k": Tensor([0, 2]), "u": Tensor([1, 1])])
        }
    }
}
