import DLCDiagnostics

/// The statements of the `graph` block: declarations, nodes, outputs, loss and gradients.
extension IRTextParser {
    mutating func graphStatement() throws {
        switch tok.kind {
        case .value: try node()
        case .atom("input"), .atom("target"): try dataDecl()
        case .atom("param"): try paramDecl()
        case .atom("state"): try stateDecl()
        case .atom("update"):
            positions.stateUpdates.append(tok.offset)
            advance()
            let name = try name("a state name")
            try punct("=")
            graph.stateUpdates.append(NamedValue(name, try valueUse()))
            try endOfStatement()
        case .atom("output"):
            positions.outputs.append(tok.offset)
            advance()
            let name = try name("an output name")
            try punct("=")
            graph.outputs.append(NamedValue(name, try valueUse()))
            try endOfStatement()
        case .atom("loss"):
            guard positions.loss == nil else {
                throw ParseFailure(offset: tok.offset, message: "the loss is given twice")
            }
            positions.loss = tok.offset
            advance()
            graph.loss = try valueUse()
            try endOfStatement()
        case .atom("grad"):
            positions.gradients.append(tok.offset)
            advance()
            let name = try name("a param name")
            try punct("=")
            graph.gradients.append(NamedValue(name, try valueUse()))
            try endOfStatement()
        default:
            throw unexpected(tok, "a declaration, a node, 'output', 'loss', 'grad' or 'update'")
        }
    }

    /// `input x: f32[N,784]` or `target y: i32[N]`.
    mutating func dataDecl() throws {
        let offset = tok.offset
        let role: DataRole = tok.kind == .atom("input") ? .input : .target
        advance()
        let name = try name("a data name")
        try punct(":")
        let type = try tensorType()
        try endOfStatement()
        graph.data.append(DataDecl(name: name, role: role, type: type))
        positions.data.append(offset)
    }

    /// `param fc1.weight: f32[512,784] = kaiming_uniform`.
    mutating func paramDecl() throws {
        let offset = tok.offset
        advance()
        let name = try name("a param name")
        try punct(":")
        let type = try tensorType()
        try punct("=")
        let initializer = try initializer()
        try endOfStatement()
        graph.params.append(ParamDecl(name: name, type: type, initializer: initializer))
        positions.params.append(offset)
    }

    /// `state bn.running_mean: f32[16] = zeros`.
    mutating func stateDecl() throws {
        let offset = tok.offset
        advance()
        let name = try name("a state name")
        try punct(":")
        let type = try tensorType()
        try punct("=")
        let initializer = try initializer()
        try endOfStatement()
        graph.state.append(StateDecl(name: name, type: type, initializer: initializer))
        positions.state.append(offset)
    }

    mutating func initializer() throws -> Initializer {
        if consume("[") {
            // `[1.0, 0.5]`: the elements, row-major.
            var values: [Double] = []
            if !isPunct("]") {
                repeat { values.append(try double()) } while consume(",")
            }
            try punct("]")
            return .values(values)
        }
        let (text, offset) = try atom("an initializer")
        switch text {
        case "zeros": return .zeros
        case "ones": return .ones
        case "kaiming_uniform": return .kaimingUniform
        case "xavier_uniform": return .xavierUniform
        case "normal", "uniform":
            try punct("(")
            let a = try double()
            try punct(",")
            let b = try double()
            try punct(")")
            return text == "normal" ? .normal(mean: a, std: b) : .uniform(low: a, high: b)
        default:
            if let v = Double(text) { return .constant(v) }
            let known = ["zeros", "ones", "normal", "uniform", "kaiming_uniform", "xavier_uniform"]
            throw ParseFailure(offset: offset, message: "unknown initializer '\(text)'",
                               hint: IRText.suggestion(for: text, among: known).map { "did you mean '\($0)'?" })
        }
    }

    /// `%NAME: TYPE = OP ...  # LINE:COL`. A node that fails to parse still takes its index
    /// (as a placeholder), so that later `%INDEX` uses and the position check stay in step and
    /// one bad line does not cause a cascade of errors.
    mutating func node() throws {
        guard case .value(let ref) = tok.kind else { throw unexpected(tok, "a value definition") }
        let defOffset = tok.offset
        advance()
        let index = graph.nodes.count
        positions.nodes.append(defOffset)
        var name: String? = nil
        var parsed: (op: Op, operands: [ValueID], type: TensorType, location: SourceLocation?)? = nil
        defer {
            if let p = parsed {
                graph.add(p.op, p.operands, type: p.type, name: name, location: p.location)
            } else {
                graph.add(.constant(0), type: .f32Scalar, name: name)
            }
            if let name { valueNames[name] = index }
        }
        switch ref {
        case .index(let i):
            guard i == index else {
                throw ParseFailure(offset: defOffset, message: "%\(i) is defined as node \(index)",
                                   hint: "an unnamed value is numbered by its position; write %\(index) or give it a name")
            }
        case .name(let n):
            guard valueNames[n] == nil else {
                throw ParseFailure(offset: defOffset, message: "value %\(IRText.name(n)) is defined twice")
            }
            name = n
        }
        try punct(":")
        let type = try tensorType()
        try punct("=")
        let (op, operands) = try operation()
        let comment = try endOfStatement()
        parsed = (op, operands, type, comment.flatMap(Self.location))
    }

    /// A trailing comment of the form `# LINE:COL` is the node's source location; any other
    /// comment is ignored.
    static func location(_ comment: String) -> SourceLocation? {
        func trimmed(_ s: Substring) -> Substring {
            var s = s
            while s.first == " " || s.first == "\t" { s.removeFirst() }
            while s.last == " " || s.last == "\t" { s.removeLast() }
            return s
        }
        let parts = comment.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let line = Int(trimmed(parts[0])), let column = Int(trimmed(parts[1])) else {
            return nil
        }
        return SourceLocation(line: line, column: column, offset: 0)
    }

    /// The right-hand side of a node: `input NAME`, `param NAME`, `constant NUMBER`, or a
    /// mnemonic with operands and attributes.
    mutating func operation() throws -> (Op, [ValueID]) {
        guard case .atom(let m) = tok.kind else { throw unexpected(tok, "an op") }
        let opOffset = tok.offset
        advance()
        switch m {
        case "input": return (.input(try name("an input name")), [])
        case "param": return (.param(try name("a param name")), [])
        case "state": return (.state(try name("a state name")), [])
        case "constant": return (.constant(try double()), [])
        default: break
        }
        var operands: [ValueID] = []
        if case .value = tok.kind {
            repeat { operands.append(try valueUse()) } while consume(",")
        }
        var attrs = isPunct("{") ? try keyValues(close: "}", owner: "'\(m)'", noun: "attribute")
                                 : IRArguments(owner: "'\(m)'", noun: "attribute", offset: opOffset)
        let op = try Self.op(m, at: opOffset, &attrs)
        try attrs.finish()
        return (op, operands)
    }

    static func op(_ m: String, at offset: Int, _ a: inout IRArguments) throws -> Op {
        guard let read = opReaders[m] else {
            throw ParseFailure(offset: offset, message: "unknown op '\(m)'",
                               hint: IRText.suggestion(for: m, among: IRText.mnemonics).map { "did you mean '\($0)'?" })
        }
        return try read(&a)
    }

    static func window(_ a: inout IRArguments) throws -> Window2d {
        Window2d(kernel: try a.int("kernel"), stride: try a.int("stride"), padding: try a.int("padding"))
    }

    /// How each op with operands is read, by mnemonic (the inverse of `Op.mnemonic`): the op
    /// families from their enums, the other ops by name. `input`, `param`, `state` and `constant` have
    /// a syntax of their own (`operation()`).
    static let opReaders: [String: @Sendable (inout IRArguments) throws -> Op] = {
        var t: [String: @Sendable (inout IRArguments) throws -> Op] = [
            "pow": { .pow(try $0.double("exponent")) },
            "where": { _ in .select },
            "count": { .count(axes: try $0.ints("axes")) },
            "reshape": { _ in .reshape },
            "transpose": { _ in .transpose },
            "broadcast": { _ in .broadcast },
            "sum_to": { _ in .sumTo },
            "concat": { .concat(axis: try $0.int("axis")) },
            "slice": { .slice(axis: try $0.int("axis"), start: try $0.int("start"), length: try $0.int("length")) },
            "matmul": { .matmul(transposeA: try $0.flag("transpose_a"), transposeB: try $0.flag("transpose_b")) },
            "gather": { _ in .gather },
            "scatter_add": { _ in .scatterAdd },
            "softmax": { .softmax(axis: try $0.int("axis")) },
            "log_softmax": { .logSoftmax(axis: try $0.int("axis")) },
            "dropout_mask": { .dropoutMask(p: try $0.double("p"), site: try $0.int("site")) },
            "argmax": { .argmax(axis: try $0.int("axis")) },
            "max_mask": { .maxMask(axis: try $0.int("axis")) },
            "one_hot": { .oneHot(classes: try $0.int("classes")) },
            "linear": { .linear(relu: try $0.flag("relu")) },
            "relu_grad": { _ in .reluGrad },
            "softmax_cross_entropy": { _ in .softmaxCrossEntropy },
            "softmax_cross_entropy_grad": { _ in .softmaxCrossEntropyGrad },
            "if_training": { _ in .ifTraining },
            "conv2d": { .conv2d(stride: try $0.int("stride"), padding: try $0.int("padding"), relu: try $0.flag("relu")) },
            "conv2d_input_grad": { .conv2dInputGrad(stride: try $0.int("stride"), padding: try $0.int("padding")) },
            "conv2d_weight_grad": { .conv2dWeightGrad(stride: try $0.int("stride"), padding: try $0.int("padding")) },
            "max_pool2d": { .maxPool2d(try window(&$0)) },
            "max_pool2d_grad": { .maxPool2dGrad(try window(&$0)) },
            "avg_pool2d": { .avgPool2d(try window(&$0)) },
            "avg_pool2d_grad": { .avgPool2dGrad(try window(&$0)) },
        ]
        for u in UnaryOp.allCases { t[u.rawValue] = { _ in .unary(u) } }
        for b in BinaryOp.allCases { t[b.rawValue] = { _ in .binary(b) } }
        for r in ReduceOp.allCases { t[r.rawValue] = { .reduce(r, axes: try $0.ints("axes"), keepdim: try $0.flag("keepdim")) } }
        for l in LossKind.allCases { t[l.rawValue] = { _ in .loss(l) } }
        return t
    }()

    /// `{key: value, ...}` (attributes) or `(key: value, ...)` (train settings): each value an
    /// atom, a string or a list of integers.
    mutating func keyValues(close: Character, owner: String, noun: String) throws -> IRArguments {
        var args = IRArguments(owner: owner, noun: noun, offset: tok.offset)
        advance()  // the opening bracket, checked by the caller
        if consume(close) { return args }
        repeat {
            let keyOffset = tok.offset
            guard case .atom(let key) = tok.kind, IRText.isBareName(key) else {
                throw unexpected(tok, "an argument name")
            }
            advance()
            guard args.entries[key] == nil else {
                throw ParseFailure(offset: keyOffset, message: "\(owner) has '\(key)' twice")
            }
            try punct(":")
            let valueOffset = tok.offset
            let value: IRArguments.Value
            switch tok.kind {
            case .atom(let a):
                advance()
                value = .atom(a)
            case .string(let s):
                advance()
                value = .string(s)
            case .punct(UInt8(ascii: "[")):
                advance()
                var xs: [Int] = []
                if !isPunct("]") {
                    repeat { xs.append(try int()) } while consume(",")
                }
                try punct("]")
                value = .list(xs)
            default:
                throw unexpected(tok, "a value")
            }
            args.entries[key] = (value, valueOffset, keyOffset)
        } while consume(",")
        try punct(close)
        return args
    }
}
