import DLCIR

extension Analyzer {
    /// Spec section 3: an i32 value on a path from a param to the loss is an error, because no
    /// gradient can flow through it. Reported once, at the first such value.
    mutating func checkGradientPaths() {
        guard let loss = graph.loss else { return }
        var fromParam = [Bool](repeating: false, count: graph.nodes.count)
        for n in graph.nodes {
            if case .param = n.op { fromParam[n.id.index] = true }
            else if n.operands.contains(where: { fromParam[$0.index] }) { fromParam[n.id.index] = true }
        }
        var toLoss = [Bool](repeating: false, count: graph.nodes.count)
        toLoss[loss.index] = true
        for n in graph.nodes.reversed() where toLoss[n.id.index] {
            for o in n.operands { toLoss[o.index] = true }
        }
        for n in graph.nodes where fromParam[n.id.index] && toLoss[n.id.index] && n.type.dtype == .i32 {
            guard let loc = n.location else { continue }
            diagnostics.error(loc, "'\(n.op.mnemonic)' gives an i32 value on a path from a param to the loss; no gradient can flow through it",
                              hint: "keep values that depend on params in f32")
            return
        }
    }
}
