import DLCIR

/// Fuses the forward graph's Linear layers and softmax + cross-entropy before differentiation:
///
///     relu(matmul(x, w, transpose_b) + b)   ->  linear(x, w, b) {relu: true}
///     matmul(x, w, transpose_b) + b         ->  linear(x, w, b)
///     nll(log_softmax(z), y), nll(log(softmax(z)), y)  ->  softmax_cross_entropy(z, y)
///     relu(conv2d(x, w, b))                 ->  conv2d(x, w, b) {relu: true}
///
/// Fusing before AD (rather than pattern-matching the backward graph AD made) means the fused
/// ops' gradient rules produce the fused backward directly: `relu_grad` (the mask from the
/// layer's output, whose bias gradient the lowering reduces in the same pass) and
/// `softmax_cross_entropy_grad` ((softmax(z) − onehot(y))·g/N). A value is absorbed into a
/// fused node only when nothing else uses it (an `output` counts as a use).
public enum FuseForward {
    public static func run(_ g: Graph) -> Graph {
        precondition(g.gradients.isEmpty, "FuseForward runs on the forward graph, before AD")
        let uses = g.useCounts()
        func single(_ v: ValueID) -> Bool { uses[v.index] == 1 }

        // Decide first: the root node of each fusion, its replacement, and the nodes it absorbs.
        var replacement: [ValueID: (Op, [ValueID])] = [:]
        var absorbed = Set<ValueID>()
        /// `matmul(x, w, transpose_b)` + b with b a bias vector, as (x, w, b, absorbed nodes).
        func linearParts(_ v: ValueID) -> (ValueID, ValueID, ValueID?, [ValueID])? {
            let n = g[v]
            if case .matmul(false, true) = n.op, g.type(of: n.operands[1]).rank == 2 {
                return (n.operands[0], n.operands[1], nil, [v])
            }
            guard case .binary(.add) = n.op else { return nil }
            for (m, b) in [(n.operands[0], n.operands[1]), (n.operands[1], n.operands[0])] {
                guard single(m), case .matmul(false, true) = g[m].op, g.type(of: g[m].operands[1]).rank == 2,
                      g.type(of: b).rank == 1, g.type(of: b).dtype == .f32,
                      g.type(of: b).shape.dims.last == g.type(of: m).shape.dims.last,
                      g.type(of: v) == g.type(of: m) else { continue }
                return (g[m].operands[0], g[m].operands[1], b, [m, v])
            }
            return nil
        }
        for n in g.nodes {
            switch n.op {
            case .unary(.relu):
                let z = n.operands[0]
                if single(z), case .conv2d(let stride, let padding, false) = g[z].op {
                    replacement[n.id] = (.conv2d(stride: stride, padding: padding, relu: true), g[z].operands)
                    absorbed.insert(z)
                    continue
                }
                guard single(z), !absorbed.contains(z), let (x, w, b, parts) = linearParts(z) else { continue }
                replacement[n.id] = (.linear(relu: true), [x, w] + (b.map { [$0] } ?? []))
                absorbed.formUnion(parts)
            case .binary(.add):
                guard replacement[n.id] == nil, let (x, w, bias, parts) = linearParts(n.id), let b = bias else { continue }
                // Left for a later relu to take whole, if it is the add's only user.
                if let user = g.nodes.first(where: { $0.operands.contains(n.id) }), case .unary(.relu) = user.op,
                   single(n.id) { continue }
                replacement[n.id] = (.linear(relu: false), [x, w, b])
                absorbed.formUnion(parts.filter { $0 != n.id })
            case .loss(.nll):
                let (lp, y) = (n.operands[0], n.operands[1])
                guard single(lp) else { continue }
                if case .logSoftmax(let axis) = g[lp].op, axis == 1 {
                    replacement[n.id] = (.softmaxCrossEntropy, [g[lp].operands[0], y])
                    absorbed.insert(lp)
                } else if case .unary(.log) = g[lp].op, case let s = g[lp].operands[0], single(s),
                          case .softmax(let axis) = g[s].op, axis == 1 {
                    replacement[n.id] = (.softmaxCrossEntropy, [g[s].operands[0], y])
                    absorbed.formUnion([lp, s])
                }
            default: break
            }
        }

        var b = GraphRebuilder(g)
        for n in g.nodes where !absorbed.contains(n.id) || replacement[n.id] != nil {
            if let (op, operands) = replacement[n.id] {
                let v = b.new.add(op, operands.map { b.map[$0]! }, type: n.type, name: n.name, location: n.location)
                b.alias(n.id, to: v)
            } else {
                b.copy(n)
            }
        }
        return b.finish()
    }
}
