import DLCDiagnostics
import DLCIR
import DLCSyntax

/// What an expression of the forward block evaluates to during analysis.
enum SemaValue {
    /// A value of the graph.
    case tensor(ValueID)
    /// A number not yet typed: it takes the dtype of the tensor it meets (spec section 3).
    case literal(ConstValue)
    /// The expression had an error, already reported; anything built on it stays silent.
    case poison
}

extension Analyzer {
    // MARK: - Statements

    mutating func buildForward(location: SourceLocation, _ statements: [Statement]) {
        var lossSeen: SourceLocation?
        for s in statements {
            switch s {
            case .bind(let name, let value):
                let first = graph.nodes.count
                let v = evaluate(value)
                if name.value.contains(".") {
                    diagnostics.error(name.location, "a bound name cannot contain '.'",
                                      hint: "dotted names denote layer params such as fc1.weight")
                    continue
                }
                if let previous = declaredAt[name.value] {
                    let how = boundInForward.contains(name.value) ? "bound" : "declared"
                    diagnostics.error(name.location, "'\(name.value)' is already \(how) at line \(previous.line)",
                                      hint: "names are bound once; choose a new name")
                    // Later uses meant the new value, which is in error: keep them quiet.
                    symbols[name.value] = .value(.poison)
                    continue
                }
                // Name the node this statement created; an alias of an older value stays an alias.
                if case .tensor(let id) = v, id.index >= first, graph[id].name == nil {
                    graph[id].name = name.value
                }
                _ = declare(name, .value(v))
                boundInForward.insert(name.value)
            case .output(_, let names):
                hasOutputStatement = true
                for n in names {
                    guard let symbol = symbols[n.value] else {
                        diagnostics.error(n.location, "output of unknown name '\(n.value)'",
                                          hint: Suggestions.hint(for: n.value, in: Array(symbols.keys)))
                        continue
                    }
                    switch symbol {
                    case .value(.tensor(let id)):
                        if graph.outputs.contains(where: { $0.name == n.value }) {
                            diagnostics.error(n.location, "'\(n.value)' is already an output")
                        }
                        // predict writes an output row by row: the batch must lead.
                        let dims = graph.type(of: id).shape.dims
                        if let axis = dims.firstIndex(of: .batch), axis != 0 {
                            diagnostics.error(n.location, "output '\(n.value)' is \(graph.type(of: id)): an output holds "
                                                  + "the batch as its first axis (one row per example)",
                                              hint: dims.count == 2 ? "bind transpose(\(n.value)) to a name and output that" : nil)
                            continue
                        }
                        graph.outputs.append(NamedValue(n.value, id))
                    case .value(.poison): break
                    default:
                        diagnostics.error(n.location, "'\(n.value)' is not a tensor and cannot be an output")
                    }
                }
            case .loss(let loc, let value):
                if lossSeen != nil {
                    diagnostics.error(loc, "a model has exactly one loss; another is at line \(lossSeen!.line)")
                    continue
                }
                lossSeen = loc
                switch evaluate(value) {
                case .tensor(let id):
                    let t = graph.type(of: id)
                    if t != .f32Scalar {
                        diagnostics.error(loc, "the loss must be an f32 scalar, got \(t)",
                                          hint: t.dtype == .f32 ? "reduce it, e.g. with mean(...)" : nil)
                    } else {
                        graph.loss = id
                    }
                case .literal:
                    diagnostics.error(loc, "the loss must depend on the params, not be a constant")
                case .poison: break
                }
            }
        }
        if lossSeen == nil {
            diagnostics.error(location, "the forward block has no loss", hint: "add 'loss EXPR', e.g. loss mse(pred, y)")
        }
    }

    // MARK: - Expressions

    mutating func evaluate(_ e: Expr) -> SemaValue {
        switch e.kind {
        case .number(let v, let isInteger):
            return .literal(ConstValue(value: v, isInteger: isInteger))
        case .name(let n):
            return lookup(n, at: e.location)
        case .negate(let x):
            switch evaluate(x) {
            case .literal(let c): return .literal(ConstValue(value: -c.value, isInteger: c.isInteger))
            case .poison: return .poison
            case let v: return emit(.unary(.neg), [v], at: e.location, what: "-")
            }
        case .binary(let op, let a, let b):
            return binary(op, evaluate(a), evaluate(b), at: e.location, rhs: b)
        case .call(let callee, let args):
            return call(callee, args, at: e.location)
        case .index(let base, let index):
            let t = evaluate(base), i = evaluate(index)
            if case .literal(let c) = i, !c.isInteger {
                diagnostics.error(index.location, "an index must be an integer, got \(formatNumber(c.value))")
                return .poison
            }
            guard case .tensor = t else {
                if case .literal = t { diagnostics.error(e.location, "cannot index a number") }
                return .poison
            }
            return emit(.gather, [t, i], at: e.location, what: "[]", literalType: .i32)
        case .string:
            diagnostics.error(e.location, "a string is not a value here")
            return .poison
        case .bool, .full:
            diagnostics.error(e.location, "'\(e.kind)' is not a value here")
            return .poison
        case .error:
            return .poison
        case .list:
            diagnostics.error(e.location, "a list appears only as an argument (reshape's shape, concat's operands)")
            return .poison
        }
    }

    mutating func lookup(_ n: String, at location: SourceLocation) -> SemaValue {
        switch symbols[n] {
        case .value(let v): return v
        case .const(let c): return .literal(c)
        case .layer:
            diagnostics.error(location, "layer '\(n)' is applied by calling it, e.g. \(n)(x)")
            return .poison
        case nil:
            let hint = PyTorchHints.name(n, isFunction: { Builtins.table[$0] != nil })
                ?? Suggestions.hint(for: n, in: Array(symbols.keys))
                ?? (Builtins.table[n] != nil ? "'\(n)' is a function; call it as \(n)(...)" : nil)
            diagnostics.error(location, "undefined name '\(n)'", hint: hint)
            return .poison
        }
    }

    mutating func binary(_ op: BinaryOperator, _ a: SemaValue, _ b: SemaValue, at loc: SourceLocation,
                         rhs: Expr) -> SemaValue {
        if case .poison = a { return .poison }
        if case .poison = b { return .poison }
        // Two numbers fold at compile time.
        if case .literal(let x) = a, case .literal(let y) = b {
            let bothInt = x.isInteger && y.isInteger
            switch op {
            case .add: return .literal(ConstValue(value: x.value + y.value, isInteger: bothInt))
            case .sub: return .literal(ConstValue(value: x.value - y.value, isInteger: bothInt))
            case .mul: return .literal(ConstValue(value: x.value * y.value, isInteger: bothInt))
            case .div: return .literal(ConstValue(value: x.value / y.value, isInteger: false))
            case .pow:
                return .literal(ConstValue(value: ConstEvaluator().evaluate(
                    Expr(.binary(.pow, Expr(.number(x.value, isInteger: x.isInteger), loc),
                                 Expr(.number(y.value, isInteger: y.isInteger), loc)), loc))?.value ?? .nan,
                    isInteger: false))
            default: break  // materialise and let the type rules decide
            }
        }
        switch op {
        case .pow:
            guard case .literal(let c) = b else {
                diagnostics.error(loc, "the exponent of '**' must be a constant number")
                return .poison
            }
            return emit(.pow(c.value), [a], at: loc, what: "**")
        case .matmul:
            return emit(.matmul(transposeA: false, transposeB: false), [a, b], at: loc, what: "@")
        default:
            let ops: [BinaryOperator: BinaryOp] = [
                .add: .add, .sub: .sub, .mul: .mul, .div: .div, .floorDiv: .floorDiv, .mod: .mod,
                .eq: .eq, .ne: .ne, .lt: .lt, .le: .le, .gt: .gt, .ge: .ge,
            ]
            return emit(.binary(ops[op]!), [a, b], at: loc, what: op.rawValue)
        }
    }

    /// Appends a node for `op`, typing literals by the tensor they meet, and reports a type
    /// error at `location` naming the operation `what`.
    mutating func emit(_ op: Op, _ operands: [SemaValue], at location: SourceLocation, what: String,
                       declared: TensorType? = nil, literalType: DType? = nil) -> SemaValue {
        var ids: [ValueID] = []
        // The dtype a literal takes: the other operands' (for `where`, the branches').
        let tensorDType = literalType ?? operands.compactMap { v -> DType? in
            if case .tensor(let id) = v { return graph.type(of: id).dtype }
            return nil
        }.last ?? .f32
        for v in operands {
            switch v {
            case .poison: return .poison
            case .tensor(let id): ids.append(id)
            case .literal(let c):
                if tensorDType == .i32 && !c.isInteger {
                    diagnostics.error(location, "the number \(formatNumber(c.value)) cannot meet an i32 tensor in '\(what)'",
                                      hint: "use float(...) to convert the i32 tensor")
                    return .poison
                }
                ids.append(graph.add(.constant(c.value), type: TensorType(tensorDType), location: location))
            }
        }
        do {
            let type = try TypeRules.resultType(of: op, operands: ids.map { graph.type(of: $0) }, declared: declared)
            return .tensor(graph.add(op, ids, type: type, location: location))
        } catch let f as TypeRules.Failure {
            diagnostics.error(location, "in '\(what)': \(f.message)", hint: batchHint(op, ids) ?? lossShapeHint(op, ids))
            return .poison
        } catch {
            return .poison
        }
    }

    /// `mse(p, y)` with p: [N, 1] and y: [N] (PyTorch would broadcast them to [N, N] with a
    /// warning): say how to make them agree.
    private func lossShapeHint(_ op: Op, _ ids: [ValueID]) -> String? {
        guard case .loss(let kind) = op, kind != .nll, ids.count == 2 else { return nil }
        let (p, y) = (graph.type(of: ids[0]).shape, graph.type(of: ids[1]).shape)
        if p.dims == y.dims + [.fixed(1)] { return "give the target a feature axis: unsqueeze(target, \(y.rank)), or declare it with a trailing 1" }
        if y.dims == p.dims + [.fixed(1)] { return "give the prediction the target's shape: unsqueeze(prediction, \(p.rank))" }
        return nil
    }

    /// When an elementwise op fails only because a fixed size met the batch, say the rule.
    private func batchHint(_ op: Op, _ ids: [ValueID]) -> String? {
        switch op {
        case .binary, .select: break
        default: return nil
        }
        guard Set(ids.dropFirst(op == .select ? 1 : 0).map { graph.type(of: $0).dtype }).count == 1 else { return nil }
        let shapes = ids.map { graph.type(of: $0).shape }
        let batchAsOne = shapes.map { Shape($0.dims.map { $0 == .batch ? .fixed(1) : $0 }) }
        var joined: Shape? = batchAsOne.first
        for s in batchAsOne.dropFirst() { joined = joined.flatMap { Shape.broadcast($0, s) } }
        guard shapes.contains(where: \.hasBatch), joined != nil else { return nil }
        return "the batch dimension N matches only itself or 1"
    }
}
