import DLCIR
import DLCLowering

/// Per-element expressions with the C backend's semantics (Sources/Backends/C/CExpressions
/// and codegen/dlc_kernels.h): C's types and usual arithmetic conversions (an `int32_t` and a
/// `float` meet as float), i32 arithmetic modulo 2^32, Python's `//` and `%`, NaN-propagating
/// max/min/relu, saturating float -> i32, and comparisons as 0/1 floats.
extension KernelEmitter {
    /// `e` over operand values `ops` (already loaded), computing in `type`.
    func expression(_ e: ScalarExpr, _ ops: [Value], type: DType) -> Value {
        switch e {
        case .operand(let i): return ops[i]
        case .pow(let x, let c):
            let pow = f.module.declare(.intrinsic("pow", .float, arity: 2))
            let base = convert(expression(x, ops, type: type), to: .float)
            return f.value("pow", .float, "call float \(pow)(\(base.typed), float \(LL.float(LL.cFloat(c))))")
        case .select(let c, let a, let b):
            // A comparison is its own condition; anything else is tested against 0.
            let condition: Value
            if case .binary(let op, let x, let y) = c, op.isComparison {
                condition = compare(op, expression(x, ops, type: type), expression(y, ops, type: type))
            } else {
                let v = expression(c, ops, type: type)
                condition = v.type == .float
                    ? f.value("cond", .i1, "fcmp une float \(v.ref), 0.0")
                    : f.value("cond", .i1, "icmp ne \(v.typed), 0")
            }
            let (x, y) = usual(expression(a, ops, type: type), expression(b, ops, type: type))
            return f.value("sel", x.type, "select i1 \(condition.ref), \(x.typed), \(y.typed)")
        case .unary(let u, let x): return unary(u, expression(x, ops, type: type), type)
        case .binary(let b, let x, let y): return binary(b, expression(x, ops, type: type), expression(y, ops, type: type), type)
        }
    }

    /// C's conversion of a value to `type` (as by assignment or a cast).
    func convert(_ v: Value, to type: IRType) -> Value {
        if v.type == type { return v }
        switch (v.type, type) {
        case (.i1, .float), (.i1, .double): return f.value("b2f", type, "uitofp i1 \(v.ref) to \(type)")
        case (.i1, _): return f.value("b2i", type, "zext i1 \(v.ref) to \(type)")
        case (.i32, .float), (.i32, .double), (.i64, .float), (.i64, .double):
            return f.value("i2f", type, "sitofp \(v.typed) to \(type)")
        case (.float, .double): return f.value("wide", .double, "fpext float \(v.ref) to double")
        case (.double, .float): return f.value("narrow", .float, "fptrunc double \(v.ref) to float")
        case (.float, .i32), (.double, .i32): return f.value("f2i", .i32, "fptosi \(v.typed) to i32")
        case (.i32, .i64): return f.value("wide", .i64, "sext i32 \(v.ref) to i64")
        case (.i64, .i32): return f.value("narrow", .i32, "trunc i64 \(v.ref) to i32")
        default: preconditionFailure("no conversion from \(v.type) to \(type)")
        }
    }

    /// C's usual arithmetic conversions for two operands of int32_t, float or double.
    func usual(_ a: Value, _ b: Value) -> (Value, Value) {
        let rank: (IRType) -> Int = { $0 == .double ? 3 : $0 == .float ? 2 : 1 }
        let top = max(rank(a.type), rank(b.type))
        let common: IRType = top == 3 ? .double : top == 2 ? .float : .i32
        return (convert(a, to: common), convert(b, to: common))
    }

    func call(_ h: Helper, _ type: IRType, _ args: [Value], _ what: String) -> Value {
        let name = f.module.use(h)
        return f.value(what, type, "call \(type) \(name)(\(args.map(\.typed).joined(separator: ", ")))")
    }

    func intrinsic(_ base: String, _ x: Value, _ type: IRType = .float) -> Value {
        let name = f.module.declare(.intrinsic(base, type))
        let arg = convert(x, to: type)
        return f.value(base, type, "call \(type) \(name)(\(arg.typed))")
    }

    func unary(_ u: UnaryOp, _ x: Value, _ t: DType) -> Value {
        let i32 = t == .i32
        switch u {
        case .neg:
            if i32 || x.type == .i32 { return f.value("neg", .i32, "sub i32 0, \(convert(x, to: .i32).ref)") }
            return f.value("neg", x.type, "fneg \(x.typed)")
        case .exp: return intrinsic("exp", x)
        case .log: return intrinsic("log", x)
        case .sqrt: return intrinsic("sqrt", x)
        case .floor: return intrinsic("floor", x)
        case .tanh:
            let name = f.module.declare(.tanhf)
            return f.value("tanh", .float, "call float \(name)(\(convert(x, to: .float).typed))")
        case .abs: return i32 ? call(.absI32, .i32, [convert(x, to: .i32)], "abs") : intrinsic("fabs", x)
        case .square:
            if i32 || x.type == .i32 {
                let v = convert(x, to: .i32)
                return f.value("sq", .i32, "mul i32 \(v.ref), \(v.ref)")
            }
            return f.value("sq", x.type, "fmul \(x.typed), \(x.ref)")
        case .relu: return call(.relu, .float, [convert(x, to: .float)], "relu")
        case .sigmoid: return call(.sigmoid, .float, [convert(x, to: .float)], "sigmoid")
        case .sign: return call(.signf, .float, [convert(x, to: .float)], "sign")
        case .toInt:
            let name = f.module.declare(.toI32)
            return f.value("int", .i32, "call i32 \(name)(\(convert(x, to: .float).typed))")
        case .toFloat: return convert(x, to: .float)
        }
    }

    func binary(_ b: BinaryOp, _ x: Value, _ y: Value, _ t: DType) -> Value {
        let i32 = t == .i32
        switch b {
        case .add, .sub, .mul:
            let (op, fop, what) = b == .add ? ("add", "fadd", "add") : b == .sub ? ("sub", "fsub", "sub") : ("mul", "fmul", "mul")
            if i32 {
                // dlc_add_i32 and friends: wrapping (no nsw), on int32_t arguments.
                return f.value(what, .i32, "\(op) i32 \(convert(x, to: .i32).ref), \(convert(y, to: .i32).ref)")
            }
            let (a, c) = usual(x, y)
            return f.value(what, a.type, a.type == .i32 ? "\(op) i32 \(a.ref), \(c.ref)" : "\(fop) \(a.typed), \(c.ref)")
        case .div:
            let (a, c) = usual(x, y)
            if a.type == .i32 { return call(.divI32, .i32, [a, c], "div") }
            return f.value("div", a.type, "fdiv \(a.typed), \(c.ref)")
        case .floorDiv: return call(.floorDivI32, .i32, [convert(x, to: .i32), convert(y, to: .i32)], "floordiv")
        case .mod: return call(.modI32, .i32, [convert(x, to: .i32), convert(y, to: .i32)], "mod")
        case .maximum, .minimum:
            if i32 { return call(b == .maximum ? .maxI32 : .minI32, .i32, [convert(x, to: .i32), convert(y, to: .i32)], b == .maximum ? "max" : "min") }
            return call(b == .maximum ? .maxf : .minf, .float, [convert(x, to: .float), convert(y, to: .float)], b == .maximum ? "max" : "min")
        case .eq, .ne, .lt, .le, .gt, .ge:
            return convert(compare(b, x, y), to: .float)
        }
    }

    /// `x OP y` as an i1, after the usual conversions (C's ==, != ... on floats are ordered
    /// comparisons except !=, which is true for NaN).
    func compare(_ op: BinaryOp, _ x: Value, _ y: Value) -> Value {
        let (a, c) = usual(x, y)
        let predicate: String
        if a.type.isFloatingPoint {
            switch op {
            case .eq: predicate = "fcmp oeq"
            case .ne: predicate = "fcmp une"
            case .lt: predicate = "fcmp olt"
            case .le: predicate = "fcmp ole"
            case .gt: predicate = "fcmp ogt"
            default: predicate = "fcmp oge"
            }
        } else {
            switch op {
            case .eq: predicate = "icmp eq"
            case .ne: predicate = "icmp ne"
            case .lt: predicate = "icmp slt"
            case .le: predicate = "icmp sle"
            case .gt: predicate = "icmp sgt"
            default: predicate = "icmp sge"
            }
        }
        return f.value("cmp", .i1, "\(predicate) \(a.typed), \(c.ref)")
    }
}
