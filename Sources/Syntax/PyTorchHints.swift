import DLCDiagnostics

/// Notes for PyTorch spellings that are not dlc's: module prefixes (`torch.relu(x)`,
/// `F.relu(x)`), modules (`nn.ReLU()`), tensor methods (`x.view(-1, 64)`, `x.squeeze(1)`).
/// Each note shows the dlc spelling of what the user wrote, with their arguments.
public enum PyTorchHints {
    /// Prefixes of PyTorch's function namespaces, longest first.
    static let modulePrefixes = ["torch.nn.functional.", "nn.functional.", "torch.", "F."]

    /// PyTorch function names whose dlc name differs.
    static let functionNames: [String: String] = [
        "cat": "concat", "mm": "matmul", "bmm": "matmul", "view": "reshape", "mse_loss": "mse", "l1_loss": "l1",
        "binary_cross_entropy": "bce", "binary_cross_entropy_with_logits": "bce_logits", "nll_loss": "nll",
        "hinge_embedding_loss": "hinge", "t": "transpose", "amax": "max", "clamp_min": "maximum",
    ]

    /// `nn.ReLU` and friends: the dlc function each module applies.
    public static let modules: [String: String] = [
        "ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax", "LogSoftmax": "log_softmax",
        "Dropout": "dropout", "Flatten": "flatten", "CrossEntropyLoss": "cross_entropy", "MSELoss": "mse",
        "L1Loss": "l1", "BCELoss": "bce", "BCEWithLogitsLoss": "bce_logits", "NLLLoss": "nll",
    ]

    /// Tensor methods and the dlc function each is (the tensor becomes the first argument).
    static let methods: [String: String] = [
        "view": "reshape", "reshape": "reshape", "squeeze": "squeeze", "unsqueeze": "unsqueeze", "sum": "sum",
        "mean": "mean", "max": "max", "t": "transpose", "transpose": "transpose", "flatten": "flatten",
        "float": "float", "long": "int", "int": "int", "exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs",
        "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "log_softmax": "log_softmax",
        "argmax": "argmax", "matmul": "matmul", "mm": "matmul", "pow": "pow", "square": "square",
    ]

    /// `nn.ReLU()(h)`: the note for applying a module, or nil when `callee` is no module.
    public static func moduleApplication(_ callee: String, _ args: [Argument]) -> String? {
        for prefix in ["torch.nn.", "nn."] where callee.hasPrefix(prefix) {
            if let f = modules[String(callee.dropFirst(prefix.count))] {
                return "\(callee)() is a PyTorch module; dlc applies the function directly: write '\(f)(\(Argument.spelling(args)))'"
            }
        }
        return nil
    }

    /// A note for a call `callee(args)` that names no dlc function or layer; `isValue` tells
    /// whether a name is a tensor of the model (for `x.view(...)`), `isFunction` a dlc function.
    public static func call(_ callee: String, _ args: [Argument], isValue: (String) -> Bool,
                     isFunction: (String) -> Bool) -> String? {
        // nn.ReLU(), torch.nn.Linear(4, 3)
        for prefix in ["torch.nn.", "nn."] where callee.hasPrefix(prefix) {
            let name = String(callee.dropFirst(prefix.count))
            if name == "Linear" {
                return "a Linear is declared as a layer: 'layer fc = Linear(\(Argument.spelling(args)))', then applied as fc(x)"
            }
            if let f = modules[name] {
                return "\(callee) is a module; dlc applies the function directly: '\(f)(x)'"
            }
        }
        // torch.relu(x), F.relu(x), torch.nn.functional.softmax(z, dim=1)
        for prefix in modulePrefixes where callee.hasPrefix(prefix) {
            let name = String(callee.dropFirst(prefix.count))
            let f = functionNames[name] ?? name
            if isFunction(f) {
                return "dlc's functions have no module prefix: write '\(f)(\(Argument.spelling(renamedAxis(args))))'"
            }
        }
        // x.view(-1, 64), x.squeeze(1), h.sum(dim=1)
        if let dot = callee.lastIndex(of: ".") {
            let base = String(callee[..<dot]), method = String(callee[callee.index(after: dot)...])
            if isValue(base), let f = methods[method] {
                return "dlc has no tensor methods: write '\(methodSpelling(f, base, args))'"
            }
        }
        return nil
    }

    /// A note for a name that is not defined: `F.relu` or `torch.relu` without a call.
    public static func name(_ n: String, isFunction: (String) -> Bool) -> String? {
        for prefix in modulePrefixes where n.hasPrefix(prefix) {
            let f = functionNames[String(n.dropFirst(prefix.count))] ?? String(n.dropFirst(prefix.count))
            if isFunction(f) { return "dlc's functions have no module prefix: call it as '\(f)(...)'" }
        }
        return nil
    }

    /// A note for `layer fc = nn.Linear(4, 3)`.
    public static func layerKind(_ kind: String, _ args: [Argument]) -> String? {
        for prefix in ["torch.nn.", "nn."] where kind.hasPrefix(prefix) {
            let name = String(kind.dropFirst(prefix.count))
            if name == "Linear" { return "write 'Linear(\(Argument.spelling(args)))': dlc's layers have no module prefix" }
            if let f = modules[name] { return "dlc has no \(kind) layer: apply the function '\(f)(x)' in the forward block" }
        }
        return nil
    }

    /// `x.view(-1, 64)` -> `reshape(x, [-1, 64])`; `x.sum(dim=1)` -> `sum(x, axis: 1)`.
    static func methodSpelling(_ f: String, _ base: String, _ args: [Argument]) -> String {
        var rest = renamedAxis(args)
        if f == "reshape", !rest.isEmpty, rest.allSatisfy({ $0.label == nil }) {
            if rest.count > 1 || !isList(rest[0].value) {
                let items = rest.map(\.value)
                rest = [Argument(label: nil, value: Expr(.list(items), items[0].location))]
            }
        }
        let baseExpr = Argument(label: nil, value: Expr(.name(base), args.first?.value.location ?? SourceLocation(line: 1, column: 1)))
        return "\(f)(\(Argument.spelling([baseExpr] + rest)))"
    }

    private static func isList(_ e: Expr) -> Bool {
        if case .list = e.kind { return true }
        return false
    }

    /// PyTorch's `dim:` is dlc's `axis:`.
    static func renamedAxis(_ args: [Argument]) -> [Argument] {
        args.map { a in
            guard let label = a.label, label.value == "dim" else { return a }
            return Argument(label: Located("axis", label.location), value: a.value)
        }
    }
}
