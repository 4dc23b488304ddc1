import XCTest
import DLCIR
@testable import DLCInterpreter

final class LossTests: XCTestCase {
    func loss(_ kind: LossKind, _ p: [Double], _ y: [Double]) throws -> Double {
        var g = Graph(name: "t")
        let pv = g.input("p", f32(N))
        let yv = g.input("y", f32(N), role: .target)
        let l = g.emit(.loss(kind), [pv, yv])
        return try evaluate(g, feeds: ["p": Tensor(p), "y": Tensor(y)])[l].scalars[0]
    }

    func testMSEAndL1AverageOverAllElements() throws {
        var g = Graph(name: "t")
        let p = g.input("p", f32(N, d(2)))
        let y = g.input("y", f32(N, d(2)), role: .target)
        let mse = g.emit(.loss(.mse), [p, y])
        let l1 = g.emit(.loss(.l1), [p, y])
        let v = try evaluate(g, feeds: ["p": Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]),
                                        "y": Tensor(shape: [2, 2], scalars: [1, 1, 1, 1])])
        assertTensor(v[mse], [], [(0 + 1 + 4 + 9) / 4.0])
        assertTensor(v[l1], [], [(0 + 1 + 2 + 3) / 4.0])
    }

    func testBCEClampsEachLogAtMinus100() throws {
        // -log 0.5, -log(1 - 0.9), then p = 0 with y = 1 and p = 1 with y = 0: 100 each.
        XCTAssertEqual(try loss(.bce, [0.5, 0.9, 0, 1], [1, 0, 1, 0]), 50.748933068388496, accuracy: 1e-12)
        XCTAssertEqual(try loss(.bce, [0, 1], [0, 1]), 0)
    }

    func testBCEWithLogitsIsStable() throws {
        // max(z,0) - z y + log(1 + exp(-|z|)) for z = 0, 2, -3, 800.
        XCTAssertEqual(try loss(.bceLogits, [0, 2, -3, 800], [1, 0, 1, 0]), 201.46716563579417, accuracy: 1e-12)
        XCTAssertEqual(try loss(.bceLogits, [-800], [0]), 0)
    }

    func testHingeWithItsKink() throws {
        // max(0, 1 - y s): 0, 1.5, 0, and 0 at the kink y s = 1.
        XCTAssertEqual(try loss(.hinge, [2, 0.5, -1, 1], [1, -1, -1, 1]), 0.375)
    }

    func testNLLAveragesOverRows() throws {
        var g = Graph(name: "t")
        let logp = g.input("logp", f32(N, d(3)))
        let y = g.input("y", i32(N), role: .target)
        let l = g.emit(.loss(.nll), [logp, y])
        let v = try evaluate(g, feeds: ["logp": Tensor(shape: [2, 3], scalars: [-1, -2, -3, -0.5, -1.5, -2.5]),
                                        "y": Tensor([2, 0])])
        assertTensor(v[l], [], [1.75])
        for bad in [3.0, -1.0] {
            assertInterpreterError("label \(Int(bad)) is out of range for 3 classes") {
                _ = try evaluate(g, feeds: ["logp": Tensor.zeros([2, 3]), "y": Tensor([0, bad])])
            }
        }
    }

    func testCrossEntropyAsNLLOfLogSoftmax() throws {
        var g = Graph(name: "t")
        let z = g.input("z", f32(N, d(2)))
        let y = g.input("y", i32(N), role: .target)
        let l = g.emit(.loss(.nll), [g.emit(.logSoftmax(axis: 1), [z]), y])
        let v = try evaluate(g, feeds: ["z": Tensor(shape: [2, 2], scalars: [0, 0, 1000, 0]), "y": Tensor([1, 1])])
        // Row 0: log 2; row 1: 1000 (finite: the max is subtracted).
        assertTensor(v[l], [], [(0.6931471805599453 + 1000) / 2])
    }

    func testOneHot() throws {
        var g = Graph(name: "t")
        let y = g.input("y", i32(N))
        let h = g.emit(.oneHot(classes: 3), [y])
        assertTensor(try evaluate(g, feeds: ["y": Tensor([2, 0])])[h], [2, 3], [0, 0, 1, 1, 0, 0])
        assertInterpreterError("label 3 is out of range for 3 classes") {
            _ = try evaluate(g, feeds: ["y": Tensor([3])])
        }
    }

    /// Masks are counter-based (docs/rng.md, "Dropout"): an element's draw depends only on the
    /// seed, the epoch, the site, its row's position in the epoch and its index in the row.
    func testDropoutMaskIsCounterBased() throws {
        var g = Graph(name: "t")
        let x = g.input("x", f32(N, d(3)))
        let m = g.emit(.dropoutMask(p: 0.6, site: 0), [x])
        let other = g.emit(.dropoutMask(p: 0.6, site: 1), [x])
        let t = g.emit(.transpose, [x])
        // [3, N]: rows along axis 1. Site 0 again on purpose, to compare the two layouts.
        let mt = g.emit(.dropoutMask(p: 0.6, site: 0), [t])
        let interpreter = Interpreter(graph: g)
        let keep = 1 / 0.4
        func masks(rows: Int, firstRow: Int, epoch: Int = 0) throws -> Interpreter.Values {
            try interpreter.run(feeds: ["x": Tensor.zeros([rows, 3])], params: [:], mode: .training,
                                dropout: DropoutDraw(seed: 0, epoch: epoch, firstRow: firstRow))
        }
        // Seed 0, epoch 0, site 0: rows 0 and 1 draw 0.533 0.671 0.201 and 0.499 0.828 0.636 (dlc_rng.h).
        let whole = try masks(rows: 5, firstRow: 0)
        XCTAssertEqual(Array(whole[m].scalars.prefix(6)), [0, keep, 0, 0, keep, keep])
        // The same rows drawn as two batches (or by two processes): the same masks, row by row.
        let head = try masks(rows: 2, firstRow: 0), tail = try masks(rows: 3, firstRow: 2)
        XCTAssertEqual(head[m].scalars + tail[m].scalars, whole[m].scalars)
        // Row r along another axis: element (i, r) of the [3, N] mask is element (r, i) of the [N, 3] one.
        for r in 0..<5 { for i in 0..<3 { XCTAssertEqual(whole[mt].scalars[i * 5 + r], whole[m].scalars[r * 3 + i]) } }
        // Another site, another epoch: other masks.
        XCTAssertNotEqual(whole[other].scalars, whole[m].scalars)
        XCTAssertNotEqual(try masks(rows: 5, firstRow: 0, epoch: 1)[m].scalars, whole[m].scalars)
        // Evaluation: all ones.
        let e = try interpreter.run(feeds: ["x": Tensor.zeros([2, 3])], params: [:])
        assertTensor(e[m], [2, 3], [1, 1, 1, 1, 1, 1])
    }
}

final class InterpreterAPITests: XCTestCase {
    func testMissingFeedOrParamIsAnError() {
        var g = Graph(name: "t")
        let x = g.input("x", f32(N))
        let w = g.param("w", f32())
        g.emit(.binary(.mul), [x, w])
        assertInterpreterError("no data fed for 'x'") { _ = try evaluate(g, params: ["w": Tensor(1)]) }
        assertInterpreterError("no value given for param 'w'") { _ = try evaluate(g, feeds: ["x": Tensor([1])]) }
        assertInterpreterError("was given a tensor of shape [1]") {
            _ = try evaluate(g, feeds: ["x": Tensor([1])], params: ["w": Tensor([1])])
        }
    }

    func testFeedsMustAgreeOnTheBatch() {
        var g = Graph(name: "t")
        let x = g.input("x", f32(N))
        let y = g.input("y", f32(N), role: .target)
        g.emit(.loss(.mse), [x, y])
        assertInterpreterError("has 3 rows, but other data has 2") {
            _ = try evaluate(g, feeds: ["x": Tensor([1, 2]), "y": Tensor([1, 2, 3])])
        }
        assertInterpreterError("at least one row") {
            _ = try evaluate(g, feeds: ["x": Tensor([]), "y": Tensor([])])
        }
    }

    func testMisshapenFeedAndNonIntegerI32FeedAreErrors() {
        var g = Graph(name: "t")
        _ = g.input("x", f32(N, d(2)))
        assertInterpreterError("was fed a tensor of shape [2, 3]") {
            _ = try evaluate(g, feeds: ["x": Tensor.zeros([2, 3])])
        }
        var h = Graph(name: "t")
        _ = h.input("k", i32(N))
        assertInterpreterError("not an i32") { _ = try evaluate(h, feeds: ["k": Tensor([1.5])]) }
    }

    func testIllTypedGraphIsReportedNotCrashed() {
        var g = Graph(name: "t")
        let a = g.param("a", f32(d(2)))
        g.add(.binary(.add), [a, a], type: f32(d(3)))
        assertInterpreterError("internal error") { _ = try evaluate(g, params: ["a": Tensor([1, 2])]) }
    }

    func testBatchIsOneWithoutBatchedData() throws {
        var g = Graph(name: "t")
        let x = g.param("x", f32())
        let l = g.emit(.binary(.mul), [x, x])
        let v = try evaluate(g, params: ["x": Tensor(3)])
        XCTAssertEqual(v.batch, 1)
        XCTAssertEqual(v[l].scalar, 9)
        XCTAssertEqual(v.tensors.count, 2)
    }
}
