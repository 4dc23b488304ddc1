/// What the `metric` setting compares the first output with (docs/language.md, "Training"),
/// decided once here for Sema (its warning), Lowering (which computes a followed target) and
/// the backends' descriptor.
///
/// The rule: the metric follows the loss's target, the second operand of the loss op the
/// loss is (or is built from, e.g. `loss mse(p, y) + 0.01 * mean(square(w))`).
/// - A declared target (`mse(pred, y)`): that target, read from the data.
/// - An expression of the data alone (`mse(pred, where(x > 0.5, -2 * y, y))`, `hinge(s, 2 * y - 1)`,
///   `cross_entropy(z, y - 1)`) with the batch as its first axis: that value, computed by the
///   evaluation step beside the outputs.
/// - Otherwise (an expression of the params, or no loss op at all: a loss written by hand as
///   `mean((p - y) ** 2)`): the first target the loss reads, or the model's only target; Sema
///   warns when a loss op's target was an expression it could not follow.
public struct MetricTarget: Hashable, Sendable {
    public enum Source: Hashable, Sendable {
        /// A declared target: an index into `graph.data`.
        case data(Int)
        /// The loss's target computed from the data: a value of the graph.
        case computed(ValueID)
        /// Nothing to compare with (no target at all).
        case none
    }

    /// What the metric reads.
    public var source: Source
    /// The loss op the accuracy rule follows (one output column: > 0 for bce_logits and hinge,
    /// > 0.5 otherwise); `softmax_cross_entropy` counts as nll. Nil for a hand-written loss.
    public var lossKind: LossKind?
    /// The loss's target when it was an expression the metric could not follow (it reads the
    /// params, or lacks the batch axis): Sema warns about it.
    public var unfollowed: ValueID?
}

extension Graph {
    /// The metric's target under the rule of `MetricTarget`.
    public func metricTarget() -> MetricTarget {
        guard let loss else { return MetricTarget(source: .none, lossKind: nil, unfollowed: nil) }
        var result = MetricTarget(source: .none, lossKind: nil, unfollowed: nil)
        if let (kind, target) = lossOp(from: loss) {
            result.lossKind = kind
            // Without an output there is nothing to compare: no target is computed for it.
            if outputs.isEmpty { result.source = firstTargetRead(from: loss).map(MetricTarget.Source.data) ?? .none; return result }
            if case .input(let name) = self[target].op, let i = data.firstIndex(where: { $0.name == name }) {
                result.source = .data(i)
                return result
            }
            if type(of: target).shape.dims.first == .batch && readsDataOnly(target) {
                result.source = .computed(target)
                return result
            }
            result.unfollowed = target
        }
        result.source = firstTargetRead(from: loss).map(MetricTarget.Source.data) ?? .none
        return result
    }

    /// The loss itself, or else the first loss op (depth first, operands in order) it is built
    /// from: its kind and its target operand.
    private func lossOp(from loss: ValueID) -> (LossKind, ValueID)? {
        var stack = [loss], seen = Set<ValueID>()
        while let v = stack.popLast() {
            guard seen.insert(v).inserted else { continue }
            switch self[v].op {
            case .loss(let k): return (k, self[v].operands[1])
            case .softmaxCrossEntropy: return (.nll, self[v].operands[1])
            default: stack += self[v].operands.reversed()
            }
        }
        return nil
    }

    /// Whether `v` is computed from inputs, targets and numbers alone (no param, no dropout).
    private func readsDataOnly(_ v: ValueID) -> Bool {
        var stack = [v], seen = Set<ValueID>()
        while let u = stack.popLast() {
            guard seen.insert(u).inserted else { continue }
            switch self[u].op {
            case .param, .dropoutMask: return false
            default: stack += self[u].operands
            }
        }
        return true
    }

    /// The first declared target the loss reads (depth first), or the model's only target.
    private func firstTargetRead(from loss: ValueID) -> Int? {
        let targets = data.indices.filter { data[$0].role == .target }
        var stack = [loss], seen = Set<ValueID>()
        while let v = stack.popLast() {
            guard seen.insert(v).inserted else { continue }
            if case .input(let name) = self[v].op, let i = targets.first(where: { data[$0].name == name }) { return i }
            stack += self[v].operands.reversed()
        }
        return targets.count == 1 ? targets[0] : nil
    }
}
