import DLCDiagnostics
import DLCIR

/// The `metric` setting and the loss's target (`MetricTarget`): the metric follows a loss target
/// written as an expression of the data; one it cannot follow is warned about at the setting,
/// saying what the metric reads instead.
extension Analyzer {
    mutating func warnIfMetricCannotFollowLoss(_ metric: Metric, at location: SourceLocation) {
        let rule = graph.metricTarget()
        guard let unfollowed = rule.unfollowed else { return }
        let output = graph.outputs.first.map { "'\($0.name)'" } ?? "the first output"
        let reads: String
        switch rule.source {
        case .data(let i): reads = "the declared target '\(graph.data[i].name)'"
        default: reads = "no target"
        }
        let why = graph.type(of: unfollowed).shape.dims.first == .batch ? "reads the params" : "has no batch axis"
        diagnostics.warning(location, "metric \(metric.rawValue) compares \(output) with \(reads), not with the loss's target",
                            hint: "the loss's target \(graph[unfollowed].name.map { "'\($0)' " } ?? "")\(why), so the metric "
                                + "cannot follow it (it follows targets computed from the data alone)")
    }
}
