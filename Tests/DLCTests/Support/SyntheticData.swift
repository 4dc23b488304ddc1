import DLCIR
import DLCInterpreter
import Foundation

/// Seeded synthetic data for a graph's inputs and targets: normal f32 values, i32 indices
/// within the rows of the table they index, class labels within their classes.
enum SyntheticData {
    static func feeds(_ g: Graph, batch: Int, rng: inout SplitMix64) -> [String: Tensor] {
        var bound: [String: Int] = [:]
        for n in g.nodes {
            if case .gather = n.op, case .input(let name) = g[n.operands[1]].op,
               let first = g.type(of: n.operands[0]).shape.dims.first {
                let rows = first.fixedSize ?? batch  // a batch table has the batch's rows
                bound[name] = min(bound[name] ?? rows, rows)
            }
            if case .loss(.nll) = n.op, case .input(let name) = g[n.operands[1]].op,
               case .fixed(let c)? = g.type(of: n.operands[0]).shape.dims.last {
                bound[name] = c
            }
        }
        var feeds: [String: Tensor] = [:]
        for d in g.data {
            let shape = d.type.shape.sizes(batch: batch)
            let count = shape.reduce(1, *)
            let values: [Double] = (0..<count).map { _ in
                if d.type.dtype == .i32 { return Double(rng.below(bound[d.name] ?? 3)) }
                // Box–Muller, away from integers so floor() has no kink nearby.
                let u1 = rng.uniform01(), u2 = rng.uniform01()
                return (-2 * log(1 - u1)).squareRoot() * cos(2 * Double.pi * u2)
            }
            feeds[d.name] = Tensor(shape: shape, scalars: values)
        }
        return feeds
    }
}
