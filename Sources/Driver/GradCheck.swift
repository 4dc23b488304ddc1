import DLCAutodiff
import DLCIR
import DLCInterpreter
import DLCPasses
import Foundation

/// `dlc gradcheck`: the AD gradients of a model, evaluated by the reference interpreter in
/// double precision, against central finite differences of its loss.
public struct GradCheckRun {
    public var dataPath: String?
    /// At most this many data rows form the batch that is checked.
    public var rows = 16
    /// At most this many elements of each param are checked (evenly spaced).
    public var elementsPerParam = 64
    public var tolerance = 1e-4

    public init(dataPath: String? = nil) { self.dataPath = dataPath }

    public struct Report: Sendable {
        public var results: [GradientCheck.ParamResult]
        public var shapes: [String: TensorType]
        public var tolerance: Double
        public var batch: Int
        public var passed: Bool { results.allSatisfy { $0.passed(tolerance: tolerance) } }

        /// One line per param, then the verdict.
        public var text: String {
            let width = max(5, results.map(\.name.count).max() ?? 0)
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
            var out = pad("param", width) + "  " + pad("type", 16) + "  checked  skipped  max rel error\n"
            for r in results {
                out += pad(r.name, width) + "  " + pad(shapes[r.name]?.description ?? "", 16) + "  "
                    + pad(String(r.checked), 7) + "  " + pad(String(r.skipped), 7) + "  " + String(format: "%.3e", r.maxRelativeError)
                    + (r.maxRelativeError > tolerance ? "  FAILED (analytic \(r.analytic), numeric \(r.numeric) at element \(r.worstIndex))" : "")
                    + (r.checked == 0 && r.skipped > 0 ? "  FAILED (every element is at a kink: nothing could be checked)" : "")
                    + "\n"
            }
            if results.contains(where: { $0.skipped > 0 }) {
                out += "skipped: elements with a non-differentiable point (relu at 0, a max tie) within the step\n"
            }
            out += passed ? "gradcheck passed: every error is within \(tolerance) (batch of \(batch))\n"
                          : "gradcheck FAILED: errors above \(tolerance)\n"
            return out
        }
    }

    /// Checks a training graph (from `Pipeline.trainingGraph`); `modelDirectory` is where the
    /// model's own `data` setting is relative to.
    public func run(_ graph: Graph, modelDirectory: String) throws -> Report {
        try run(graph, feeds: try batchFeeds(graph, modelDirectory: modelDirectory))
    }

    /// Checks a training graph on the given batch.
    public func run(_ graph: Graph, feeds: [String: Tensor]) throws -> Report {
        let params = ParamInitializer.initialValues(graph.params, seed: graph.train.seed)
        let interpreter = Interpreter(graph: graph)
        // One fixed draw: the masks of the first batch of the first epoch.
        let dropout = DropoutDraw(seed: graph.train.seed, epoch: 0, firstRow: 0)

        func evaluate(_ theta: [[Double]]) throws -> Interpreter.Values {
            var p: [String: Tensor] = [:]
            for (decl, values) in zip(graph.params, theta) {
                p[decl.name] = Tensor(shape: params[decl.name]!.shape, scalars: values)
            }
            return try interpreter.run(feeds: feeds, params: p, mode: .training, dropout: dropout)
        }
        let theta = graph.params.map { params[$0.name]!.scalars }
        let values = try evaluate(theta)
        let gradients = graph.gradients.map { values[$0.value].scalars }
        // The differences need the loss only: the backward nodes are left out of those runs.
        var forward = graph
        (forward.gradients, forward.stateUpdates, forward.outputs) = ([], [], [])
        forward = EliminateDeadCode.run(forward)
        let lossInterpreter = Interpreter(graph: forward)
        let check = GradientCheck(tolerance: tolerance, maxElementsPerParam: elementsPerParam)
        let results = try check.run(graph, params: theta, gradients: gradients) { theta in
            var p: [String: Tensor] = [:]
            for (decl, values) in zip(graph.params, theta) {
                p[decl.name] = Tensor(shape: params[decl.name]!.shape, scalars: values)
            }
            return try lossInterpreter.run(feeds: feeds, params: p, mode: .training, dropout: dropout)[forward.loss!].scalars[0]
        }
        return Report(results: results, shapes: Dictionary(uniqueKeysWithValues: graph.params.map { ($0.name, $0.type) }),
                      tolerance: tolerance, batch: values.batch)
    }

    /// The first rows of the data, normalized as training would normalize them.
    public func batchFeeds(_ graph: Graph, modelDirectory: String) throws -> [String: Tensor] {
        guard !graph.data.isEmpty else { return [:] }
        let path: String
        if let dataPath {
            path = dataPath
        } else if let own = graph.train.data {
            path = DataPath.resolve(own, modelFolder: modelDirectory)
        } else {
            throw DataFailure(message: "error: '\(graph.name)' reads data: give --data FILE (or a `data` setting in its train block)")
        }
        let csv = try CSVData(path: path)
        var feeds = try csv.feeds(for: graph, columns: graph.train.columns)
        let n = min(rows, csv.rows.count)
        for (name, t) in feeds where t.rank >= 1 && graph.dataDecl(named: name)?.type.shape.dims.first == .batch {
            var batch = t.rows(Array(0..<n))
            if graph.train.normalize.contains(name) { batch = Self.zScore(batch, statsFrom: t) }
            feeds[name] = batch
        }
        return feeds
    }

    /// Each feature z-scored with the mean and population std of all rows of `all`.
    static func zScore(_ t: Tensor, statsFrom all: Tensor) -> Tensor {
        let width = all.count / max(1, all.shape[0])
        var out = t
        for f in 0..<width {
            let column = stride(from: f, to: all.count, by: width).map { all.scalars[$0] }
            let mean = column.reduce(0, +) / Double(column.count)
            let std = (column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(column.count)).squareRoot()
            for i in stride(from: f, to: out.count, by: width) {
                out.scalars[i] = std > 0 ? (out.scalars[i] - mean) / std : out.scalars[i] - mean
            }
        }
        return out
    }
}
