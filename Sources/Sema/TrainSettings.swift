import DLCDiagnostics
import DLCIR
import DLCSyntax

/// The `train` block (spec section 6): each setting checked and stored in `graph.train`.
extension Analyzer {
    static let settingNames = ["optimizer", "batch", "drop_last", "epochs", "steps", "shuffle", "schedule",
                               "accumulate", "metric", "seed", "normalize", "data", "columns", "validation", "early_stop"]
    /// Settings that only make sense when the model reads data.
    static let dataSettings: Set<String> = ["data", "batch", "shuffle", "epochs", "normalize", "validation",
                                            "columns", "drop_last", "early_stop"]

    var hasData: Bool { !graph.data.isEmpty }

    mutating func applyTrainSettings(_ settings: [Setting]) {
        var seen: [String: SourceLocation] = [:]
        for s in settings {
            let name = s.name.value
            guard Analyzer.settingNames.contains(name) else {
                diagnostics.error(s.name.location, "unknown setting '\(name)'",
                                  hint: Suggestions.hint(for: name, in: Analyzer.settingNames)
                                      ?? (name == "lr" ? "the learning rate is set with optimizer sgd(lr: ...)" : nil))
                continue
            }
            if let previous = seen[name] {
                diagnostics.error(s.name.location, "setting '\(name)' is already given at line \(previous.line)")
                continue
            }
            seen[name] = s.name.location
            if !hasData && Analyzer.dataSettings.contains(name) {
                diagnostics.error(s.name.location, "'\(name)' needs a model with inputs; this model has none",
                                  hint: "a model without data trains 'steps N' updates")
                continue
            }
            if hasData && name == "steps" {
                diagnostics.error(s.name.location, "'steps' is for models without inputs; this one trains by 'epochs'",
                                  hint: "the trainer's --steps N stops after N updates")
                continue
            }
            if s.arguments.isEmpty {
                diagnostics.error(s.name.location, "setting '\(name)' needs a value")
                continue
            }
            applySetting(name, s)
        }
    }

    /// The single unlabeled value of a setting, or nil after reporting.
    private mutating func single(_ s: Setting) -> Expr? {
        guard s.arguments.count == 1, s.arguments[0].label == nil else {
            diagnostics.error(s.name.location, "setting '\(s.name.value)' takes one value")
            return nil
        }
        return s.arguments[0].value
    }

    private mutating func positiveInteger(_ s: Setting, min: Int = 1) -> Int? {
        guard let e = single(s), let v = integerArgument(e, s.name.value) else { return nil }
        guard v >= min else {
            diagnostics.error(s.name.location, "'\(s.name.value)' must be at least \(min), got \(v)")
            return nil
        }
        return v
    }

    private mutating func applySetting(_ name: String, _ s: Setting) {
        switch name {
        case "optimizer":
            if let e = single(s), let o = optimizer(e) { graph.train.optimizer = o }
        case "batch":
            guard let e = single(s) else { return }
            if case .full = e.kind { graph.train.batch = nil; return }
            if let v = positiveInteger(s) { graph.train.batch = v }
        case "drop_last":
            if let e = single(s), let b = boolArgument(e, name) { graph.train.dropLast = b }
        case "shuffle":
            if let e = single(s), let b = boolArgument(e, name) { graph.train.shuffle = b }
        case "epochs":
            if let v = positiveInteger(s) { graph.train.epochs = v }
        case "steps":
            if let v = positiveInteger(s) { graph.train.steps = v }
        case "accumulate":
            if let v = positiveInteger(s) { graph.train.accumulate = v }
        case "seed":
            if let v = positiveInteger(s, min: 0) { graph.train.seed = v }
        case "schedule":
            if let e = single(s), let sch = schedule(e) { graph.train.schedule = sch }
        case "metric":
            guard let e = single(s) else { return }
            guard case .name(let m) = e.kind, m == "none" || Metric(rawValue: m) != nil else {
                diagnostics.error(e.location, "unknown metric '\(e.kind)'".replacingNameKind(e),
                                  hint: "metrics: accuracy, mse, mae, none")
                return
            }
            if Metric(rawValue: m) != nil, let problem = metricProblem() {
                diagnostics.error(e.location, "metric '\(m)' \(problem.message)", hint: problem.hint)
                return
            }
            graph.train.metric = Metric(rawValue: m)
            if let metric = graph.train.metric { warnIfMetricCannotFollowLoss(metric, at: e.location) }
        case "normalize":
            var names: [String] = []
            for a in s.arguments {
                guard a.label == nil, case .name(let n) = a.value.kind else {
                    diagnostics.error(a.value.location, "normalize takes input names, e.g. normalize x")
                    continue
                }
                guard let d = graph.dataDecl(named: n), d.role == .input, d.type.dtype == .f32 else {
                    diagnostics.error(a.value.location, "'\(n)' is not an f32 input",
                                      hint: Suggestions.hint(for: n, in: graph.data.filter { $0.role == .input }.map(\.name)))
                    continue
                }
                names.append(n)
            }
            graph.train.normalize = names
        case "data":
            guard let e = single(s) else { return }
            guard case .string(let path) = e.kind, !path.isEmpty else {
                diagnostics.error(e.location, "data takes a file name in quotes, e.g. data \"data/digits.csv\"")
                return
            }
            graph.train.data = path
        case "columns":
            var bindings: [ColumnBinding] = []
            for a in s.arguments {
                guard let label = a.label, case .string(let spec) = a.value.kind else {
                    diagnostics.error(a.value.location, "columns takes NAME: \"COLUMNS\" pairs, e.g. columns x: \"0-63\", y: \"label\"")
                    continue
                }
                guard graph.dataDecl(named: label.value) != nil else {
                    diagnostics.error(label.location, "'\(label.value)' is not an input or target",
                                      hint: Suggestions.hint(for: label.value, in: graph.data.map(\.name)))
                    continue
                }
                bindings.append(ColumnBinding(name: label.value, columns: spec))
            }
            graph.train.columns = bindings
        case "validation":
            guard let e = single(s), let v = numberArgument(e, name) else { return }
            guard v >= 0, v < 1 else {
                diagnostics.error(s.name.location, "validation is a fraction in [0, 1), got \(formatNumber(v))")
                return
            }
            graph.train.validation = v
        case "early_stop":
            if let e = earlyStopSetting(s) { graph.train.earlyStop = e }
        default:
            fatalError("setting '\(name)' is listed but not handled")
        }
    }

    /// `sgd(lr: 0.1, momentum: 0.9)`
    private mutating func optimizer(_ e: Expr) -> Optimizer? {
        var kindName: String, args: [Argument] = []
        switch e.kind {
        case .name(let n): kindName = n
        case .call(let callee, let a): kindName = callee; args = a
        default:
            diagnostics.error(e.location, "expected an optimizer such as sgd(lr: 0.01)")
            return nil
        }
        guard let kind = Optimizer.Kind(rawValue: kindName) else {
            diagnostics.error(e.location, "unknown optimizer '\(kindName)'",
                              hint: Suggestions.hint(for: kindName, in: Optimizer.Kind.allCases.map(\.rawValue))
                                  ?? "optimizers: sgd, adam, adamw, adagrad")
            return nil
        }
        var o = Optimizer.defaults(kind)
        let names = Optimizer.argumentNames(kind)
        let defaults = Dictionary(uniqueKeysWithValues: names.map { ($0, Expr(.name("__default"), e.location)) })
        guard let bound = bindArguments(args, names: names, defaults: defaults, callee: kindName, at: e.location) else {
            return nil
        }
        for n in names {
            let v = bound[n]!
            if case .name("__default") = v.kind { continue }
            if n == "nesterov" {
                guard let b = boolArgument(v, n) else { return nil }
                o.nesterov = b
                continue
            }
            guard let x = numberArgument(v, n) else { return nil }
            let valid: Bool
            switch n {
            case "lr": o.lr = x; valid = x > 0
            case "momentum": o.momentum = x; valid = x >= 0 && x < 1
            case "weight_decay": o.weightDecay = x; valid = x >= 0
            case "beta1": o.beta1 = x; valid = x >= 0 && x < 1
            case "beta2": o.beta2 = x; valid = x >= 0 && x < 1
            default: o.eps = x; valid = x > 0
            }
            if !valid {
                diagnostics.error(v.location, "\(kindName)'s \(n) cannot be \(formatNumber(x))")
                return nil
            }
        }
        if o.nesterov && o.momentum == 0 {
            diagnostics.error(e.location, "nesterov needs a momentum above 0")
            return nil
        }
        return o
    }

    /// `step_lr(every: 10, gamma: 0.5)`, `cosine(epochs: 50)`, `reduce_on_plateau(...)`, `none`.
    private mutating func schedule(_ e: Expr) -> Schedule? {
        var kindName: String, args: [Argument] = []
        switch e.kind {
        case .name(let n): kindName = n
        case .call(let callee, let a): kindName = callee; args = a
        default:
            diagnostics.error(e.location, "expected a schedule such as step_lr(every: 10, gamma: 0.5)")
            return nil
        }
        let signatures: [String: [String]] = [
            "none": [], "step_lr": ["every", "gamma"], "cosine": ["epochs"],
            "reduce_on_plateau": ["factor", "patience", "threshold"],
        ]
        guard let names = signatures[kindName] else {
            diagnostics.error(e.location, "unknown schedule '\(kindName)'",
                              hint: Suggestions.hint(for: kindName, in: signatures.keys.sorted())
                                  ?? "schedules: none, step_lr, cosine, reduce_on_plateau")
            return nil
        }
        let loc = e.location
        let defaults: [String: Expr] = [
            "every": Expr(.number(10, isInteger: true), loc), "gamma": Expr(.number(0.5, isInteger: false), loc),
            "epochs": Expr(.number(Double(graph.train.epochs), isInteger: true), loc),
            "factor": Expr(.number(0.1, isInteger: false), loc), "patience": Expr(.number(10, isInteger: true), loc),
            "threshold": Expr(.number(1e-4, isInteger: false), loc),
        ]
        guard let bound = bindArguments(args, names: names, defaults: defaults, callee: kindName, at: loc) else { return nil }
        switch kindName {
        case "none": return Schedule.none
        case "step_lr":
            guard let every = integerArgument(bound["every"]!, "every"), every >= 1,
                  let gamma = numberArgument(bound["gamma"]!, "gamma"), gamma > 0 else {
                diagnostics.error(loc, "step_lr needs every >= 1 and gamma > 0")
                return nil
            }
            return .stepLR(every: every, gamma: gamma)
        case "cosine":
            guard let epochs = integerArgument(bound["epochs"]!, "epochs"), epochs >= 1 else { return nil }
            return .cosine(epochs: epochs)
        default:
            guard let factor = numberArgument(bound["factor"]!, "factor"), factor > 0, factor < 1,
                  let patience = integerArgument(bound["patience"]!, "patience"), patience >= 0,
                  let threshold = numberArgument(bound["threshold"]!, "threshold"), threshold >= 0 else {
                diagnostics.error(loc, "reduce_on_plateau needs 0 < factor < 1, patience >= 0 and threshold >= 0")
                return nil
            }
            return .reduceOnPlateau(factor: factor, patience: patience, threshold: threshold)
        }
    }

    /// Why the model cannot compute a metric, or nil when it can. A metric compares the first
    /// output, one row per example, with a target (codegen/core/dlc_metrics.c), so the model needs data
    /// and an output that holds the batch. An `output` whose names are in error is already
    /// reported and raises nothing here.
    private func metricProblem() -> (message: String, hint: String)? {
        if !hasData {
            return ("needs a model with data to compare with; this model has no inputs",
                    "remove the metric, or use 'metric none'")
        }
        if !hasOutputStatement {
            return ("needs an output to compare with the target, and the forward block has none",
                    "add 'output NAME' to the forward block, naming the predictions")
        }
        if let first = graph.outputs.first, !graph.type(of: first.value).shape.dims.contains(.batch) {
            return ("compares the first output with the target row by row, but '\(first.name)' is "
                        + "\(graph.type(of: first.value)), with no row per example",
                    "put the per-example predictions first in 'output'")
        }
        return nil
    }
}

private extension String {
    /// `unknown metric 'name("x")'` reads badly: show the written name when there is one.
    func replacingNameKind(_ e: Expr) -> String {
        if case .name(let n) = e.kind { return "unknown metric '\(n)'" }
        return "expected a metric: accuracy, mse, mae or none"
    }
}
