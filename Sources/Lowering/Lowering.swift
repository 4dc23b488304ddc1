import DLCIR

/// Lowers a training graph to a `KernelProgram`: one entry each for the train step,
/// evaluation and prediction, each with its own buffers, kernels and memory plan.
public enum Lowering {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func lower(_ graph: Graph) throws -> KernelProgram {
        guard let loss = graph.loss else { throw Failure(description: "the graph has no loss") }
        let outputs = graph.outputs.map(\.value)
        // A metric that follows a computed loss target reads it from evaluation, after the outputs.
        let updates = graph.stateUpdates.map(\.value)
        var metricTarget: [ValueID] = []
        if case .computed(let v) = graph.metricTarget().source { metricTarget = [v] }
        let plans: [(EntryKind, [ValueID])] = [
            (.train, [loss] + graph.gradients.map(\.value) + updates), (.sgd, [loss] + graph.gradients.map(\.value) + updates),
            (.eval, [loss] + outputs + metricTarget), (.predict, outputs),
        ]
        var entries: [Entry] = []
        for (kind, roots) in plans {
            var lowering = EntryLowering(graph: graph, kind: kind, roots: roots)
            if kind == .eval { lowering.extraOutputs = metricTarget }
            entries.append(try lowering.lower())
        }
        return KernelProgram(graph: graph, entries: entries)
    }
}

/// The logits and labels a softmax cross-entropy reads: its gradient reads the same ones.
struct SoftmaxKey: Hashable {
    var logits: ValueID
    var labels: ValueID
}

/// What an IR value became: memory, or a number the kernels use directly.
enum LoweredValue {
    case buffer(BufferID)
    case immediate(Double)
    case count(Affine)
    case globalCount(Affine)
}

/// Lowers the part of the graph one entry needs.
struct EntryLowering {
    let graph: Graph
    let kind: EntryKind
    let roots: [ValueID]
    /// Values written after the graph's outputs: evaluation's computed metric target.
    var extraOutputs: [ValueID] = []

    var buffers: [Buffer] = []
    var kernels: [Kernel] = []
    var values: [ValueID: LoweredValue] = [:]
    var usedNames: Set<String> = []
    /// Softmax probabilities a `softmax_cross_entropy` kernel keeps for its gradient kernel.
    var savedProbabilities: [SoftmaxKey: BufferID] = [:]
    /// The im2col a forward convolution keeps (training entries) for its weight gradient.
    var savedColumns: [ColumnsKey: BufferID] = [:]
    /// Convolution gradients in the GEMMs' channel-major layout, made once per value.
    var savedChannelMajor: [ValueID: BufferID] = [:]
    /// The winners a max pool keeps (training entries) for its gradient.
    var savedArgmax: [PoolKey: BufferID] = [:]
    /// The train entry of a model whose step sums batch statistics across processes: how its
    /// values are split (see `BatchPartition`); nil otherwise.
    var partition: BatchPartition?
    /// Partial values summed across processes (by the buffer holding them), and replicated ones scaled by this process's
    /// share of the rows, each made once.
    var totals: [BufferID: BufferID] = [:]
    var shares: [ValueID: BufferID] = [:]
    var mixesRows: ValueID?

    init(graph: Graph, kind: EntryKind, roots: [ValueID]) {
        self.graph = graph
        self.kind = kind
        self.roots = roots
    }

    /// The nodes the roots depend on, in graph order; an `if_training` depends on its first
    /// operand in a training entry and on its second otherwise.
    func neededNodes() -> [Node] {
        var needed = Set(roots.map(\.index))
        for n in graph.nodes.reversed() where needed.contains(n.id.index) {
            if n.op == .ifTraining {
                needed.insert(n.operands[kind.isTraining ? 0 : 1].index)
                continue
            }
            for o in n.operands { needed.insert(o.index) }
        }
        return graph.nodes.filter { needed.contains($0.id.index) }
    }

    mutating func lower() throws -> Entry {
        let nodes = neededNodes()
        if kind == .predict, let t = nodes.first(where: { isTarget($0) }) {
            return Entry(kind: kind, buffers: [], kernels: [],
                         unavailable: "predict cannot compute the outputs: they need the target '\(graph[t.id].name ?? "?")'",
                         arenaBytes: .zero, loss: nil, outputs: [])
        }
        if kind == .train {
            let split = BatchPartition(graph: graph, nodes: nodes, training: true, loss: graph.loss,
                                       gradients: graph.gradients.map(\.value), updates: graph.stateUpdates.map(\.value))
            if split.sums { partition = split }
            mixesRows = split.unsupported?.id
        }
        for n in nodes { try lowerSplit(n) }
        var gradientBuffers: [BufferID] = []
        if kind == .train {
            for (i, g) in graph.gradients.enumerated() {
                let param = graph.params.firstIndex { $0.name == g.name }!
                gradientBuffers.append(withShareOfRoot(g.value) { $0.placeGradient(g.value, param: param, order: i) })
            }
        }
        var updates: [SGDUpdates.Update] = []
        if kind == .sgd {
            updates = graph.gradients.map { g in
                let param = graph.params.firstIndex { $0.name == g.name }!
                let w = buffers.firstIndex { $0.storage == .param(param) }.map(BufferID.init)
                    ?? newBuffer(graph.paramValue(g.name) ?? g.value, .param(param), type: graph.params[param].type)
                return SGDUpdates.Update(param: w, gradient: sgdGradient(g.value))
            }
            gradientBuffers = updates.compactMap { if case .buffer(let b, _) = $0.gradient { return b }; return nil }
        }
        // A training step ends by storing the state's new values (after every read of the old).
        if kind.isTraining {
            for u in graph.stateUpdates {
                let i = graph.state.firstIndex { $0.name == u.name }!
                let target = newBuffer(graph.stateValue(u.name) ?? u.value, .state(i), type: graph.state[i].type,
                                       name: bufferName(for: graph.stateValue(u.name) ?? u.value, suffix: "_next"))
                let count = graph.state[i].type.shape.affineCount
                if partition?.rootNeedsTotal(u.value) == true { values[u.value] = .buffer(total(u.value)) }
                switch values[u.value]! {
                case .buffer(let b): emit(.copy(output: target, input: b, count: count), u.value)
                case .immediate, .count, .globalCount:
                    emit(.fill(output: target, value: operand(u.value, shape: []), count: count), u.value)
                }
            }
        }
        // The entry's kind decides whether it returns the loss, not whether the loss is among its
        // roots: predict computes an output that is also the loss but returns nothing.
        let lossBuffer = kind.returnsLoss ? graph.loss.map { l in withShareOfRoot(l) { $0.materialize(l) } } : nil
        let outputBuffers = kind.isTraining ? [] : (graph.outputs.map(\.value) + extraOutputs).map { materialize($0) }
        var entry = Entry(kind: kind, buffers: buffers, kernels: kernels, unavailable: nil, arenaBytes: .zero,
                          loss: lossBuffer, outputs: outputBuffers)
        entry.mixesRows = mixesRows
        KernelFusion.run(&entry, keep: Set([lossBuffer].compactMap { $0 } + outputBuffers + gradientBuffers))
        if kind == .sgd { SGDUpdates.fold(&entry, updates) }
        MemoryPlanner.plan(&entry, liveToEnd: [lossBuffer].compactMap { $0 } + outputBuffers + gradientBuffers)
        GemmEpilogues.fuse(&entry)
        return entry
    }

    func isTarget(_ n: Node) -> Bool {
        if case .input(let name) = n.op { return graph.dataDecl(named: name)?.role == .target }
        return false
    }

    // MARK: - Buffers

    /// A unique name for a value, spelled as an identifier of every language a backend prints
    /// (ASCII letters, digits and `_`, not first a digit): `fc1.weight` -> `fc1_weight`, `%12`
    /// -> `t12`, a second `h` -> `h_2`; with a suffix, the name of a helper buffer of the value
    /// (`t12_cols`). Words a language reserves are the printer's to avoid (see
    /// `Entry.renamed(avoiding:)`).
    mutating func bufferName(for v: ValueID, suffix: String = "") -> String {
        var base = (graph[v].name.map { name in
            String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        } ?? "t\(v.index)") + suffix
        if base.first?.isNumber != false { base = "v" + base }
        var name = base, k = 2
        while usedNames.contains(name) { name = "\(base)_\(k)"; k += 1 }
        usedNames.insert(name)
        return name
    }

    mutating func newBuffer(_ v: ValueID, _ storage: Storage, type: TensorType? = nil, name: String? = nil) -> BufferID {
        let id = BufferID(buffers.count)
        let chosen = name.map { n -> String in usedNames.insert(n); return n } ?? bufferName(for: v)
        buffers.append(Buffer(id: id, name: chosen, type: type ?? graph.type(of: v), storage: storage, value: v))
        return id
    }

    mutating func emit(_ body: KernelBody, _ node: ValueID?) {
        kernels.append(Kernel(body, node: node))
    }

    /// The buffer holding a value, writing immediates into memory when a kernel needs them there.
    mutating func materialize(_ v: ValueID) -> BufferID {
        switch values[v]! {
        case .buffer(let b): return b
        case .immediate, .count, .globalCount:
            let b = newBuffer(v, .arena(offset: .zero))
            emit(.fill(output: b, value: operand(v, shape: []), count: .one), v)
            values[v] = .buffer(b)
            return b
        }
    }

    /// A gradient is computed straight into its grad slot (`Storage.grad`) when its value is an arena buffer
    /// computed in this entry; otherwise (a param, an alias, a number, a value that is also
    /// another gradient) it is copied there.
    mutating func placeGradient(_ v: ValueID, param i: Int, order: Int) -> BufferID {
        if case .buffer(let b)? = values[v], case .arena = buffers[b.index].storage {
            buffers[b.index].storage = .grad(i)
            return b
        }
        let target = newBuffer(v, .grad(i), type: graph.params[i].type)
        let count = graph.params[i].type.shape.affineCount
        switch values[v]! {
        case .buffer(let b): emit(.copy(output: target, input: b, count: count), v)
        case .immediate, .count, .globalCount: emit(.fill(output: target, value: operand(v, shape: []), count: count), v)
        }
        return target
    }

    /// A gradient for the `sgd` entry, as an operand of the update: a buffer computed in this
    /// entry, or a copy (a gradient that is a param or data must be read before any update).
    mutating func sgdGradient(_ v: ValueID) -> Operand {
        switch values[v]! {
        case .immediate(let x): return .immediate(x)
        case .count(let c): return .count(c)
        case .globalCount(let c): return .globalCount(c)
        case .buffer(let b):
            if case .arena = buffers[b.index].storage { return .buffer(b, strides: []) }
            let copy = newBuffer(v, .arena(offset: .zero))
            emit(.copy(output: copy, input: b, count: graph.type(of: v).shape.affineCount), v)
            return .buffer(copy, strides: [])
        }
    }

    // MARK: - Operands

    /// How an elementwise kernel over `shape` reads `v`: broadcast strides (0 where `v` has
    /// size 1 or lacks the axis), or a number.
    mutating func operand(_ v: ValueID, shape: [Dim]) -> Operand {
        switch values[v]! {
        case .immediate(let x): return .immediate(x)
        case .count(let c): return .count(c)
        case .globalCount(let c): return .globalCount(c)
        case .buffer(let b):
            return .buffer(b, strides: broadcastStrides(of: graph.type(of: v).shape, to: shape))
        }
    }

    /// Strides to read a tensor of shape `s` at the indices of the (broadcast) shape `target`.
    func broadcastStrides(of s: Shape, to target: [Dim]) -> [Affine] {
        let own = s.affineStrides
        let offset = target.count - s.rank
        return target.indices.map { i in
            let j = i - offset
            guard j >= 0, s.dims[j] == target[i] else { return .zero }
            return own[j]
        }
    }
}
