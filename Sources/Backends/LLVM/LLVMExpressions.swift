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

    /// `u(x)`: the IR this printer writes for it, else a call of its scalar helper.
    func unary(_ u: UnaryOp, _ x: Value, _ t: DType) -> Value {
        if let rule = KernelEmitter.unaryRules[u] { return rule(self, x, t == .i32) }
        return helperCall(u.rawValue, [x], t)
    }

    /// `a op b`: the IR this printer writes for it, else a call of its scalar helper.
    func binary(_ b: BinaryOp, _ x: Value, _ y: Value, _ t: DType) -> Value {
        if let rule = KernelEmitter.binaryRules[b] { return rule(self, b, x, y, t == .i32) }
        return helperCall(b.rawValue, [x, y], t)
    }

    /// `dlc_NAME(args)` (`dlc_NAME_i32` in i32), the scalar helper of codegen/dlc_kernels.h of
    /// an op this printer has no IR of its own for: a call of the external copy the descriptor
    /// defines (`IRModule.externalHelpers`), so the helper is written once, in C.
    func helperCall(_ op: String, _ args: [Value], _ t: DType) -> Value {
        let type: IRType = t == .i32 ? .i32 : .float
        let name = f.module.useExternal(ExternalHelper(name: "dlc_" + op + (t == .i32 ? "_i32" : ""), type: type,
                                                       arity: args.count))
        let typed = args.map { convert($0, to: type).typed }.joined(separator: ", ")
        return f.value(op, type, "call \(type) \(name)(\(typed))")
    }

    /// The elementwise ops of one operand this printer writes as IR (instructions,
    /// intrinsics, libm, the helpers of `Helper` inlined); the flag says the op computes in i32.
    static let unaryRules: [UnaryOp: (KernelEmitter, Value, Bool) -> Value] = [
        .neg: { e, x, i32 in
            if i32 || x.type == .i32 { return e.f.value("neg", .i32, "sub i32 0, \(e.convert(x, to: .i32).ref)") }
            return e.f.value("neg", x.type, "fneg \(x.typed)")
        },
        .exp: { e, x, _ in e.intrinsic("exp", x) },
        .log: { e, x, _ in e.intrinsic("log", x) },
        .sqrt: { e, x, _ in e.intrinsic("sqrt", x) },
        .floor: { e, x, _ in e.intrinsic("floor", x) },
        .tanh: { e, x, _ in
            let name = e.f.module.declare(.tanhf)
            return e.f.value("tanh", .float, "call float \(name)(\(e.convert(x, to: .float).typed))")
        },
        .abs: { e, x, i32 in i32 ? e.call(.absI32, .i32, [e.convert(x, to: .i32)], "abs") : e.intrinsic("fabs", x) },
        .square: { e, x, i32 in
            if i32 || x.type == .i32 {
                let v = e.convert(x, to: .i32)
                return e.f.value("sq", .i32, "mul i32 \(v.ref), \(v.ref)")
            }
            return e.f.value("sq", x.type, "fmul \(x.typed), \(x.ref)")
        },
        .relu: { e, x, _ in e.call(.relu, .float, [e.convert(x, to: .float)], "relu") },
        .sigmoid: { e, x, _ in e.call(.sigmoid, .float, [e.convert(x, to: .float)], "sigmoid") },
        .sign: { e, x, _ in e.call(.signf, .float, [e.convert(x, to: .float)], "sign") },
        .toInt: { e, x, _ in
            let name = e.f.module.declare(.toI32)
            return e.f.value("int", .i32, "call i32 \(name)(\(e.convert(x, to: .float).typed))")
        },
        .toFloat: { e, x, _ in e.convert(x, to: .float) },
    ]

    /// The elementwise ops of two operands this printer writes as IR.
    static let binaryRules: [BinaryOp: (KernelEmitter, BinaryOp, Value, Value, Bool) -> Value] = {
        var rules: [BinaryOp: (KernelEmitter, BinaryOp, Value, Value, Bool) -> Value] = [:]
        for b in [BinaryOp.add, .sub, .mul] {
            rules[b] = { e, b, x, y, i32 in
                let (op, fop, what) = b == .add ? ("add", "fadd", "add") : b == .sub ? ("sub", "fsub", "sub") : ("mul", "fmul", "mul")
                if i32 {
                    // dlc_add_i32 and friends: wrapping (no nsw), on int32_t arguments.
                    return e.f.value(what, .i32, "\(op) i32 \(e.convert(x, to: .i32).ref), \(e.convert(y, to: .i32).ref)")
                }
                let (a, c) = e.usual(x, y)
                return e.f.value(what, a.type, a.type == .i32 ? "\(op) i32 \(a.ref), \(c.ref)" : "\(fop) \(a.typed), \(c.ref)")
            }
        }
        rules[.div] = { e, _, x, y, _ in
            let (a, c) = e.usual(x, y)
            if a.type == .i32 { return e.call(.divI32, .i32, [a, c], "div") }
            return e.f.value("div", a.type, "fdiv \(a.typed), \(c.ref)")
        }
        rules[.floorDiv] = { e, _, x, y, _ in
            e.call(.floorDivI32, .i32, [e.convert(x, to: .i32), e.convert(y, to: .i32)], "floordiv")
        }
        rules[.mod] = { e, _, x, y, _ in e.call(.modI32, .i32, [e.convert(x, to: .i32), e.convert(y, to: .i32)], "mod") }
        for b in [BinaryOp.maximum, .minimum] {
            rules[b] = { e, b, x, y, i32 in
                let what = b == .maximum ? "max" : "min"
                if i32 { return e.call(b == .maximum ? .maxI32 : .minI32, .i32, [e.convert(x, to: .i32), e.convert(y, to: .i32)], what) }
                return e.call(b == .maximum ? .maxf : .minf, .float, [e.convert(x, to: .float), e.convert(y, to: .float)], what)
            }
        }
        for b in BinaryOp.allCases where b.isComparison {
            rules[b] = { e, b, x, y, _ in e.convert(e.compare(b, x, y), to: .float) }
        }
        return rules
    }()

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
