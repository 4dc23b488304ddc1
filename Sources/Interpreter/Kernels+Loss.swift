import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Neural-network ops

extension Kernels {
    /// An inverted-dropout mask in training: one `uniform01()` per element in row-major order;
    /// the element is kept, with value `1 / (1 - p)`, when the draw is `>= p`, else it is 0.
    static func dropoutMask(shape: [Int], p: Double, rng: inout SplitMix64) -> Tensor {
        let scale = 1 / (1 - p)
        var out = [Double]()
        out.reserveCapacity(Tensor.count(shape))
        for _ in 0..<Tensor.count(shape) { out.append(rng.uniform01() >= p ? scale : 0) }
        return Tensor(shape: shape, scalars: out)
    }

    /// One-hot rows with `classes` columns; a label outside `0..<classes` is an error.
    static func oneHot(_ y: Tensor, classes: Int) throws -> Tensor {
        try checkLabels(y, classes: classes)
        var out = Tensor(shape: y.shape + [classes], repeating: 0)
        for (row, label) in y.scalars.enumerated() { out.scalars[row * classes + Int(label)] = 1 }
        return out
    }

    static func checkLabels(_ y: Tensor, classes: Int) throws {
        if let bad = y.scalars.first(where: { $0 < 0 || $0 >= Double(classes) }) {
            throw KernelFailure("label \(Int(exactly: bad).map(String.init) ?? "\(bad)") is out of range "
                                    + "for \(classes) class\(classes == 1 ? "" : "es") (valid: 0 to \(classes - 1))")
        }
    }
}

// MARK: - Losses

extension Kernels {
    /// The mean of `f(prediction, target)` over all elements (PyTorch's `reduction='mean'`),
    /// summed in row-major order.
    static func meanOf(_ p: Tensor, _ y: Tensor, _ f: (Double, Double) -> Double) -> Tensor {
        var total = 0.0
        for i in 0..<p.count { total += f(p.scalars[i], y.scalars[i]) }
        return Tensor(total / Double(p.count))
    }

    /// PyTorch's clamp of each log of `bce` at -100 (NaN passes through).
    static func clampLog(_ v: Double) -> Double { v < -100 ? -100 : v }

    /// A loss of PyTorch's default reduction: a scalar.
    static func loss(_ kind: LossKind, _ p: Tensor, _ y: Tensor) throws -> Tensor {
        switch kind {
        case .mse:
            return meanOf(p, y) { ($0 - $1) * ($0 - $1) }
        case .l1:
            return meanOf(p, y) { Swift.abs($0 - $1) }
        case .bce:
            // p are probabilities: -(y log p + (1 - y) log(1 - p)), each log clamped at -100.
            // log(1 - p) is computed as log1p(-p), as PyTorch's kernel does.
            return meanOf(p, y) { p, y in -(y * clampLog(log(p)) + (1 - y) * clampLog(log1p(-p))) }
        case .bceLogits:
            // z are logits: max(z, 0) - z y + log(1 + exp(-|z|)), exact and overflow-free.
            return meanOf(p, y) { z, y in nanMax(z, 0) - z * y + log1p(exp(-Swift.abs(z))) }
        case .hinge:
            // y in {-1, 1}: max(0, 1 - y * score).
            return meanOf(p, y) { s, y in nanMax(0, 1 - y * s) }
        case .nll:
            // logp: [rows, classes], y: [rows]; the mean over rows of -logp[row, y[row]].
            let (rows, classes) = (p.shape[0], p.shape[1])
            try checkLabels(y, classes: classes)
            var total = 0.0
            for r in 0..<rows { total += -p.scalars[r * classes + Int(y.scalars[r])] }
            return Tensor(total / Double(rows))
        }
    }
}
