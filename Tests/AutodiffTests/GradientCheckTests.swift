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

    /// A kink 3e-5 above b = 7 lies within the first step (7e-5): that quotient mixes both
    /// slopes, but the closer steps measure the derivative at b (0), which the gradient is.
    func testAKinkWithinTheStepIsMeasuredCloser() {
        let a = [0.5, -1, 2, 0]
        func kinked(_ theta: [[Double]]) -> Double { loss(theta) - 3 * theta[1][0] + max(0, theta[1][0] - 7.00003) }
        let r = GradientCheck().run(graph(), params: [a, [7]], gradients: [a.map { 2 * $0 }, [0]], loss: kinked)[1]
        XCTAssertEqual(r.numeric, 0, accuracy: 1e-9)
        XCTAssertLessThan(r.maxRelativeError, 1e-8)
        // A wrong gradient stays wrong at every step.
        let wrong = GradientCheck().run(graph(), params: [a, [7]], gradients: [a.map { 2 * $0 }, [2]], loss: kinked)[1]
        XCTAssertGreaterThan(wrong.maxRelativeError, 0.4)
    }

    func testNaNIsInfinitelyWrong() {
        XCTAssertEqual(GradientCheck().relativeError(.nan, 1), .infinity)
    }
}
