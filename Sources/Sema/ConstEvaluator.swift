import DLCDiagnostics
import Foundation
import DLCSyntax

/// A compile-time number and whether it was written as an integer (which decides whether a
/// literal may meet an i32 tensor).
struct ConstValue {
    var value: Double
    var isInteger: Bool
}

/// Evaluates `const` expressions: numbers, other consts, `+ - * / **` and parentheses.
struct ConstEvaluator {
    var consts: [String: ConstValue] = [:]

    enum Failure: Error {
        case notConstant(SourceLocation, String)
    }

    /// The value of `e`, or nil if it is not a compile-time number (without reporting).
    func evaluate(_ e: Expr) -> ConstValue? {
        try? evaluateOrThrow(e)
    }

    func evaluateOrThrow(_ e: Expr) throws -> ConstValue {
        switch e.kind {
        case .number(let v, let isInteger):
            return ConstValue(value: v, isInteger: isInteger)
        case .name(let n):
            guard let c = consts[n] else {
                throw Failure.notConstant(e.location, "'\(n)' is not a constant")
            }
            return c
        case .negate(let x):
            let v = try evaluateOrThrow(x)
            return ConstValue(value: -v.value, isInteger: v.isInteger)
        case .binary(let op, let a, let b):
            let x = try evaluateOrThrow(a), y = try evaluateOrThrow(b)
            let bothInt = x.isInteger && y.isInteger
            switch op {
            case .add: return ConstValue(value: x.value + y.value, isInteger: bothInt)
            case .sub: return ConstValue(value: x.value - y.value, isInteger: bothInt)
            case .mul: return ConstValue(value: x.value * y.value, isInteger: bothInt)
            case .div:
                let q = x.value / y.value
                // An exact integer quotient stays an integer, so `n / 2` can size a dimension.
                return ConstValue(value: q, isInteger: bothInt && q.rounded() == q)
            case .pow:
                let p = Foundation.pow(x.value, y.value)
                return ConstValue(value: p, isInteger: bothInt && y.value >= 0)
            default:
                throw Failure.notConstant(e.location, "'\(op.rawValue)' is not allowed in a constant expression")
            }
        default:
            throw Failure.notConstant(e.location, "not a constant expression")
        }
    }
}
