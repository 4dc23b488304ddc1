import DLCDiagnostics
import DLCDriver
import DLCIR
import Foundation
import XCTest

/// An op's identity lives in its enum: every elementwise op, reduction and loss with a
/// built-in name is a function of the language, applying that op.
final class OpIdentityTests: XCTestCase {
    private func graph(_ forward: String) throws -> Graph {
        let source = """
            model m {
                input  x: f32[N, 4]
                target y: f32[N]
                param w: f32[4] = ones
                forward {
            \(forward)
                }
            }

            """
        let p = Pipeline(source: SourceFile(path: "m.dl", bytes: Array(source.utf8)))
        switch p.typedGraph() {
        case .success(let g): return g
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    func testEveryNamedElementwiseOpIsABuiltin() throws {
        for u in UnaryOp.allCases {
            guard let name = u.builtinName else { continue }
            // float() converts i32, the others take f32; no gradient flows through h.
            let argument = u == .toFloat ? "int(x)" : "x"
            let g = try graph("        h = \(name)(\(argument))\n        loss sum(float(h)) + mse(sum(x * w, 1), y)")
            XCTAssertTrue(g.nodes.contains { $0.op == .unary(u) }, "\(name)(x) does not apply \(u)")
        }
        for b in BinaryOp.allCases {
            guard let name = b.builtinName else { continue }
            let g = try graph("        h = \(name)(x * w, x)\n        loss sum(h) + mse(sum(x, 1), y)")
            XCTAssertTrue(g.nodes.contains { $0.op == .binary(b) }, "\(name)(a, b) does not apply \(b)")
        }
    }

    func testEveryReductionAndLossIsABuiltin() throws {
        for r in ReduceOp.allCases {
            let g = try graph("        loss \(r.rawValue)(x * w) + mse(sum(x, 1), y)")
            XCTAssertTrue(g.nodes.contains { if case .reduce(r, _, _) = $0.op { return true }; return false }, r.rawValue)
        }
        for l in LossKind.allCases where l != .nll {
            let g = try graph("        loss \(l.rawValue)(sum(x * w, 1), y)")
            XCTAssertTrue(g.nodes.contains { $0.op == .loss(l) }, l.rawValue)
        }
    }
}
