import DLCAutodiff
import DLCIR

/// The optimisation pipeline from the forward graph to the training graph the backends lower:
/// fuse the forward graph, differentiate it, then remove repeated and dead computation. Every
/// step's output is verified.
public enum Optimizer {
    /// A pass's name and its result, for `--emit opt --stop-after PASS`.
    public struct Stage: Sendable {
        public let name: String
        public let graph: Graph
    }

    public static let passNames = ["fuse", "autodiff", "cse", "dce"]

    /// Every stage in order; the last is the optimized training graph.
    public static func stages(_ forward: Graph) throws -> [Stage] {
        var stages: [Stage] = []
        func record(_ name: String, _ g: Graph) throws {
            try verifyOrThrow(g)
            stages.append(Stage(name: name, graph: g))
        }
        try record("fuse", FuseForward.run(forward))
        try record("autodiff", try differentiate(stages.last!.graph))
        try record("cse", EliminateCommonSubexpressions.run(stages.last!.graph))
        try record("dce", EliminateDeadCode.run(stages.last!.graph))
        return stages
    }

    public static func optimize(_ forward: Graph) throws -> Graph {
        try stages(forward).last!.graph
    }
}
