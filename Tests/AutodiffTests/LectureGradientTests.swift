import XCTest
import DLCIR
@testable import DLCAutodiff

/// The derivatives worked by hand in the lectures, exactly.
final class LectureGradientTests: XCTestCase {
    private func assertGradients(_ f: Fixture, _ expected: [String: Double],
                                 file: StaticString = #filePath, line: UInt = #line) {
        do {
            let grads = try gradients(f)
            for (name, value) in expected {
                XCTAssertEqual(grads[name]?.scalar ?? .nan, value, accuracy: 1e-12, "d.\(name)", file: file, line: line)
            }
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    /// f(x, y) = x² + y at (2, 3): (4, 1).
    func testSquarePlus() {
        var f = Fixture(seed: 0)
        let x = f.param("x", [], values: [2]), y = f.param("y", [], values: [3])
        f.graph.loss = f.binary(.add, f.emit(.pow(2), [x]), y)
        assertGradients(f, ["x": 4, "y": 1])
    }

    /// g(x, y) = x·(y + 3) at (2, 3): (6, 2).
    func testProductOfSum() {
        var f = Fixture(seed: 0)
        let x = f.param("x", [], values: [2]), y = f.param("y", [], values: [3])
        f.graph.loss = f.binary(.mul, x, f.binary(.add, y, f.constant(3)))
        assertGradients(f, ["x": 6, "y": 2])
    }

    /// f(x) = -x² + 10·x·log x at x = 1: f'(1) = -2 + 10·(log 1 + 1) = 8.
    func testDescend() {
        var f = Fixture(seed: 0)
        let x = f.param("x", [], values: [1])
        let square = f.unary(.neg, f.emit(.pow(2), [x]))
        let tenXLogX = f.binary(.mul, f.binary(.mul, f.constant(10), x), f.unary(.log, x))
        f.graph.loss = f.binary(.add, square, tenXLogX)
        assertGradients(f, ["x": 8])
        assertGradientsMatch(f)
    }
}
