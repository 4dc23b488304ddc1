/// The settings of the `train` block. A setting left out keeps `TrainConfig`'s default; one
/// given twice is an error.
extension IRTextParser {
    mutating func trainSetting(_ seen: inout Set<String>) throws {
        let (key, offset) = try atom("a train setting")
        guard !seen.contains(key) else { throw ParseFailure(offset: offset, message: "'\(key)' is set twice") }
        var t = graph.train
        switch key {
        case "optimizer": t.optimizer = try optimizer()
        case "batch":
            if tok.kind == .atom("full") {
                advance()
                t.batch = nil
            } else {
                t.batch = try int("a batch size or 'full'")
            }
        case "drop_last": t.dropLast = try bool()
        case "epochs": t.epochs = try int()
        case "steps": t.steps = try int()
        case "shuffle": t.shuffle = try bool()
        case "schedule": t.schedule = try schedule()
        case "accumulate": t.accumulate = try int()
        case "metric":
            let (m, mOffset) = try atom("a metric")
            if m == "none" {
                t.metric = nil
            } else {
                guard let metric = Metric(rawValue: m) else {
                    throw ParseFailure(offset: mOffset, message: "unknown metric '\(m)'; expected accuracy, mse, mae or none")
                }
                t.metric = metric
            }
        case "seed": t.seed = try int()
        case "normalize":
            var names: [String] = []
            repeat { names.append(try name("an input name")) } while consume(",")
            t.normalize = names
        case "data":
            guard case .string(let path) = tok.kind else { throw unexpected(tok, "a quoted path") }
            advance()
            t.data = path
        case "columns":
            var bindings: [ColumnBinding] = []
            repeat {
                let name = try name("an input or target name")
                try punct(":")
                guard case .string(let columns) = tok.kind else { throw unexpected(tok, "a quoted column list") }
                advance()
                bindings.append(ColumnBinding(name: name, columns: columns))
            } while consume(",")
            t.columns = bindings
        case "validation": t.validation = try double()
        case "early_stop":
            // `patience: N, min_delta: D`, as the printer writes it.
            try keyword("patience")
            try punct(":")
            let patience = try int()
            try punct(",")
            try keyword("min_delta")
            try punct(":")
            t.earlyStop = EarlyStop(patience: patience, minDelta: try double())
        default:
            let known = ["optimizer", "batch", "drop_last", "epochs", "steps", "shuffle", "schedule", "accumulate",
                         "metric", "seed", "normalize", "data", "columns", "validation", "early_stop"]
            throw ParseFailure(offset: offset, message: "unknown train setting '\(key)'",
                               hint: IRText.suggestion(for: key, among: known).map { "did you mean '\($0)'?" })
        }
        try endOfStatement()
        seen.insert(key)
        graph.train = t
    }

    /// `sgd(lr: 0.01, momentum: 0.0, weight_decay: 0.0, nesterov: false)`: every argument of the
    /// kind (`Optimizer.argumentNames`), in any order.
    mutating func optimizer() throws -> Optimizer {
        let (name, offset) = try atom("an optimizer")
        guard let kind = Optimizer.Kind(rawValue: name) else {
            throw ParseFailure(offset: offset, message: "unknown optimizer '\(name)'; expected sgd, adam, adamw or adagrad")
        }
        guard isPunct("(") else { throw unexpected(tok, "'('") }
        var args = try keyValues(close: ")", owner: name, noun: "argument")
        var o = Optimizer(kind: kind, lr: 0)
        for arg in Optimizer.argumentNames(kind) {
            switch arg {
            case "lr": o.lr = try args.double(arg)
            case "momentum": o.momentum = try args.double(arg)
            case "weight_decay": o.weightDecay = try args.double(arg)
            case "nesterov": o.nesterov = try args.bool(arg)
            case "beta1": o.beta1 = try args.double(arg)
            case "beta2": o.beta2 = try args.double(arg)
            case "eps": o.eps = try args.double(arg)
            default: throw ParseFailure(offset: offset, message: "internal error: unknown optimizer argument '\(arg)'")
            }
        }
        try args.finish()
        return o
    }

    /// `none`, `step_lr(every: 10, gamma: 0.5)`, `cosine(epochs: 50)` or
    /// `reduce_on_plateau(factor: 0.1, patience: 10, threshold: 0.0001)`, every argument given.
    mutating func schedule() throws -> Schedule {
        let (name, offset) = try atom("a schedule")
        if name == "none" { return .none }
        let known = ["step_lr", "cosine", "reduce_on_plateau"]
        guard known.contains(name) else {
            throw ParseFailure(offset: offset, message: "unknown schedule '\(name)'; expected none, step_lr, cosine or reduce_on_plateau")
        }
        guard isPunct("(") else { throw unexpected(tok, "'('") }
        var args = try keyValues(close: ")", owner: name, noun: "argument")
        let s: Schedule
        switch name {
        case "step_lr": s = .stepLR(every: try args.int("every"), gamma: try args.double("gamma"))
        case "cosine": s = .cosine(epochs: try args.int("epochs"))
        default:
            s = .reduceOnPlateau(factor: try args.double("factor"), patience: try args.int("patience"),
                                 threshold: try args.double("threshold"))
        }
        try args.finish()
        return s
    }
}
