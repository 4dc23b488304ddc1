import DLCIR

/// How a training step's values are split when K processes each run it on their contiguous
/// part of the global batch (data parallelism, spec section 10), and where the step must sum
/// across processes for the K-process run to equal the one-process run.
///
/// Every value of the training graph is one of:
/// - **rows**: it has the batch axis; each process holds its own rows of it;
/// - **partial**: no batch axis, and each process holds its share: the sum over processes is
///   the one-process value (a sum over the batch axis of rows, a `mean` over it divided by the
///   global rows, and linear combinations of those);
/// - **replicated**: no batch axis, the same on every process (params, state, constants,
///   counts, and whatever is computed from them alone).
///
/// A partial value that meets rows (batch normalization's batch mean, centred against each
/// row; in the backward pass the sums of dy and dy·x̂ that feed each row's gradient), that
/// feeds a nonlinear op (the variance under `rsqrt`) or a state update (the running
/// statistics) is **totalled** first: an all-reduce of that small buffer. A partial value that
/// only reaches the loss or a param gradient stays partial: the runtime sums the loss and the
/// gradients at the end, in one all-reduce, so nothing is summed twice. A replicated value
/// added to a partial one (an L2 term beside the loss's mean) is scaled by this process's
/// share of the rows, n/N_global, so that the shares sum to it once.
///
/// A model whose step totals nothing runs as before: the runtime scales each process's
/// gradient and loss by its share of the rows. One that totals something computes its share
/// itself (`BatchPartition.sums` is set: the model's `sums_batch_statistics`), with every
/// count over the batch axis taken over the global batch.
struct BatchPartition {
    enum Kind { case rows, partial, replicated }

    /// An operand position: operand `index` of the node computing `node`.
    struct Use: Hashable {
        var node: ValueID
        var index: Int
    }

    private(set) var kind: [ValueID: Kind] = [:]
    /// Partial operands the node needs as totals.
    private(set) var totalled: Set<Use> = []
    /// Replicated operands the node needs as this process's share.
    private(set) var shared: Set<Use> = []
    /// Partial values that some use reads as they are (a linear op, the loss, a gradient).
    private(set) var readAsPartial: Set<ValueID> = []
    /// The first node that mixes the batch's rows in a way no all-reduce of sums can split
    /// (a max over the batch axis, a softmax along it): such a model cannot train in K processes.
    private(set) var unsupported: Node?

    /// Whether the step sums something across processes.
    var sums: Bool { !totalled.isEmpty || !totalledRoots.isEmpty }
    /// State updates that need the total of a partial value.
    private(set) var totalledRoots: Set<ValueID> = []

    /// Linear nodes that read the totals of their partial operands instead (see `init`).
    private var preferTotals: Set<ValueID> = []
    /// The partial operands each linear node reads as they are.
    private var partialReads: [ValueID: [ValueID]] = [:]

    init(graph: Graph, nodes: [Node], training: Bool, loss: ValueID?, gradients: [ValueID], updates: [ValueID]) {
        let roots = [loss].compactMap { $0 } + gradients
        let operandsOf = Dictionary(nodes.map { ($0.id, $0.operands) }, uniquingKeysWith: { a, _ in a })
        // Shares only where a partial result is needed. A linear node whose result no loss or
        // gradient reads as a share reads the totals of its operands instead when it would
        // scale a replicated operand (the variance plus eps), when its partial operands are
        // totalled anyway (the batch mean in the running mean's update), or when its own
        // result is (a reshape of the batch mean): fewer, earlier sums across processes. Each
        // round may total more values; the rounds end when nothing changes.
        var preferred: Set<ValueID> = []
        for _ in 0...nodes.count { // each round but the last prefers one node more
            var round = BatchPartition()
            round.preferTotals = preferred
            round.classify(nodes, graph: graph, training: training, roots: roots, updates: updates)
            var demanded = Set(roots.filter { round.kind[$0] == .partial })
            for n in nodes.reversed() where demanded.contains(n.id) {
                for o in round.partialReads[n.id] ?? [] { demanded.insert(o) }
            }
            let totalledValues = Set(round.totalled.map { use in operandsOf[use.node]![use.index] })
                .union(round.totalledRoots)
            var next = preferred
            for n in nodes where round.partialReads[n.id] != nil && !demanded.contains(n.id) {
                let sharing = round.shared.contains { $0.node == n.id }
                if sharing || totalledValues.contains(n.id) || round.partialReads[n.id]!.allSatisfy(totalledValues.contains) {
                    next.insert(n.id)
                }
            }
            if next == preferred {
                self = round
                return
            }
            preferred = next
        }
        preconditionFailure("the batch partition did not settle")
    }

    private init() {}

    private mutating func classify(_ nodes: [Node], graph: Graph, training: Bool, roots: [ValueID], updates: [ValueID]) {
        for n in nodes { classify(n, graph: graph, training: training) }
        for r in roots where kind[r] == .partial { readAsPartial.insert(r) }
        for u in updates where kind[u] == .partial { totalledRoots.insert(u) }
    }

    /// A root the runtime sums over processes (the loss, a gradient) that every process holds
    /// whole: it must be scaled by the process's share.
    func rootNeedsShare(_ v: ValueID) -> Bool { kind[v] == .replicated }

    /// A state update every process must hold whole.
    func rootNeedsTotal(_ v: ValueID) -> Bool { totalledRoots.contains(v) }

    private mutating func classify(_ n: Node, graph: Graph, training: Bool) {
        let operandKinds = n.operands.map { kind[$0] ?? .replicated }
        let resultHasRows = n.type.shape.hasBatch
        func totalPartials() {
            for (i, k) in operandKinds.enumerated() where k == .partial { totalled.insert(Use(node: n.id, index: i)) }
        }
        switch n.op {
        case .input, .dropoutMask:
            kind[n.id] = resultHasRows ? .rows : .replicated
            return
        case .param, .state, .constant, .count:
            kind[n.id] = .replicated
            return
        case .ifTraining:
            kind[n.id] = operandKinds[training ? 0 : 1]
            return
        default: break
        }
        let anyRows = operandKinds.contains(.rows), anyPartial = operandKinds.contains(.partial)
        if anyRows {
            if couplesRows(n, graph: graph) && unsupported == nil { unsupported = n }
            totalPartials()
            if resultHasRows {
                kind[n.id] = .rows
            } else if reducesRows(n) {
                kind[n.id] = .partial
            } else {
                if unsupported == nil { unsupported = n }
                kind[n.id] = .replicated
            }
            return
        }
        guard anyPartial else {
            kind[n.id] = .replicated
            return
        }
        // Partial operands, no rows: linear ops keep the shares; anything else needs totals,
        // and so does a result with rows (a broadcast of a batch statistic over the batch).
        if !resultHasRows, !preferTotals.contains(n.id), let sharedOperands = linearInShares(n, operandKinds) {
            let reads = operandKinds.indices.filter { operandKinds[$0] == .partial }.map { n.operands[$0] }
            readAsPartial.formUnion(reads)
            partialReads[n.id] = reads
            for i in sharedOperands { shared.insert(Use(node: n.id, index: i)) }
            kind[n.id] = .partial
        } else {
            totalPartials()
            kind[n.id] = resultHasRows ? .rows : .replicated
        }
    }

    /// Ops that sum over the batch axis of rows into a value without it.
    private func reducesRows(_ n: Node) -> Bool {
        switch n.op {
        case .reduce(.sum, _, _), .reduce(.mean, _, _), .sumTo, .matmul, .scatterAdd, .conv2dWeightGrad, .loss,
             .softmaxCrossEntropy:
            return true
        default:
            return false
        }
    }

    /// Ops on rows whose result keeps the batch axis but mixes rows along it.
    private func couplesRows(_ n: Node, graph: Graph) -> Bool {
        let x = n.operands.first.map { graph.type(of: $0).shape }
        func alongBatch(_ axis: Int) -> Bool { x.map { $0.dims.indices.contains(axis) && $0.dims[axis] == .batch } ?? false }
        switch n.op {
        case .softmax(let axis), .logSoftmax(let axis), .argmax(let axis), .maxMask(let axis): return alongBatch(axis)
        case .reduce(.max, let axes, _): return axes.contains(where: alongBatch)
        case .concat(let axis): return n.type.shape.dims[axis] == .batch
        case .gather: return graph.type(of: n.operands[0]).shape.hasBatch
        default: return false
        }
    }

    /// When `n` is linear in its partial operands (so each process may apply it to its share):
    /// the replicated operands that must then be scaled by the share (added to a partial one);
    /// nil when it is not.
    private func linearInShares(_ n: Node, _ kinds: [Kind]) -> [Int]? {
        let partial = kinds.indices.filter { kinds[$0] == .partial }
        let replicated = kinds.indices.filter { kinds[$0] == .replicated }
        switch n.op {
        case .unary(.neg), .reshape, .broadcast, .transpose, .slice, .sumTo, .reduce(.sum, _, _), .reduce(.mean, _, _):
            return []
        case .binary(.add), .binary(.sub), .concat:
            return replicated
        case .binary(.mul):
            return partial.count == 1 ? [] : nil
        case .binary(.div):
            return partial == [0] ? [] : nil
        case .select:
            return kinds[0] == .replicated ? replicated.filter { $0 != 0 } : nil
        default:
            return nil
        }
    }
}

/// The lowering side of `BatchPartition`: totals, shares, and counts over the global batch.
extension EntryLowering {
    /// Lowers `n`, reading the totals or shares of the operands the partition asks for.
    mutating func lowerSplit(_ n: Node) throws {
        guard let p = partition else { return try lowerNode(n) }
        var substitutes: [ValueID: LoweredValue] = [:]
        for (i, o) in n.operands.enumerated() {
            let use = BatchPartition.Use(node: n.id, index: i)
            if p.totalled.contains(use) { substitutes[o] = .buffer(total(o)) }
            else if p.shared.contains(use) { substitutes[o] = .buffer(share(o)) }
        }
        let kept = substitutes.keys.map { ($0, values[$0]) }
        for (o, v) in substitutes { values[o] = v }
        defer { for (o, v) in kept { values[o] = v } }
        try lowerNode(n)
    }

    /// `body` reading the share of root `v` (the loss, a gradient) when every process holds it
    /// whole: the runtime sums the roots over processes.
    mutating func withShareOfRoot<T>(_ v: ValueID, _ body: (inout EntryLowering) -> T) -> T {
        guard partition?.rootNeedsShare(v) == true else { return body(&self) }
        let kept = values[v]
        values[v] = .buffer(share(v))
        defer { values[v] = kept }
        return body(&self)
    }

    /// The sum over processes of partial value `v`: in place when nothing reads `v` as it is,
    /// else in a copy.
    mutating func total(_ v: ValueID) -> BufferID {
        let b = materialize(v)
        if let t = totals[b] { return t }
        // Values can share a buffer (an `if_training` is its branch's): none may read it as is.
        let readers = partition?.readAsPartial ?? []
        let sharing = values.filter { if case .buffer(b) = $0.value { return true }; return false }.keys
        var target = b
        if case .arena = buffers[b.index].storage, !sharing.contains(where: readers.contains) {
        } else {
            target = newBuffer(v, .arena(offset: .zero), name: bufferName(for: v, suffix: "_total"))
            emit(.copy(output: target, input: b, count: buffers[b.index].elementCount), v)
        }
        emit(.sumAcrossProcesses(buffer: target, count: buffers[target.index].elementCount), v)
        totals[b] = target
        return target
    }

    /// Replicated value `v` times this process's share of the batch's rows, n / N_global (1 in
    /// one process, where the product is exact).
    mutating func share(_ v: ValueID) -> BufferID {
        if let s = shares[v] { return s }
        let dims = graph.type(of: v).shape.dims
        let source = operand(v, shape: dims)
        let out = newBuffer(v, .arena(offset: .zero), type: TensorType(.f32, graph.type(of: v).shape),
                            name: bufferName(for: v, suffix: "_share"))
        emit(.elementwise(ElementwiseKernel(output: out, shape: dims.map(Affine.init),
                                            operands: [source, .count(.batch), .globalCount(.batch)],
                                            expr: .binary(.mul, .operand(0), .binary(.div, .operand(1), .operand(2))),
                                            computeType: .f32)), v)
        shares[v] = out
        return out
    }

    /// A count over the batch axis: over the global batch when the step sums across processes.
    func batchCount(_ c: Affine) -> LoweredValue {
        partition != nil && !c.isConstant ? .globalCount(c) : .count(c)
    }

    /// After a loss kernel wrote the mean over this process's rows into `b`: the value it
    /// stands for, this process's share of the global batch's loss when the step sums across
    /// processes (the backward pass then divides by the global rows: `count` nodes).
    mutating func lossShare(_ v: ValueID, _ b: BufferID) {
        guard partition != nil else { return }
        values[v] = .buffer(share(v))
    }
}
