import XCTest
import DLCIR
import DLCInterpreter
@testable import DLCAutodiff

/// What the AD pass emits, and what it does not.
final class StructureTests: XCTestCase {
    /// The backward nodes of a training graph.
    private func backward(_ forward: Graph, _ train: Graph) -> ArraySlice<Node> {
        train.nodes[forward.nodes.count...]
    }

    /// Whether some backward node uses `v`.
    private func isUsedByBackward(_ v: ValueID, _ forward: Graph, _ train: Graph) -> Bool {
        backward(forward, train).contains { $0.operands.contains(v) }
    }

    func testNothingForInputsAndTargets() throws {
        var f = Fixture(seed: 1, batch: 4)
        let x = f.input("x", [.batch, .fixed(3)])
        let y = f.input("y", [.batch, .fixed(3)], role: .target)
        let w = f.param("w", [3])
        f.graph.loss = f.emit(.loss(.mse), [f.binary(.mul, x, w), y])
        let train = try differentiate(f.graph)
        assertWellFormed(f.graph, train)
        XCTAssertFalse(train.nodes.contains { $0.name == "d.x" || $0.name == "d.y" })
        XCTAssertEqual(backward(f.graph, train).filter { $0.op == .sumTo }.count, 1)
        XCTAssertEqual(train[train.gradients[0].value].op, .sumTo)
    }

    func testDeadBranchEmitsNothing() throws {
        var f = Fixture(seed: 2)
        let w = f.param("w", [3])
        let u = f.param("u", [2, 2])
        let dead = f.unary(.exp, f.binary(.mul, w, w))  // uses w, but not for the loss
        let deadU = f.unary(.tanh, u)
        f.graph.outputs = [NamedValue("dead", dead), NamedValue("deadU", deadU)]
        f.graph.loss = f.sum(f.unary(.sigmoid, w))
        let train = try differentiate(f.graph)
        assertWellFormed(f.graph, train)
        for v in [dead, deadU, u] { XCTAssertFalse(isUsedByBackward(v, f.graph, train)) }
        // u does not affect the loss: zeros of its shape, named.
        let du = train[train.gradients[1].value]
        XCTAssertEqual(du.op, .broadcast)
        XCTAssertEqual(du.name, "d.u")
        XCTAssertEqual(train[du.operands[0]].op, .constant(0))
        let grads = try gradients(f)
        XCTAssertEqual(grads["u"], Tensor.zeros([2, 2]))
    }

    func testNoLossDependenceAtAll() throws {
        var f = Fixture(seed: 3)
        f.param("w", [])
        f.graph.loss = f.constant(2)
        let train = try differentiate(f.graph)
        assertWellFormed(f.graph, train)
        XCTAssertEqual(train.nodes.count, f.graph.nodes.count + 1)  // just `constant 0` for d.w
        XCTAssertEqual(train[train.gradients[0].value].op, .constant(0))
    }

    func testValueUsedTwiceGetsSummedGradient() throws {
        var f = Fixture(seed: 4)
        let w = f.param("w", [2, 3])
        let h = f.emit(.unary(.tanh), [w], name: "h")
        let a = f.input("a", [.fixed(2), .fixed(3)]), b = f.input("b", [.fixed(3)])
        f.graph.loss = f.sum(f.binary(.add, f.binary(.mul, h, a), f.binary(.mul, h, b)))
        let train = try differentiate(f.graph)
        let dh = try XCTUnwrap(train.nodes.first { $0.name == "d.h" })
        XCTAssertEqual(dh.op, .binary(.add))
        XCTAssertEqual(train[train.gradients[0].value].name, "d.w")
        assertGradientsMatch(f)
    }

    func testGradientsInDeclarationOrderAndNamed() throws {
        var f = Fixture(seed: 5)
        let second = f.param("fc1.weight", [2])
        let first = f.param("fc1.bias", [2])
        f.graph.params.swapAt(0, 1)
        f.graph.loss = f.sum(f.binary(.mul, first, second))
        let train = try differentiate(f.graph)
        XCTAssertEqual(train.gradients.map(\.name), ["fc1.bias", "fc1.weight"])
        XCTAssertEqual(train.gradients.map { train[$0.value].name }, ["d.fc1.bias", "d.fc1.weight"])
        assertGradientsMatch(f)
    }

    /// A name taken by the model (a layer `d` has a param `d.weight`) is not reused.
    func testGradientNamesStayUnique() throws {
        var f = Fixture(seed: 6)
        let w = f.param("d.weight", [2])
        let v = f.param("weight", [2])
        f.graph.loss = f.sum(f.binary(.mul, w, f.unary(.exp, v)))
        let train = try differentiate(f.graph)
        let names = train.nodes.compactMap(\.name)
        XCTAssertEqual(names.count, Set(names).count)
        XCTAssertEqual(train[train.gradients[1].value].name, "d.weight.2")
    }

    /// The seed is never multiplied in: d(sum(w)) is the seed broadcast to w's shape.
    func testSeedIsNotMultiplied() throws {
        var f = Fixture(seed: 7)
        let w = f.param("w", [2, 3])
        f.graph.loss = f.emit(.reduce(.sum, axes: [0, 1], keepdim: false), [w], name: "loss")
        let train = try differentiate(f.graph)
        assertWellFormed(f.graph, train)
        XCTAssertEqual(backward(f.graph, train).map(\.op), [.constant(1), .broadcast])
        XCTAssertEqual(backward(f.graph, train).map(\.name), ["d.loss", "d.w"])
    }

    func testNoRecomputation() throws {
        var f = Fixture(seed: 8)
        let x = f.param("x", [2])
        let e = f.unary(.exp, x)
        f.graph.loss = f.sum(e)
        let train = try differentiate(f.graph)
        // d.x = g·exp(x) reuses the forward exp; nothing computes exp again.
        XCTAssertEqual(train.nodes.filter { $0.op == .unary(.exp) }.count, 1)
        XCTAssertEqual(train[train.gradients[0].value].operands.last, e)
    }

    func testI32OnPathFromParamToLossThrows() {
        var f = Fixture(seed: 9)
        let w = f.param("w", [3])
        let k = f.unary(.toInt, w)
        f.graph.loss = f.sum(f.binary(.mul, w, f.unary(.toFloat, k)))
        XCTAssertThrowsError(try differentiate(f.graph)) { error in
            XCTAssertEqual((error as? AutodiffError)?.value, k)
        }
    }

    /// An i32 value computed from data only (the LineGrid indices) is fine.
    func testI32FromDataIsFine() {
        var f = Fixture(seed: 10)
        let x = f.input("x", [.fixed(3)], in: 0...2.9)
        let grid = f.param("grid", [3, 2])
        let k = f.unary(.toInt, f.unary(.floor, x))
        f.weightedSumLoss(f.emit(.gather, [grid, k]))
        XCTAssertNoThrow(try differentiate(f.graph))
    }

    func testMissingOrNonScalarLossThrows() {
        var f = Fixture(seed: 11)
        let w = f.param("w", [3])
        XCTAssertThrowsError(try differentiate(f.graph))
        f.graph.loss = w
        XCTAssertThrowsError(try differentiate(f.graph))
    }

    // MARK: - Kinks and ties, as PyTorch has them

    func testTiesOfMaximumAndMinimumSplitInHalf() throws {
        for b in [BinaryOp.maximum, .minimum] {
            var f = Fixture(seed: 12)
            let p = f.param("p", [3], values: [1, 2, 3])
            let q = f.param("q", [3], values: [2, 2, 2])
            f.graph.loss = f.sum(f.binary(b, p, q))
            let grads = try gradients(f)
            XCTAssertEqual(grads["p"]?.scalars, b == .maximum ? [0, 0.5, 1] : [1, 0.5, 0])
            XCTAssertEqual(grads["q"]?.scalars, b == .maximum ? [1, 0.5, 0] : [0, 0.5, 1])
        }
    }

    func testAllElementMaxSharesAmongTies() throws {
        var f = Fixture(seed: 13)
        let x = f.param("x", [2, 3], values: [1, 3, 3, 2, 0, 3])
        f.graph.loss = f.emit(.reduce(.max, axes: [0, 1], keepdim: false), [x])
        XCTAssertEqual(try gradients(f)["x"]?.scalars, [0, 1.0 / 3, 1.0 / 3, 0, 0, 1.0 / 3])

        var g = Fixture(seed: 13)
        let v = g.param("v", [4], values: [1, 3, 3, 2])
        g.graph.loss = g.emit(.reduce(.max, axes: [0], keepdim: false), [v])
        XCTAssertEqual(try gradients(g)["v"]?.scalars, [0, 0.5, 0.5, 0])
    }

    func testMaxAlongAnAxisGoesToTheFirstMaximum() throws {
        var f = Fixture(seed: 14)
        let x = f.param("x", [2, 3], values: [3, 3, 1, 0, 2, 2])
        f.graph.loss = f.sum(f.emit(.reduce(.max, axes: [1], keepdim: false), [x]))
        XCTAssertEqual(try gradients(f)["x"]?.scalars, [1, 0, 0, 0, 1, 0])
    }

    func testReluAndAbsHaveZeroGradientAtZero() throws {
        for u in [UnaryOp.relu, .abs] {
            var f = Fixture(seed: 15)
            let x = f.param("x", [3], values: [-1, 0, 2])
            f.graph.loss = f.sum(f.unary(u, x))
            XCTAssertEqual(try gradients(f)["x"]?.scalars, u == .relu ? [0, 0, 1] : [-1, 0, 1])
        }
    }
}
