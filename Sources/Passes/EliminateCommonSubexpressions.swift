import DLCIR

/// Computes each distinct (op, operands, type) once. Random masks are never merged (two
/// `dropout_mask` nodes are two draws), nor are leaves. A merged node keeps the first one's
/// name, or takes the other's when it had none.
public enum EliminateCommonSubexpressions {
    struct Key: Hashable {
        var op: Op
        var operands: [ValueID]
        var type: TensorType
    }

    public static func run(_ g: Graph) -> Graph {
        var b = GraphRebuilder(g)
        var seen: [Key: ValueID] = [:]
        for n in g.nodes {
            switch n.op {
            case .input, .param, .state, .dropoutMask:
                b.copy(n)
                continue
            default: break
            }
            let key = Key(op: n.op, operands: n.operands.map { b.map[$0]! }, type: n.type)
            if let existing = seen[key] {
                b.alias(n.id, to: existing)
                if b.new[existing].name == nil, let name = n.name { b.new[existing].name = name }
            } else {
                seen[key] = b.copy(n)
            }
        }
        return b.finish()
    }
}
