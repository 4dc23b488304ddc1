import DLCDiagnostics
import DLCIR
import DLCSyntax

/// The built-in functions of spec section 3: each one's parameters (positional order, then
/// usable by name) and which have defaults. What each computes is in `Analyzer.applyBuiltin`.
/// The names of the elementwise ops, reductions and losses come from their enums (`UnaryOp`,
/// `BinaryOp`, `ReduceOp`, `LossKind`), so a new op there is a new function here.
enum Builtins {
    struct Signature {
        var parameters: [String]
        /// Default values, written as source would write them.
        var defaults: [String: ExprKind] = [:]
    }

    /// Functions that apply an elementwise op to their one argument (`int` and `float` fold
    /// numbers and skip a conversion to the same dtype: `Analyzer.conversion`).
    static let unaryOps: [String: UnaryOp] = byName(UnaryOp.allCases, \.builtinName)
    /// Functions that apply an elementwise op to their two arguments.
    static let binaryOps: [String: BinaryOp] = byName(BinaryOp.allCases, \.builtinName)
    static let reductions: [String: ReduceOp] = byName(ReduceOp.allCases, \.rawValue)
    static let losses: [String: LossKind] = byName(LossKind.allCases, \.rawValue)

    private static func byName<Op>(_ ops: [Op], _ name: (Op) -> String?) -> [String: Op] {
        Dictionary(uniqueKeysWithValues: ops.compactMap { op in name(op).map { ($0, op) } })
    }

    static let table: [String: Signature] = {
        var t: [String: Signature] = [:]
        for u in Array(unaryOps.keys) + ["transpose", "flatten"] { t[u] = Signature(parameters: ["x"]) }
        t["pow"] = Signature(parameters: ["x", "exponent"])
        for b in Array(binaryOps.keys) + ["matmul"] { t[b] = Signature(parameters: ["a", "b"]) }
        t["where"] = Signature(parameters: ["condition", "a", "b"])
        for r in reductions.keys {
            t[r] = Signature(parameters: ["x", "axis", "keepdim"], defaults: ["axis": .name("__all"), "keepdim": .bool(false)])
        }
        t["reshape"] = Signature(parameters: ["x", "shape"])
        t["unsqueeze"] = Signature(parameters: ["x", "axis"])
        t["squeeze"] = Signature(parameters: ["x", "axis"], defaults: ["axis": .name("__all")])
        t["concat"] = Signature(parameters: ["tensors", "axis"], defaults: ["axis": .number(0, isInteger: true)])
        t["linear"] = Signature(parameters: ["x", "weight", "bias"], defaults: ["bias": .name("__none")])
        for s in ["softmax", "log_softmax", "argmax"] {
            t[s] = Signature(parameters: ["x", "axis"], defaults: ["axis": .number(-1, isInteger: true)])
        }
        t["dropout"] = Signature(parameters: ["x", "p"], defaults: ["p": .number(0.5, isInteger: false)])
        let zero = ExprKind.number(0, isInteger: true), one = ExprKind.number(1, isInteger: true)
        t["conv2d"] = Signature(parameters: ["x", "weight", "bias", "stride", "padding"],
                                defaults: ["bias": .name("__none"), "stride": one, "padding": zero])
        for p in ["max_pool2d", "avg_pool2d"] {
            t[p] = Signature(parameters: ["x", "kernel_size", "stride", "padding"],
                             defaults: ["stride": .name("__kernel"), "padding": zero])
        }
        for l in Array(losses.keys) + ["cross_entropy"] { t[l] = Signature(parameters: ["input", "target"]) }
        return t
    }()
}

extension Analyzer {
    /// `f(args)`: a declared layer (which shadows a builtin of the same name), else a builtin.
    mutating func call(_ callee: String, _ args: [Argument], at loc: SourceLocation) -> SemaValue {
        switch symbols[callee] {
        case .layer(let name): return applyLayer(layers[name]!, args, at: loc)
        case .value(.poison): return .poison
        case .some:
            diagnostics.error(loc, "'\(callee)' is not a function or layer and cannot be called")
            return .poison
        case nil: break
        }
        guard let sig = Builtins.table[callee] else {
            let candidates = Array(Builtins.table.keys) + Array(layers.keys)
            let pytorch = PyTorchHints.call(callee, args, isValue: { if case .value = symbols[$0] { return true }; return false },
                                            isFunction: { Builtins.table[$0] != nil })
            diagnostics.error(loc, "unknown function '\(callee)'",
                              hint: pytorch ?? Suggestions.hint(for: callee, in: candidates.sorted()))
            return .poison
        }
        let defaults = sig.defaults.mapValues { Expr($0, loc) }
        guard let bound = bindArguments(args, names: sig.parameters, defaults: defaults, callee: callee, at: loc) else {
            return .poison
        }
        return applyBuiltin(callee, bound, at: loc)
    }

    /// Evaluates argument `name` as a tensor (or literal).
    private mutating func tensor(_ bound: [String: Expr], _ name: String) -> SemaValue {
        evaluate(bound[name]!)
    }

    /// A constant axis argument, made non-negative for a tensor of `rank` (`extra` allows the
    /// one-past-the-end axis of unsqueeze).
    private mutating func axis(_ e: Expr, rank: Int, extra: Int = 0, callee: String,
                               at call: SourceLocation) -> Int? {
        guard let a = integerArgument(e, "axis") else { return nil }
        let n = rank + extra
        guard a >= -n, a < n else {
            diagnostics.error(call, "in '\(callee)': axis \(a) is out of range for a tensor of rank \(rank)")
            return nil
        }
        return a < 0 ? a + n : a
    }

    private func rank(_ v: SemaValue) -> Int? {
        if case .tensor(let id) = v { return graph.type(of: id).rank }
        return nil
    }

    /// A tensor operand that must not be a bare number.
    private mutating func requireTensor(_ v: SemaValue, _ e: Expr, _ callee: String) -> ValueID? {
        switch v {
        case .tensor(let id): return id
        case .literal:
            diagnostics.error(e.location, "'\(callee)' needs a tensor here, not a number")
            return nil
        case .poison: return nil
        }
    }

    mutating func applyBuiltin(_ callee: String, _ args: [String: Expr], at loc: SourceLocation) -> SemaValue {
        if callee == "int" || callee == "float" { return conversion(callee, args, at: loc) }
        if let u = Builtins.unaryOps[callee] {
            let x = tensor(args, "x")
            if case .literal = x {  // fold nothing but keep the dtype rule: numbers are f32
                return emit(.unary(u), [x], at: loc, what: callee, literalType: .f32)
            }
            return emit(.unary(u), [x], at: loc, what: callee)
        }
        if let b = Builtins.binaryOps[callee] {
            return emit(.binary(b), [tensor(args, "a"), tensor(args, "b")], at: loc, what: callee)
        }
        if let r = Builtins.reductions[callee] { return reduction(r, callee, args, at: loc) }
        if let kind = Builtins.losses[callee] {
            let prediction = tensor(args, "input")
            checkLossInput(callee, prediction, at: loc)
            return emit(.loss(kind), [prediction, tensor(args, "target")], at: loc, what: callee)
        }
        switch callee {
        case "pow":
            guard let c = numberArgument(args["exponent"]!, "exponent") else { return .poison }
            return emit(.pow(c), [tensor(args, "x")], at: loc, what: callee)
        case "where":
            return emit(.select, [tensor(args, "condition"), tensor(args, "a"), tensor(args, "b")], at: loc, what: callee)
        case "matmul":
            return emit(.matmul(transposeA: false, transposeB: false), [tensor(args, "a"), tensor(args, "b")],
                        at: loc, what: callee)
        case "linear":
            let x = tensor(args, "x"), w = tensor(args, "weight")
            let y = emit(.matmul(transposeA: false, transposeB: true), [x, w], at: loc, what: callee)
            if case .name("__none") = args["bias"]!.kind { return y }
            return emit(.binary(.add), [y, tensor(args, "bias")], at: loc, what: callee)
        case "transpose":
            return emit(.transpose, [tensor(args, "x")], at: loc, what: callee)
        case "reshape":
            return reshape(args, at: loc)
        case "unsqueeze":
            let x = tensor(args, "x")
            guard let id = requireTensor(x, args["x"]!, callee) else { return .poison }
            let t = graph.type(of: id)
            guard let a = axis(args["axis"]!, rank: t.rank, extra: 1, callee: callee, at: loc) else { return .poison }
            var dims = t.shape.dims
            dims.insert(.fixed(1), at: a)
            return emit(.reshape, [x], at: loc, what: callee, declared: t.with(shape: Shape(dims)))
        case "squeeze":
            return squeeze(args, at: loc)
        case "flatten":
            let x = tensor(args, "x")
            guard let id = requireTensor(x, args["x"]!, callee) else { return .poison }
            let t = graph.type(of: id)
            guard t.rank >= 2 else {
                diagnostics.error(loc, "in 'flatten': needs at least 2 axes, got \(t)")
                return .poison
            }
            let rest = Shape(Array(t.shape.dims.dropFirst()))
            if rest.hasBatch {
                diagnostics.error(loc, "in 'flatten': the batch may only be the first axis, got \(t)")
                return .poison
            }
            return emit(.reshape, [x], at: loc, what: callee,
                        declared: t.with(shape: [t.shape.dims[0], .fixed(rest.fixedElementCount)]))
        case "concat":
            guard case .list(let items) = args["tensors"]!.kind else {
                diagnostics.error(args["tensors"]!.location, "concat takes a list of tensors, e.g. concat([a, b], 1)")
                return .poison
            }
            let values = items.map { evaluate($0) }
            guard let first = values.compactMap(rank).first else {
                if !values.contains(where: { if case .poison = $0 { return true }; return false }) {
                    diagnostics.error(loc, "concat needs at least one tensor")
                }
                return .poison
            }
            guard let a = axis(args["axis"]!, rank: first, callee: callee, at: loc) else { return .poison }
            return emit(.concat(axis: a), values, at: loc, what: callee)
        case "softmax", "log_softmax", "argmax":
            let x = tensor(args, "x")
            guard let id = requireTensor(x, args["x"]!, callee) else { return .poison }
            guard let a = axis(args["axis"]!, rank: graph.type(of: id).rank, callee: callee, at: loc) else { return .poison }
            let op: Op = callee == "softmax" ? .softmax(axis: a) : callee == "log_softmax" ? .logSoftmax(axis: a) : .argmax(axis: a)
            return emit(op, [x], at: loc, what: callee)
        case "dropout":
            let x = tensor(args, "x")
            guard let p = numberArgument(args["p"]!, "p") else { return .poison }
            guard p >= 0, p < 1 else {
                diagnostics.error(args["p"]!.location, "dropout probability must be in [0, 1), got \(formatNumber(p))")
                return .poison
            }
            // Sites number the dropout calls in source order (docs/rng.md, "Dropout").
            let site = graph.nodes.filter { if case .dropoutMask = $0.op { return true } else { return false } }.count
            let mask = emit(.dropoutMask(p: p, site: site), [x], at: loc, what: callee)
            return emit(.binary(.mul), [x, mask], at: loc, what: callee)
        case "conv2d":
            let s = windowSetting(args["stride"]!, "stride", minimum: 1)
            let p = windowSetting(args["padding"]!, "padding", minimum: 0)
            var operands = [tensor(args, "x"), tensor(args, "weight")]
            if case .name("__none") = args["bias"]!.kind {} else { operands.append(tensor(args, "bias")) }
            guard let s, let p else { return .poison }
            return emit(.conv2d(stride: s, padding: p, relu: false), operands, at: loc, what: callee)
        case "max_pool2d", "avg_pool2d":
            let x = tensor(args, "x")
            guard let k = windowSetting(args["kernel_size"]!, "kernel_size", minimum: 1) else { return .poison }
            var s: Int? = k
            if case .name("__kernel") = args["stride"]!.kind {} else { s = windowSetting(args["stride"]!, "stride", minimum: 1) }
            guard let s, let p = windowSetting(args["padding"]!, "padding", minimum: 0) else { return .poison }
            let w = Window2d(kernel: k, stride: s, padding: p)
            return emit(callee == "max_pool2d" ? .maxPool2d(w) : .avgPool2d(w), [x], at: loc, what: callee)
        case "cross_entropy":
            // nn.CrossEntropyLoss = nll(log_softmax(z)) (spec section 5).
            let z = tensor(args, "input")
            guard let id = requireTensor(z, args["input"]!, callee) else { return .poison }
            checkLossInput(callee, z, at: loc)
            guard graph.type(of: id).rank == 2 else {
                diagnostics.error(loc, "in 'cross_entropy': needs logits f32[N, C], got \(graph.type(of: id))")
                return .poison
            }
            let logp = emit(.logSoftmax(axis: 1), [z], at: loc, what: callee)
            return emit(.loss(.nll), [logp, tensor(args, "target")], at: loc, what: callee)
        default:
            fatalError("builtin '\(callee)' has a signature but no meaning")
        }
    }

    /// `int(x)` and `float(x)`: a number is converted at compile time, a tensor already of the
    /// target dtype is itself, anything else a conversion op.
    private mutating func conversion(_ callee: String, _ args: [String: Expr], at loc: SourceLocation) -> SemaValue {
        let x = tensor(args, "x")
        let target: DType = callee == "int" ? .i32 : .f32
        switch x {
        case .literal(let c):
            return .literal(callee == "int" ? ConstValue(value: c.value.rounded(.towardZero), isInteger: true)
                                            : ConstValue(value: c.value, isInteger: false))
        case .tensor(let id) where graph.type(of: id).dtype == target:
            return x  // already of that dtype
        default:
            return emit(.unary(callee == "int" ? .toInt : .toFloat), [x], at: loc, what: callee)
        }
    }

    private mutating func reduction(_ op: ReduceOp, _ callee: String, _ args: [String: Expr], at loc: SourceLocation) -> SemaValue {
        let x = tensor(args, "x")
        guard let id = requireTensor(x, args["x"]!, callee) else { return .poison }
        let t = graph.type(of: id)
        guard let keepdim = boolArgument(args["keepdim"]!, "keepdim") else { return .poison }
        let axes: [Int]
        if case .name("__all") = args["axis"]!.kind {
            axes = Array(0..<t.rank)
        } else {
            guard let a = axis(args["axis"]!, rank: t.rank, callee: callee, at: loc) else { return .poison }
            axes = [a]
        }
        if axes.isEmpty { return x }  // reducing a scalar over all of its (no) axes
        return emit(.reduce(op, axes: axes, keepdim: keepdim), [x], at: loc, what: callee)
    }

    /// `squeeze(x, axis)`: drops `axis`, which must have size 1 (a squeeze that would do nothing
    /// is an error, not PyTorch's silent no-op: shapes are known here); `squeeze(x)` drops every
    /// fixed axis of size 1. Either is a reshape, with a reshape's gradient and kernel.
    private mutating func squeeze(_ args: [String: Expr], at loc: SourceLocation) -> SemaValue {
        let x = tensor(args, "x")
        guard let id = requireTensor(x, args["x"]!, "squeeze") else { return .poison }
        let t = graph.type(of: id)
        var dims = t.shape.dims
        if case .name("__all") = args["axis"]!.kind {
            dims.removeAll { $0 == .fixed(1) }
            if dims == t.shape.dims {
                diagnostics.error(loc, "in 'squeeze': \(t) has no axis of size 1")
                return .poison
            }
        } else {
            guard let a = axis(args["axis"]!, rank: t.rank, callee: "squeeze", at: loc) else { return .poison }
            guard dims[a] == .fixed(1) else {
                let size = dims[a] == .batch ? "is the batch N" : "has size \(dims[a].fixedSize ?? 0)"
                diagnostics.error(loc, "in 'squeeze': axis \(a) of \(t) \(size), not 1",
                                  hint: dims[a] == .batch ? "the batch is never squeezed: its size is known only at run time" : nil)
                return .poison
            }
            dims.remove(at: a)
        }
        return emit(.reshape, [x], at: loc, what: "squeeze", declared: t.with(shape: Shape(dims)))
    }

    /// `reshape(x, [a, b])`: `-1` or the batch's name stand for exactly the batch; in a tensor
    /// without the batch, `-1` is the one size that keeps the element count.
    private mutating func reshape(_ args: [String: Expr], at loc: SourceLocation) -> SemaValue {
        let x = tensor(args, "x")
        guard let id = requireTensor(x, args["x"]!, "reshape") else { return .poison }
        let t = graph.type(of: id)
        guard case .list(let items) = args["shape"]!.kind else {
            diagnostics.error(args["shape"]!.location, "reshape's shape is a list, e.g. reshape(x, [N, 784])")
            return .poison
        }
        var dims: [Dim?] = []
        for e in items {
            if case .name(let n) = e.kind, consts.consts[n] == nil {
                if symbols[n] == nil { dims.append(nil); continue }
            }
            guard let v = integerArgument(e, "a size in the shape") else { return .poison }
            if v == -1 { dims.append(nil); continue }
            guard v >= 1 else {
                diagnostics.error(e.location, "a size in reshape must be positive or -1, got \(v)")
                return .poison
            }
            dims.append(.fixed(v))
        }
        let open = dims.filter { $0 == nil }.count
        guard open <= 1 else {
            diagnostics.error(loc, "in 'reshape': at most one size may be -1 or the batch")
            return .poison
        }
        var resolved = dims.map { $0 ?? .batch }
        if open == 1 && !t.shape.hasBatch {
            let known = dims.compactMap { $0?.fixedSize }.reduce(1, *)
            guard known > 0, t.shape.fixedElementCount % known == 0 else {
                diagnostics.error(loc, "in 'reshape': cannot reshape \(t) to \(Shape(resolved))")
                return .poison
            }
            let i = dims.firstIndex { $0 == nil }!
            resolved[i] = .fixed(t.shape.fixedElementCount / known)
        }
        return emit(.reshape, [x], at: loc, what: "reshape", declared: t.with(shape: Shape(resolved)))
    }
}
