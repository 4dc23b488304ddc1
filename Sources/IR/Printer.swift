/// Prints a graph in the IR text form of docs/ir.md, which `parseIR` reads back into an equal
/// graph. The output is deterministic: it depends only on the graph, so dumps can be diffed and
/// kept as golden files.
///
/// The printer never fails, even on a graph that does not verify (an operand out of range
/// prints as its number), so that a broken graph can be dumped while debugging a pass.
public struct IRPrinter: Sendable {
    /// Whether nodes carry their `# LINE:COL` source location comment.
    public var showLocations: Bool
    /// The column (1-based) at which location comments start, unless the node text is longer.
    public var commentColumn: Int

    public init(showLocations: Bool = true, commentColumn: Int = 63) {
        self.showLocations = showLocations
        self.commentColumn = commentColumn
    }

    /// The whole text: the `graph` block, then the `train` block.
    public func print(_ g: Graph) -> String {
        var lines = ["graph \(IRText.name(g.name)) {"]
        for d in g.data {
            lines.append("  \(d.role.rawValue) \(IRText.name(d.name)): \(IRText.type(d.type))")
        }
        for p in g.params {
            lines.append("  param \(IRText.name(p.name)): \(IRText.type(p.type)) = \(Self.initializer(p.initializer))")
        }
        for st in g.state {
            lines.append("  state \(IRText.name(st.name)): \(IRText.type(st.type)) = \(Self.initializer(st.initializer))")
        }
        // A blank line between the declarations and the computation, as in a source file.
        if !(g.data.isEmpty && g.params.isEmpty && g.state.isEmpty) && !g.nodes.isEmpty { lines.append("") }
        for n in g.nodes {
            var line = "  " + nodeText(n, in: g)
            if showLocations, let loc = n.location {
                let pad = max(commentColumn - 1 - line.count, 2)
                line += String(repeating: " ", count: pad) + "# \(loc.line):\(loc.column)"
            }
            lines.append(line)
        }
        for o in g.outputs {
            lines.append("  output \(IRText.name(o.name)) = \(IRText.value(o.value, in: g))")
        }
        if let l = g.loss { lines.append("  loss \(IRText.value(l, in: g))") }
        for gr in g.gradients {
            lines.append("  grad \(IRText.name(gr.name)) = \(IRText.value(gr.value, in: g))")
        }
        for u in g.stateUpdates {
            lines.append("  update \(IRText.name(u.name)) = \(IRText.value(u.value, in: g))")
        }
        lines.append("}")
        lines += TrainConfigPrinter.lines(g.train)
        return lines.joined(separator: "\n") + "\n"
    }

    /// One node without indentation or location: `%3: f32[N,512] = matmul %x, %w {transpose_b: true}`.
    public func nodeText(_ n: Node, in g: Graph) -> String {
        "\(IRText.value(n.id, in: g)): \(IRText.type(n.type)) = \(opText(n, in: g))"
    }

    /// The right-hand side of a node: mnemonic, payload or operands, attributes.
    public func opText(_ n: Node, in g: Graph) -> String {
        var text = n.op.mnemonic
        switch n.op {
        case .input(let name), .param(let name), .state(let name): return text + " " + IRText.name(name)
        case .constant(let v): return text + " " + Self.constant(v, n.type.dtype)
        default: break
        }
        if !n.operands.isEmpty {
            text += " " + n.operands.map { IRText.value($0, in: g) }.joined(separator: ", ")
        }
        let attrs = Self.attributes(n.op)
        if !attrs.isEmpty {
            text += " {" + attrs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
        return text
    }

    /// The attributes of an op in their printed order. Boolean flags of `matmul` appear only
    /// when true; `keepdim` always appears, so that a reduction reads unambiguously.
    static func attributes(_ op: Op) -> [(key: String, value: String)] {
        func ints(_ xs: [Int]) -> String { "[" + xs.map(String.init).joined(separator: ", ") + "]" }
        switch op {
        case .reduce(_, let axes, let keepdim): return [("axes", ints(axes)), ("keepdim", "\(keepdim)")]
        case .count(let axes): return [("axes", ints(axes))]
        case .concat(let axis), .softmax(let axis), .logSoftmax(let axis), .argmax(let axis),
             .maxMask(let axis):
            return [("axis", "\(axis)")]
        case .slice(let axis, let start, let length):
            return [("axis", "\(axis)"), ("start", "\(start)"), ("length", "\(length)")]
        case .matmul(let ta, let tb):
            return (ta ? [("transpose_a", "true")] : []) + (tb ? [("transpose_b", "true")] : [])
        case .dropoutMask(let p, let site): return [("p", IRText.number(p)), ("site", "\(site)")]
        case .oneHot(let classes): return [("classes", "\(classes)")]
        case .pow(let e): return [("exponent", IRText.number(e))]
        case .linear(let relu): return relu ? [("relu", "true")] : []
        case .conv2d(let stride, let padding, let relu):
            return [("stride", "\(stride)"), ("padding", "\(padding)")] + (relu ? [("relu", "true")] : [])
        case .conv2dInputGrad(let stride, let padding), .conv2dWeightGrad(let stride, let padding):
            return [("stride", "\(stride)"), ("padding", "\(padding)")]
        case .maxPool2d(let w), .maxPool2dGrad(let w), .avgPool2d(let w), .avgPool2dGrad(let w):
            return [("kernel", "\(w.kernel)"), ("stride", "\(w.stride)"), ("padding", "\(w.padding)")]
        case .input, .param, .state, .constant, .ifTraining, .unary, .binary, .select, .reshape, .transpose, .broadcast,
             .sumTo, .gather, .scatterAdd, .loss, .reluGrad, .softmaxCrossEntropy, .softmaxCrossEntropyGrad:
            return []
        }
    }

    /// An integral i32 constant reads as an integer (`constant 3`); every other value uses
    /// the shortest round-trip spelling (`constant 2.0`), so the bits survive either way.
    static func constant(_ v: Double, _ dtype: DType) -> String {
        if dtype == .i32, v.rounded() == v, abs(v) < 0x1p53, !(v == 0 && v.sign == .minus) {
            return String(Int(v))
        }
        return IRText.number(v)
    }

    static func initializer(_ i: Initializer) -> String {
        switch i {
        case .zeros: return "zeros"
        case .ones: return "ones"
        case .constant(let v): return IRText.number(v)
        case .normal(let mean, let std): return "normal(\(IRText.number(mean)), \(IRText.number(std)))"
        case .uniform(let low, let high): return "uniform(\(IRText.number(low)), \(IRText.number(high)))"
        case .kaimingUniform: return "kaiming_uniform"
        case .xavierUniform: return "xavier_uniform"
        case .values(let v): return "[" + v.map(IRText.number).joined(separator: ", ") + "]"
        }
    }
}

/// The `train { ... }` block: every setting on its own line in a fixed order; `normalize`,
/// `data`, `columns` and `early_stop` only when set.
enum TrainConfigPrinter {
    static func lines(_ t: TrainConfig) -> [String] {
        var out = ["train {"]
        out.append("  optimizer " + optimizer(t.optimizer))
        out.append("  batch " + (t.batch.map(String.init) ?? "full"))
        out.append("  drop_last \(t.dropLast)")
        out.append("  epochs \(t.epochs)")
        out.append("  steps \(t.steps)")
        out.append("  shuffle \(t.shuffle)")
        out.append("  schedule " + schedule(t.schedule))
        out.append("  accumulate \(t.accumulate)")
        out.append("  metric " + (t.metric?.rawValue ?? "none"))
        out.append("  seed \(t.seed)")
        if !t.normalize.isEmpty {
            out.append("  normalize " + t.normalize.map(IRText.name).joined(separator: ", "))
        }
        if let data = t.data { out.append("  data " + IRText.quoted(data)) }
        if !t.columns.isEmpty {
            out.append("  columns " + t.columns.map { "\(IRText.name($0.name)): \(IRText.quoted($0.columns))" }
                .joined(separator: ", "))
        }
        out.append("  validation " + IRText.number(t.validation))
        if let e = t.earlyStop {
            out.append("  early_stop patience: \(e.patience), min_delta: \(IRText.number(e.minDelta))")
        }
        out.append("}")
        return out
    }

    /// All of the kind's arguments, in `Optimizer.argumentNames` order.
    static func optimizer(_ o: Optimizer) -> String {
        let args = Optimizer.argumentNames(o.kind).map { "\($0): \(optimizerArgument(o, $0))" }
        return o.kind.rawValue + "(" + args.joined(separator: ", ") + ")"
    }

    static func optimizerArgument(_ o: Optimizer, _ name: String) -> String {
        switch name {
        case "lr": return IRText.number(o.lr)
        case "momentum": return IRText.number(o.momentum)
        case "weight_decay": return IRText.number(o.weightDecay)
        case "nesterov": return "\(o.nesterov)"
        case "beta1": return IRText.number(o.beta1)
        case "beta2": return IRText.number(o.beta2)
        case "eps": return IRText.number(o.eps)
        default: return "?"  // unreachable: argumentNames lists only the names above
        }
    }

    static func schedule(_ s: Schedule) -> String {
        switch s {
        case .none: return "none"
        case .stepLR(let every, let gamma): return "step_lr(every: \(every), gamma: \(IRText.number(gamma)))"
        case .cosine(let epochs): return "cosine(epochs: \(epochs))"
        case .reduceOnPlateau(let factor, let patience, let threshold):
            return "reduce_on_plateau(factor: \(IRText.number(factor)), patience: \(patience), "
                + "threshold: \(IRText.number(threshold)))"
        }
    }
}

/// The IR text form of `g` (see docs/ir.md); `parseIR` reads it back into an equal graph.
public func printIR(_ g: Graph, showLocations: Bool = true) -> String {
    IRPrinter(showLocations: showLocations).print(g)
}
