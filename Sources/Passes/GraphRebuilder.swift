import DLCIR

/// Builds a new graph from an old one node by node, remapping values, so that a pass can drop,
/// replace or add nodes and keep outputs, loss and gradients pointing at the right values.
struct GraphRebuilder {
    let old: Graph
    var new: Graph
    /// Old value -> new value.
    var map: [ValueID: ValueID] = [:]

    init(_ old: Graph) {
        self.old = old
        var g = old
        g.replaceNodes([])
        self.new = g
    }

    /// Copies an old node, operands remapped.
    @discardableResult
    mutating func copy(_ n: Node) -> ValueID {
        let v = new.add(n.op, n.operands.map { map[$0]! }, type: n.type, name: n.name, location: n.location)
        map[n.id] = v
        return v
    }

    /// Makes `oldValue` stand for an existing new value.
    mutating func alias(_ oldValue: ValueID, to newValue: ValueID) { map[oldValue] = newValue }

    /// The finished graph, results remapped.
    func finish() -> Graph {
        var g = new
        g.outputs = old.outputs.map { NamedValue($0.name, map[$0.value]!) }
        g.loss = old.loss.map { map[$0]! }
        g.gradients = old.gradients.map { NamedValue($0.name, map[$0.value]!) }
        g.stateUpdates = old.stateUpdates.map { NamedValue($0.name, map[$0.value]!) }
        return g
    }
}

extension Graph {
    /// How many times each value is used: by nodes, as an output, as the loss, as a gradient,
    /// as a state's new value.
    func useCounts() -> [Int] {
        var uses = [Int](repeating: 0, count: nodes.count)
        for n in nodes { for o in n.operands { uses[o.index] += 1 } }
        for o in outputs { uses[o.value.index] += 1 }
        if let l = loss { uses[l.index] += 1 }
        for g in gradients { uses[g.value.index] += 1 }
        for u in stateUpdates { uses[u.value.index] += 1 }
        return uses
    }
}
