import XCTest
import DLCIR
@testable import DLCAutodiff

/// The finite-difference checker itself, on a closed-form loss: L(a, b) = Σ a_i² + 3·b.
final class GradientCheckTests: XCTestCase {
    private func graph() -> Graph {
        var g = Graph(name: "closed_form")
        g.params = [ParamDecl(name: "a", type: TensorType(.f32, [.fixed(4)]), initializer: .zeros),
                    ParamDecl(name: "b", type: .f32Scalar, initializer: .zeros)]
        return g
    }

    private func loss(_ theta: [[Double]]) -> Double {
        theta[0].reduce(0) { $0 + $1 * $1 } + 3 * theta[1][0]
    }

    func testAcceptsTheRightGradient() {
        let a = [0.5, -1, 2, 0]
        let results = GradientCheck().run(graph(), params: [a, [7]], gradients: [a.map { 2 * $0 }, [3]], loss: loss)
        XCTAssertEqual(results.map(\.name), ["a", "b"])
        XCTAssertEqual(results.map(\.checked), [4, 1])
        for r in results { XCTAssertLessThan(r.maxRelativeError, 1e-8) }
    }

    func testFindsTheWrongElement() {
        let a = [0.5, -1, 2, 0]
        var wrong = a.map { 2 * $0 }
        wrong[2] += 0.01
        let r = GradientCheck().run(graph(), params: [a, [7]], gradients: [wrong, [3]], loss: loss)[0]
        XCTAssertEqual(r.worstIndex, 2)
        XCTAssertEqual(r.maxRelativeError, 0.01 / 4.01, accuracy: 1e-6)
    }

    func testSamplesLargeParams() {
        let a = [0.5, -1, 2, 0]
        let check = GradientCheck(maxElementsPerParam: 2)
        let r = check.run(graph(), params: [a, [7]], gradients: [a.map { 2 * $0 }, [3]], loss: loss)
        XCTAssertEqual(r.map(\.checked), [2, 1])
    }

    func testNaNIsInfinitelyWrong() {
        let r = GradientCheck().run(graph(), params: [[1, 2, 3, 4], [7]], gradients: [[2, 4, 6, 8], [.nan]], loss: loss)
        XCTAssertEqual(r[1].maxRelativeError, .infinity)
        XCTAssertFalse(r[1].passed(tolerance: 1e-4))
        let nanLoss = GradientCheck().run(graph(), params: [[1, 2, 3, 4], [7]], gradients: [[2, 4, 6, 8], [3]]) { _ in .nan }
        XCTAssertTrue(nanLoss.allSatisfy { $0.maxRelativeError == .infinity && $0.skipped == 0 })
    }

    /// A kink inside the step (|x| at 0, relu at 0, a max changing hands) makes the difference
    /// quotient meaningless there: the element is skipped, whatever the gradient claims, while a
    /// wrong gradient at a smooth point still fails. L = |a0 - 1e-6| + Σ a_i² over the others.
    func testSkipsElementsWithAKinkInsideTheStep() {
        func kinked(_ theta: [[Double]]) -> Double {
            abs(theta[0][0] - 1e-6) + theta[0].dropFirst().reduce(0) { $0 + $1 * $1 } + 3 * theta[1][0]
        }
        let a = [0.0, -1, 2, 0.5]
        // At a0 = 0 the loss is |a0 - 1e-6|: slope -1, a kink 1e-6 away, inside the step 1e-5.
        for claimed in [-1.0, 1.0, 0.0] {
            let r = GradientCheck().run(graph(), params: [a, [7]], gradients: [[claimed, -2, 4, 1], [3]], loss: kinked)[0]
            XCTAssertEqual(r.skipped, 1, "the element at the kink")
            XCTAssertEqual(r.checked, 3)
            XCTAssertLessThan(r.maxRelativeError, 1e-8)
        }
        // Away from the kink the same element is checked, and a wrong gradient fails.
        let r = GradientCheck().run(graph(), params: [[0.5, -1, 2, 0.5], [7]], gradients: [[-1, -2, 4, 1], [3]], loss: kinked)[0]
        XCTAssertEqual(r.skipped, 0)
        XCTAssertEqual(r.worstIndex, 0)
        XCTAssertGreaterThan(r.maxRelativeError, 1)
        // A param whose every element is at a kink is not a pass: nothing could be checked.
        let all = GradientCheck().run(graph(), params: [a, [7]], gradients: [[1, -2, 4, 1], [3]], loss: kinked)
        XCTAssertTrue(all[0].passed(tolerance: 1e-4))
        let one = GradientCheck(maxElementsPerParam: 1).run(graph(), params: [a, [7]], gradients: [[1, -2, 4, 1], [3]],
                                                           loss: kinked)
        XCTAssertEqual(one[0].checked, 0)
        XCTAssertFalse(one[0].passed(tolerance: 1e-4))
    }
}
