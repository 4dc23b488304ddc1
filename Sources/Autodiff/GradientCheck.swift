import CRuntimeRules
import DLCIR

/// Compares AD gradients with finite differences: the core of `dlc gradcheck` and of the AD
/// tests. It knows nothing of how the loss is evaluated: the caller passes a closure (the
/// reference interpreter, or a compiled trainer).
///
/// Each checked element is judged by the rule the trainer's own `gradcheck` uses,
/// `dlc_gc_judge` of codegen/dlc_gradcheck_rule.h (docs/gradcheck.md): the loss at five points a
/// half step apart gives the central difference over the step, and a third difference that
/// flags a non-differentiable point (a ReLU at 0, a max changing hands) inside the step; such
/// an element is skipped, never failed. A param passes when every element checked is within the
/// tolerance and at least one could be checked.
public struct GradientCheck: Sendable {
    /// The step is `h = step · max(1, |θ|)`; the loss is evaluated at θ ± h/2 and θ ± h.
    public var step: Double
    /// Errors are relative to `max(|analytic|, |numeric|, floor · max(1, |L|))`, L the loss at
    /// the params: gradients below that are compared absolutely.
    public var floor: Double
    /// The largest relative error that passes.
    public var tolerance: Double
    /// The kink signal above which an element is skipped: a kink inside the step then causes no
    /// error above it. It stays at the default tolerance when a caller asks for a stricter one
    /// (`dlc gradcheck --tolerance 0` must still check, and fail).
    public var kinkThreshold: Double
    /// Check at most this many elements of each param, evenly spaced; nil checks them all.
    public var maxElementsPerParam: Int?

    public init(step: Double = 1e-5, floor: Double = 1e-3, tolerance: Double = 1e-4, kinkThreshold: Double = 1e-4,
                maxElementsPerParam: Int? = nil) {
        self.step = step
        self.floor = floor
        self.tolerance = tolerance
        self.kinkThreshold = kinkThreshold
        self.maxElementsPerParam = maxElementsPerParam
    }

    /// The outcome for one param: its worst checked element.
    public struct ParamResult: Hashable, Sendable {
        public let name: String
        /// The largest relative error over the checked elements (0 when none was checked).
        public let maxRelativeError: Double
        /// The row-major index of the worst element, and both gradients there.
        public let worstIndex: Int
        public let analytic: Double
        public let numeric: Double
        /// How many elements were checked, and how many were skipped at a kink.
        public let checked: Int
        public let skipped: Int

        /// Within `tolerance`, with at least one element checked.
        public func passed(tolerance: Double) -> Bool { maxRelativeError <= tolerance && (checked > 0 || skipped == 0) }
    }

    /// Checks every param of `graph` (in declaration order).
    /// - Parameters:
    ///   - params: each param's values, row-major, in the order of `graph.params`.
    ///   - gradients: the AD gradient of each, same order and sizes.
    ///   - loss: the loss at the given param values (the data held fixed by the caller).
    public func run(_ graph: Graph, params: [[Double]], gradients: [[Double]],
                    loss: ([[Double]]) throws -> Double) rethrows -> [ParamResult] {
        precondition(params.count == graph.params.count && gradients.count == params.count,
                     "one value array and one gradient array per param")
        var theta = params
        let center = try loss(params)
        let floorValue = floor * max(1, abs(center))
        var results = [ParamResult]()
        for (p, decl) in graph.params.enumerated() {
            precondition(params[p].count == gradients[p].count, "a gradient's size differs from its param's")
            var worst = (error: 0.0, index: 0, analytic: 0.0, numeric: 0.0)
            var (checked, skipped) = (0, 0)
            for j in elementsToCheck(params[p].count) {
                let original = theta[p][j]
                let h = step * max(1, abs(original))
                var x = [Double](repeating: original, count: 5), l = [Double](repeating: center, count: 5)
                for k in [0, 1, 3, 4] {
                    theta[p][j] = original + Double(k - 2) * h / 2
                    x[k] = theta[p][j]
                    l[k] = try loss(theta)
                }
                theta[p][j] = original
                let v = dlc_gc_judge(x, l, gradients[p][j], floorValue, kinkThreshold)
                if v.skipped != 0 {
                    skipped += 1
                    continue
                }
                if v.error > worst.error || checked == 0 { worst = (v.error, j, gradients[p][j], v.numeric) }
                checked += 1
            }
            results.append(ParamResult(name: decl.name, maxRelativeError: worst.error, worstIndex: worst.index,
                                       analytic: worst.analytic, numeric: worst.numeric, checked: checked,
                                       skipped: skipped))
        }
        return results
    }

    private func elementsToCheck(_ count: Int) -> [Int] {
        guard let limit = maxElementsPerParam, limit < count else { return Array(0..<count) }
        guard limit > 1 else { return limit == 1 ? [0] : [] }
        return (0..<limit).map { $0 * (count - 1) / (limit - 1) }
    }
}
