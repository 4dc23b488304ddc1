import DLCIR

// Reverse-mode AD as an IR-to-IR transform, in the spirit of micrograd.
//
// The training graph is the forward graph, unchanged, followed by the backward nodes. The
// walk seeds d(loss) = 1 and visits the nodes in reverse order (the nodes are topologically
// ordered, so every use of a value is visited before the value): a node's gradient is the sum
// of the contributions of its uses, and its rule (GradientRules.swift) turns it into
// contributions to its operands. Only values on a path from a param to the loss get a
// gradient (GradientFlow below), so nothing is emitted for inputs, targets, constants or dead
// branches.

/// Why a graph cannot be differentiated.
public struct AutodiffError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// The offending value, whose node's `location` points into the model; nil if none.
    public let value: ValueID?

    public init(_ message: String, value: ValueID? = nil) {
        self.message = message
        self.value = value
    }

    public var description: String { message }
}

/// The training graph of `forward`: its nodes unchanged (same indices), then the backward
/// nodes, with `gradients` holding d(loss)/d(param) for every param in declaration order.
///
/// The final gradient of a value named `h` is named `d.h` (`d.fc1.weight` for a param). A param
/// that does not affect the loss gets zeros. Throws if there is no scalar f32 loss, or if an
/// i32 value lies on a path from a param to the loss (no gradient can flow through it).
public func differentiate(_ forward: Graph) throws -> Graph {
    guard forward.gradients.isEmpty else { throw AutodiffError("the graph is already differentiated") }
    guard let loss = forward.loss else { throw AutodiffError("the graph has no loss") }
    guard forward.type(of: loss) == .f32Scalar else {
        throw AutodiffError("the loss must be an f32 scalar, got \(forward.type(of: loss))", value: loss)
    }
    let flow = try GradientFlow(forward, loss: loss)
    var builder = GradientBuilder(forward)

    // The walk: contributions[v] collects d(loss)/d(v) from each use of v.
    var contributions = [[ValueID]](repeating: [], count: forward.nodes.count)
    var gradient = [ValueID: ValueID]()
    if flow.needsGradient(loss) { contributions[loss.index] = [builder.constant(1)] }
    for node in forward.nodes[...loss.index].reversed() where flow.needsGradient(node.id) {
        guard let g = builder.sum(contributions[node.id.index]) else { continue }
        gradient[node.id] = g
        let operandGradients = builder.pullback(node, g) { flow.passesGradient(node, toOperand: $0) }
        for (x, gx) in zip(node.operands, operandGradients) {
            guard let gx else { continue }
            precondition(builder.type(gx) == forward.type(of: x),
                         "internal error: the gradient of \(node.op.mnemonic)'s operand has the wrong type")
            contributions[x.index].append(gx)
        }
    }

    // One gradient per param; zeros for a param that does not affect the loss. Folding may
    // have left nodes that nothing uses: they go.
    let paramGradients = forward.params.map { p in
        forward.paramValue(p.name).flatMap { gradient[$0] } ?? builder.zeros(p.type.shape)
    }
    let newID = builder.removeUnusedBackwardNodes(keeping: paramGradients, forwardCount: forward.nodes.count)
    var train = builder.graph
    train.gradients = zip(forward.params, paramGradients).map { NamedValue($0.name, newID[$1.index]!) }

    // Names: d.PARAM first, then d.NAME for the other named values, nearest the loss first.
    var namer = GradientNamer(train, forwardCount: forward.nodes.count)
    for g in train.gradients { namer.name(g.value, "d." + g.name, in: &train) }
    for (v, g) in gradient.sorted(by: { $0.key > $1.key }) {
        if let name = forward[v].name, let g = newID[g.index] { namer.name(g, "d." + name, in: &train) }
    }
    return train
}

/// Which values need a gradient: those on a path from some param to the loss along edges that
/// carry one (f32 operand, f32 result, an op that passes gradient to that operand).
struct GradientFlow {
    private let graph: Graph
    private var needed: [Bool]

    init(_ graph: Graph, loss: ValueID) throws {
        self.graph = graph
        let n = graph.nodes.count
        func carries(_ node: Node, _ i: Int) -> Bool {
            node.type.dtype == .f32 && graph.type(of: node.operands[i]).dtype == .f32
                && GradientRules.passesGradient(node.op, toOperand: i)
        }
        // Forward from the params, backward from the loss: once along gradient-carrying edges
        // (`needed`), once along every edge (to find i32 values between a param and the loss).
        var fromParam = [Bool](repeating: false, count: n), toLoss = fromParam
        var anyFromParam = fromParam, anyToLoss = fromParam
        for node in graph.nodes {
            let i = node.id.index
            if case .param = node.op { fromParam[i] = true; anyFromParam[i] = true }
            for (k, x) in node.operands.enumerated() {
                if fromParam[x.index] && carries(node, k) { fromParam[i] = true }
                if anyFromParam[x.index] { anyFromParam[i] = true }
            }
        }
        toLoss[loss.index] = true
        anyToLoss[loss.index] = true
        for node in graph.nodes[...loss.index].reversed() {
            for (k, x) in node.operands.enumerated() {
                if toLoss[node.id.index] && carries(node, k) { toLoss[x.index] = true }
                if anyToLoss[node.id.index] { anyToLoss[x.index] = true }
            }
        }
        if let bad = graph.nodes.first(where: {
            $0.type.dtype == .i32 && anyFromParam[$0.id.index] && anyToLoss[$0.id.index]
        }) {
            throw AutodiffError(
                "the i32 value of '\(bad.op.mnemonic)'\(bad.name.map { " '\($0)'" } ?? "") lies on a path "
                    + "from a param to the loss: no gradient can flow through it", value: bad.id)
        }
        needed = zip(fromParam, toLoss).map { $0 && $1 }
    }

    func needsGradient(_ v: ValueID) -> Bool { needed[v.index] }

    /// Whether the rule of `node` must compute a gradient for operand `i`.
    func passesGradient(_ node: Node, toOperand i: Int) -> Bool {
        let x = node.operands[i]
        return needed[x.index] && node.type.dtype == .f32 && graph.type(of: x).dtype == .f32
            && GradientRules.passesGradient(node.op, toOperand: i)
    }
}

/// Names final gradients `d.NAME`, first come first served, never renaming a forward node or a
/// node already named, and keeping every name in the graph unique.
struct GradientNamer {
    private var used: Set<String>
    private let forwardCount: Int

    init(_ graph: Graph, forwardCount: Int) {
        used = Set(graph.nodes.compactMap(\.name))
        self.forwardCount = forwardCount
    }

    mutating func name(_ v: ValueID, _ base: String, in graph: inout Graph) {
        guard v.index >= forwardCount, graph[v].name == nil else { return }
        var name = base, k = 1
        while used.contains(name) {
            k += 1
            name = "\(base).\(k)"
        }
        used.insert(name)
        graph[v].name = name
    }
}
