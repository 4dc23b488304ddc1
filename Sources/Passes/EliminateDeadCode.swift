import DLCIR

/// Removes nodes whose values nothing needs: not the loss, an output, a gradient or a state's
/// new value, nor used by a node that is needed. Inputs, params and state stay: they are the
/// model's declarations.
public enum EliminateDeadCode {
    public static func run(_ g: Graph) -> Graph {
        var live = [Bool](repeating: false, count: g.nodes.count)
        for v in g.outputs.map(\.value) + g.gradients.map(\.value) + g.stateUpdates.map(\.value) + (g.loss.map { [$0] } ?? []) {
            live[v.index] = true
        }
        for n in g.nodes.reversed() {
            switch n.op {
            case .input, .param, .state: live[n.id.index] = true
            default: break
            }
            if live[n.id.index] { for o in n.operands { live[o.index] = true } }
        }
        var b = GraphRebuilder(g)
        for n in g.nodes where live[n.id.index] { b.copy(n) }
        return b.finish()
    }
}
