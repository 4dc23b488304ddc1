import DLCDiagnostics
import DLCIR
import DLCSyntax

/// Semantic analysis: turns a parsed model into the typed graph IR, or reports every error it
/// can find, each once, at the place spec section 4 names.
///
/// Declarations are processed first (consts in order, then inputs, params and layers), then the
/// forward block, then the train block, so a model may declare in any order.
public struct Analyzer {
    var graph: Graph
    var diagnostics = DiagnosticBag()
    var consts = ConstEvaluator()
    /// Every name declared at model level or bound in `forward`, and where.
    var symbols: [String: Symbol] = [:]
    var declaredAt: [String: SourceLocation] = [:]
    var layers: [String: Layer] = [:]
    /// Names bound by `name = expr` in the forward block (the others are declarations).
    var boundInForward: Set<String> = []
    /// Each state's value after the layer calls analysed so far (its leaf before any): a
    /// layer called twice in a step updates its running statistics twice, as in PyTorch.
    var stateAfterCalls: [String: ValueID] = [:]
    /// Whether the forward block has an `output` statement (even one whose names are in error).
    var hasOutputStatement = false

    /// What a name denotes.
    enum Symbol {
        case const(ConstValue)
        /// An input, target, param or forward binding.
        case value(SemaValue)
        case layer(String)
    }

    init(name: String) { graph = Graph(name: name) }

    /// Analyzes a model. The graph is returned only when there are no errors.
    public static func analyze(_ model: ModelAST) -> (Graph?, DiagnosticBag) {
        var a = Analyzer(name: model.name)
        a.declareAll(model)
        let forwards = model.declarations.compactMap { d -> (SourceLocation, [Statement])? in
            if case .forward(let loc, let s) = d { return (loc, s) }
            return nil
        }
        if forwards.isEmpty {
            a.diagnostics.error(model.location, "model '\(model.name)' has no forward block",
                                hint: "add 'forward { ... loss EXPR }'")
        }
        for (i, (loc, statements)) in forwards.enumerated() {
            if i > 0 { a.diagnostics.error(loc, "a model has one forward block"); continue }
            a.buildForward(location: loc, statements)
        }
        // A state that some layer call changed takes its last value after a training step.
        a.graph.stateUpdates = a.graph.state.compactMap { st in
            guard let v = a.stateAfterCalls[st.name], v != a.graph.stateValue(st.name) else { return nil }
            return NamedValue(st.name, v)
        }
        var trainBlocks = 0
        for case .train(let loc, let settings) in model.declarations {
            trainBlocks += 1
            if trainBlocks > 1 { a.diagnostics.error(loc, "a model has one train block"); continue }
            a.applyTrainSettings(settings)
        }
        if !a.diagnostics.hasErrors { a.checkGradientPaths() }
        return (a.diagnostics.hasErrors ? nil : a.graph, a.diagnostics)
    }

    // MARK: - Declarations

    mutating func declare(_ name: Located<String>, _ symbol: Symbol) -> Bool {
        if let previous = declaredAt[name.value] {
            diagnostics.error(name.location, "'\(name.value)' is already declared at line \(previous.line)")
            return false
        }
        declaredAt[name.value] = name.location
        symbols[name.value] = symbol
        return true
    }

    mutating func declareAll(_ model: ModelAST) {
        for case .const(let name, let value) in model.declarations {
            do {
                let v = try consts.evaluateOrThrow(value)
                if !v.value.isFinite {
                    diagnostics.error(value.location, "the value of '\(name.value)' is out of range")
                }
                if declare(name, .const(v)) { consts.consts[name.value] = v }
            } catch ConstEvaluator.Failure.notConstant(let loc, let message) {
                diagnostics.error(loc, message, hint: "a const may use numbers, other consts and + - * / **")
                _ = declare(name, .value(.poison))
            } catch {}
        }
        for d in model.declarations {
            switch d {
            case .data(let isTarget, let name, let typeExpr):
                declareData(name, role: isTarget ? .target : .input, typeExpr)
            case .param(let name, let typeExpr, let initializer):
                declareParam(name, typeExpr, initializer)
            case .layer(let name, let kind, let arguments):
                declareLayer(name, kind: kind, arguments)
            case .invalid(let name):
                if declaredAt[name.value] == nil { _ = declare(name, .value(.poison)) }
            default: break
            }
        }
    }

    mutating func declareData(_ name: Located<String>, role: DataRole, _ typeExpr: TypeExpr) {
        guard let type = resolveType(typeExpr, allowBatch: true) else {
            _ = declare(name, .value(.poison))
            return
        }
        if name.value.contains(".") {
            diagnostics.error(name.location, "a data name cannot contain '.'")
        }
        graph.data.append(DataDecl(name: name.value, role: role, type: type))
        let v = graph.add(.input(name.value), type: type, name: name.value, location: name.location)
        _ = declare(name, .value(.tensor(v)))
    }

    mutating func declareParam(_ name: Located<String>, _ typeExpr: TypeExpr, _ initExpr: Expr?) {
        guard let type = resolveType(typeExpr, allowBatch: false) else {
            _ = declare(name, .value(.poison))
            return
        }
        if type.dtype != .f32 {
            diagnostics.error(typeExpr.dtype.location, "params are always f32, not \(type.dtype.rawValue)")
        }
        var initializer: Initializer? = .zeros
        if let initExpr, case .list = initExpr.kind {
            initializer = listedValues(initExpr, TensorType(.f32, type.shape), name: name.value)
        } else if let initExpr {
            initializer = resolveInitializer(initExpr)
        }
        guard let initializer else {
            _ = declare(name, .value(.poison))
            return
        }
        addParam(name, TensorType(.f32, type.shape), initializer)
    }

    mutating func addParam(_ name: Located<String>, _ type: TensorType, _ initializer: Initializer) {
        guard declaredAt[name.value] == nil else {
            _ = declare(name, .value(.poison))  // reports the duplicate
            return
        }
        graph.params.append(ParamDecl(name: name.value, type: type, initializer: initializer))
        let v = graph.add(.param(name.value), type: type, name: name.value, location: name.location)
        _ = declare(name, .value(.tensor(v)))
    }

    /// A state of a layer (`bn.running_mean`): declared, readable by its name, never trained.
    mutating func addState(_ name: Located<String>, _ type: TensorType, _ initializer: Initializer) {
        guard declaredAt[name.value] == nil else {
            _ = declare(name, .value(.poison))  // reports the duplicate
            return
        }
        graph.state.append(StateDecl(name: name.value, type: type, initializer: initializer))
        let v = graph.add(.state(name.value), type: type, name: name.value, location: name.location)
        stateAfterCalls[name.value] = v
        _ = declare(name, .value(.tensor(v)))
    }

    /// `f32[N, 784]`: the dtype, and each dim a positive integer constant, or a symbolic name
    /// (the batch) in the first axis of an input or target.
    mutating func resolveType(_ t: TypeExpr, allowBatch: Bool) -> TensorType? {
        guard let dtype = DType(rawValue: t.dtype.value) else {
            diagnostics.error(t.dtype.location, "unknown type '\(t.dtype.value)'",
                              hint: Suggestions.hint(for: t.dtype.value, in: DType.allCases.map(\.rawValue)) ?? "types are f32 and i32")
            return nil
        }
        var dims: [Dim] = []
        var ok = true
        for (axis, e) in (t.dims ?? []).enumerated() {
            if case .name(let n) = e.kind, consts.consts[n] == nil, symbols[n] == nil {
                if allowBatch && axis == 0 {
                    dims.append(.batch)
                } else {
                    diagnostics.error(e.location, "symbolic dimension '\(n)' may stand only as the first axis of an input or target",
                                      hint: allowBatch ? nil : "params have fixed sizes; declare a const for '\(n)'")
                    ok = false
                }
                continue
            }
            guard let d = dimensionValue(e) else { ok = false; continue }
            dims.append(.fixed(d))
        }
        return ok ? TensorType(dtype, Shape(dims)) : nil
    }

    /// A dimension: an integer constant in 1 ..< 2^31.
    mutating func dimensionValue(_ e: Expr) -> Int? {
        do {
            let c = try consts.evaluateOrThrow(e)
            guard c.value.rounded() == c.value, c.value >= 1, c.value < 2147483648 else {
                diagnostics.error(e.location, "a dimension must be an integer in 1...2147483647, got \(formatNumber(c.value))")
                return nil
            }
            return Int(c.value)
        } catch ConstEvaluator.Failure.notConstant(let loc, let message) {
            diagnostics.error(loc, message)
        } catch {}
        return nil
    }

    /// `normal(0, 1)`, `zeros`, `0.5`, `kaiming_uniform`, ...
    mutating func resolveInitializer(_ e: Expr) -> Initializer? {
        if let c = consts.evaluate(e) { return .constant(c.value) }
        var kind: String, args: [Argument] = []
        switch e.kind {
        case .name(let n): kind = n
        case .call(let callee, let a): kind = callee; args = a
        default:
            diagnostics.error(e.location, "expected an initializer such as normal(0, 1), zeros, a number or a list of numbers")
            return nil
        }
        let signatures: [String: [String]] = [
            "zeros": [], "ones": [], "kaiming_uniform": [], "xavier_uniform": [],
            "normal": ["mean", "std"], "uniform": ["low", "high"],
        ]
        guard let names = signatures[kind] else {
            diagnostics.error(e.location, "unknown initializer '\(kind)'",
                              hint: Suggestions.hint(for: kind, in: Array(signatures.keys).sorted()))
            return nil
        }
        var defaults: [String: Expr] = [:]
        if kind == "normal" {
            defaults = ["mean": Expr(.number(0, isInteger: true), e.location), "std": Expr(.number(1, isInteger: true), e.location)]
        }
        guard let bound = bindArguments(args, names: names, defaults: defaults, callee: kind, at: e.location) else { return nil }
        var values: [Double] = []
        for n in names {
            guard let v = numberArgument(bound[n]!, n) else { return nil }
            values.append(v)
        }
        switch kind {
        case "zeros": return .zeros
        case "ones": return .ones
        case "kaiming_uniform": return .kaimingUniform
        case "xavier_uniform": return .xavierUniform
        case "normal":
            if values[1] < 0 { diagnostics.error(e.location, "normal's std must be non-negative"); return nil }
            return .normal(mean: values[0], std: values[1])
        default:
            if values[0] > values[1] { diagnostics.error(e.location, "uniform needs low <= high"); return nil }
            return .uniform(low: values[0], high: values[1])
        }
    }

    // MARK: - Argument helpers shared by initializers, layers, builtins and settings

    /// Binds positional then named arguments to parameter names. Reports too many arguments, an
    /// unknown or repeated name, or a missing argument (one without a default).
    mutating func bindArguments(_ args: [Argument], names: [String], defaults: [String: Expr],
                                callee: String, at location: SourceLocation) -> [String: Expr]? {
        var bound: [String: Expr] = [:]
        var positional = 0
        var ok = true
        for a in args {
            if let label = a.label {
                guard names.contains(label.value) else {
                    diagnostics.error(label.location, "'\(callee)' has no argument named '\(label.value)'",
                                      hint: Suggestions.hint(for: label.value, in: names)
                                          ?? (label.value == "dim" && names.contains("axis") ? "dlc calls PyTorch's dim 'axis': write 'axis: \(a.value.spelling)'" : nil)
                                          ?? (names.isEmpty ? "it takes no arguments" : "its arguments are " + names.joined(separator: ", ")))
                    ok = false
                    continue
                }
                if bound[label.value] != nil {
                    diagnostics.error(label.location, "argument '\(label.value)' of '\(callee)' is given twice")
                    ok = false
                }
                bound[label.value] = a.value
            } else {
                guard positional < names.count else {
                    diagnostics.error(location, "'\(callee)' takes \(names.count) argument\(names.count == 1 ? "" : "s"), got \(args.count)")
                    return nil
                }
                if bound[names[positional]] != nil {
                    diagnostics.error(a.value.location, "argument '\(names[positional])' of '\(callee)' is given twice")
                    ok = false
                }
                bound[names[positional]] = a.value
                positional += 1
            }
        }
        for n in names where bound[n] == nil {
            if let d = defaults[n] { bound[n] = d; continue }
            if ok {
                diagnostics.error(location, "'\(callee)' needs its argument '\(n)'",
                                  hint: "'\(callee)' takes (" + names.joined(separator: ", ") + ")")
            }
            ok = false
        }
        return ok ? bound : nil
    }

    mutating func numberArgument(_ e: Expr, _ what: String) -> Double? {
        if let c = consts.evaluate(e) { return c.value }
        diagnostics.error(e.location, "'\(what)' must be a number")
        return nil
    }

    mutating func integerArgument(_ e: Expr, _ what: String) -> Int? {
        if let c = consts.evaluate(e), c.value.rounded() == c.value, abs(c.value) < 2147483648 {
            return Int(c.value)
        }
        diagnostics.error(e.location, "'\(what)' must be an integer")
        return nil
    }

    mutating func boolArgument(_ e: Expr, _ what: String) -> Bool? {
        if case .bool(let b) = e.kind { return b }
        diagnostics.error(e.location, "'\(what)' must be true or false")
        return nil
    }
}

/// Numbers in messages: `3` rather than `3.0`.
func formatNumber(_ v: Double) -> String {
    if v.rounded() == v, abs(v) < 1e15 { return String(Int(v)) }
    return String(v)
}
