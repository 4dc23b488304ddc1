import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Neural-network ops

extension Kernels {
    /// An inverted-dropout mask in training (docs/rng.md, "Dropout"): each element is kept, with
    /// value `1 / (1 - p)`, when its own draw is `>= p`, else it is 0. An element's draw depends
    /// on its row (its index along `batchAxis`, at position `firstRow + row` of the epoch) and
    /// its index among the row's elements in row-major order; without a batch axis the whole
    /// mask is one row, at position `firstRow`.
    static func dropoutMask(shape: [Int], batchAxis: Int?, p: Double, siteKey: UInt64, firstRow: Int) -> Tensor {
        let scale = 1 / (1 - p)
        let outer = batchAxis.map { Tensor.count(Array(shape[..<$0])) } ?? 1
        let rows = batchAxis.map { shape[$0] } ?? 1
        let inner = batchAxis.map { Tensor.count(Array(shape[($0 + 1)...])) } ?? Tensor.count(shape)
        var out = [Double](repeating: 0, count: Tensor.count(shape))
        for o in 0..<outer {
            for r in 0..<rows {
                let rowKey = DropoutDraw.rowKey(siteKey, position: firstRow + r)
                for i in 0..<inner {
                    let u = SplitMix64.unit(DropoutDraw.bits(rowKey, element: o * inner + i))
                    out[(o * rows + r) * inner + i] = u >= p ? scale : 0
                }
            }
        }
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
