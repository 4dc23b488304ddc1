import DLCIR
import DLCLowering

/// Per-element expressions in C, with the interpreter's semantics (see codegen/dlc_kernels.h):
/// the C backend's loops and the CUDA backend's kernels print the same expressions.
public enum CExpressions {
    /// `ops` are the C expressions reading each operand at the current index; `type` is the dtype
    /// the expression computes in.
    public static func print(_ e: ScalarExpr, _ ops: [String], type: DType) -> String {
        switch e {
        case .operand(let i): return ops[i]
        case .pow(let x, let c): return "powf(\(print(x, ops, type: type)), \(C.float(c)))"
        case .select(let c, let a, let b):
            // A comparison is its own condition (no 0/1 float in between, which vectorises better).
            var condition = "\(print(c, ops, type: type)) != 0"
            if case .binary(let op, let x, let y) = c, op.isComparison {
                condition = "\(print(x, ops, type: type)) \(symbol(op)) \(print(y, ops, type: type))"
            }
            return "(\(condition) ? \(print(a, ops, type: type)) : \(print(b, ops, type: type)))"
        case .unary(let u, let x): return unary(u, print(x, ops, type: type), type)
        case .binary(let b, let x, let y): return binary(b, print(x, ops, type: type), print(y, ops, type: type), type)
        }
    }

    static func symbol(_ op: BinaryOp) -> String {
        switch op {
        case .eq: return "=="
        case .ne: return "!="
        case .lt: return "<"
        case .le: return "<="
        case .gt: return ">"
        default: return ">="
        }
    }

    static func unary(_ u: UnaryOp, _ x: String, _ t: DType) -> String {
        switch u {
        case .neg: return t == .i32 ? "dlc_neg_i32(\(x))" : "(-\(x))"
        case .exp: return "expf(\(x))"
        case .log: return "logf(\(x))"
        case .sqrt: return "sqrtf(\(x))"
        case .abs: return t == .i32 ? "dlc_abs_i32(\(x))" : "fabsf(\(x))"
        case .square: return t == .i32 ? "dlc_mul_i32(\(x), \(x))" : "(\(x) * \(x))"
        case .tanh: return "tanhf(\(x))"
        case .floor: return "floorf(\(x))"
        case .sign: return "dlc_signf(\(x))"
        case .toInt: return "dlc_to_i32(\(x))"
        case .toFloat: return "(float)(\(x))"
        default: return helper(u.rawValue, [x], t)
        }
    }

    /// `dlc_NAME(args)` (`dlc_NAME_i32` in i32): the scalar helper of codegen/dlc_kernels.h of
    /// an op with no special form here (relu, sigmoid, floordiv, mod, and any new op).
    static func helper(_ op: String, _ args: [String], _ t: DType) -> String {
        "dlc_\(op)\(t == .i32 ? "_i32" : "")(\(args.joined(separator: ", ")))"
    }

    static func binary(_ b: BinaryOp, _ x: String, _ y: String, _ t: DType) -> String {
        let i32 = t == .i32
        switch b {
        case .add: return i32 ? "dlc_add_i32(\(x), \(y))" : "(\(x) + \(y))"
        case .sub: return i32 ? "dlc_sub_i32(\(x), \(y))" : "(\(x) - \(y))"
        case .mul: return i32 ? "dlc_mul_i32(\(x), \(y))" : "(\(x) * \(y))"
        case .div: return "(\(x) / \(y))"
        case .maximum: return i32 ? "dlc_max_i32(\(x), \(y))" : "dlc_maxf(\(x), \(y))"
        case .minimum: return i32 ? "dlc_min_i32(\(x), \(y))" : "dlc_minf(\(x), \(y))"
        case .eq: return "(float)(\(x) == \(y))"
        case .ne: return "(float)(\(x) != \(y))"
        case .lt: return "(float)(\(x) < \(y))"
        case .le: return "(float)(\(x) <= \(y))"
        case .gt: return "(float)(\(x) > \(y))"
        case .ge: return "(float)(\(x) >= \(y))"
        default: return helper(b.rawValue, [x, y], t)
        }
    }
}
