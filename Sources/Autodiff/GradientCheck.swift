import DLCIR

/// Compares AD gradients with central finite differences: the core of `dlc gradcheck` and of
/// the AD tests. It knows nothing of how the loss is evaluated: the caller passes a closure
/// (the reference interpreter, or a compiled trainer).
public struct GradientCheck: Sendable {
    /// The step of the central difference is `step · max(1, |θ|)`.
    public var step: Double
    /// Errors are relative to `max(|analytic|, |numeric|, floor)`: gradients smaller than
    /// `floor` are compared absolutely, so that a zero gradient does not divide by zero.
    public var floor: Double
    /// Check at most this many elements of each param, evenly spaced; nil checks them all.
    public var maxElementsPerParam: Int?

    /// A quotient further than this (relative) from the gradient is taken again with smaller
    /// steps, in case a kink lies within the first one.
    public var refineAbove: Double

    public init(step: Double = 1e-5, floor: Double = 1e-3, maxElementsPerParam: Int? = nil, refineAbove: Double = 1e-6) {
        self.step = step
        self.floor = floor
        self.maxElementsPerParam = maxElementsPerParam
        self.refineAbove = refineAbove
    }

    /// The outcome for one param: its worst element.
    public struct ParamResult: Hashable, Sendable {
        public let name: String
        /// The largest relative error over the checked elements (0 for a param with none).
        public let maxRelativeError: Double
        /// The row-major index of the worst element, and both gradients there.
        public let worstIndex: Int
        public let analytic: Double
        public let numeric: Double
        /// How many elements were checked.
        public let checked: Int
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
        var results = [ParamResult]()
        for (p, decl) in graph.params.enumerated() {
            precondition(params[p].count == gradients[p].count, "a gradient's size differs from its param's")
            var worst = (error: 0.0, index: 0, analytic: 0.0, numeric: 0.0)
            let indices = elementsToCheck(params[p].count)
            for j in indices {
                let original = theta[p][j]
                let h = step * max(1, abs(original))
                func quotient(_ h: Double) throws -> Double {
                    theta[p][j] = original + h
                    let plus = theta[p][j], lossPlus = try loss(theta)
                    theta[p][j] = original - h
                    let minus = theta[p][j], lossMinus = try loss(theta)
                    theta[p][j] = original
                    return (lossPlus - lossMinus) / (plus - minus)
                }
                var numeric = try quotient(h)
                let analytic = gradients[p][j]
                var error = relativeError(analytic, numeric)
                // A kink within the step (ReLU at 0, a max-pool window whose winner changes)
                // makes the quotient depend on the step; a wrong gradient disagrees at every step.
                // So a disagreement is measured again 10 and 100 times closer: when those two
                // agree, they are the derivative here.
                if error > refineAbove {
                    let near = try quotient(h / 10), nearer = try quotient(h / 100)
                    if relativeError(near, nearer) <= refineAbove {
                        numeric = nearer
                        error = relativeError(analytic, numeric)
                    }
                }
                if error > worst.error || j == indices.first {
                    worst = (error, j, analytic, numeric)
                }
            }
            results.append(ParamResult(name: decl.name, maxRelativeError: worst.error, worstIndex: worst.index,
                                       analytic: worst.analytic, numeric: worst.numeric, checked: indices.count))
        }
        return results
    }

    /// |a - n| / max(|a|, |n|, floor); NaN anywhere counts as infinitely wrong.
    public func relativeError(_ a: Double, _ n: Double) -> Double {
        let e = abs(a - n) / max(abs(a), abs(n), floor)
        return e.isNaN ? .infinity : e
    }

    private func elementsToCheck(_ count: Int) -> [Int] {
        guard let limit = maxElementsPerParam, limit < count else { return Array(0..<count) }
        guard limit > 1 else { return limit == 1 ? [0] : [] }
        return (0..<limit).map { $0 * (count - 1) / (limit - 1) }
    }
}
