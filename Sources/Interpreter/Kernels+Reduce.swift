import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Reductions

extension Kernels {
    /// `x`'s shape with `axes` set to 1: the shape of a reduction with kept dims.
    static func keptShape(_ shape: [Int], axes: [Int]) -> [Int] {
        shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    }

    /// `sum`, `mean` or `max` of `x` over `axes` (sorted), keeping them as size 1 with
    /// `keepdim`. Elements are combined in row-major order. i32 sums wrap; `max` propagates NaN.
    static func reduce(_ r: ReduceOp, _ x: Tensor, axes: [Int], keepdim: Bool, dtype: DType) -> Tensor {
        let kept = keptShape(x.shape, axes: axes)
        var out: Tensor
        switch r {
        case .sum:
            out = sum(x, to: kept, dtype: dtype)
        case .mean:
            out = sum(x, to: kept, dtype: dtype)
            let n = Double(x.count / max(Tensor.count(kept), 1))
            out = map(out) { $0 / n }
        case .max:
            let target = Tensor.broadcastMap(from: kept, to: x.shape)
            var values = [Double?](repeating: nil, count: Tensor.count(kept))
            for i in 0..<x.count {
                let v = x.scalars[i]
                values[target[i]] = values[target[i]].map { nanMax($0, v) } ?? v
            }
            out = Tensor(shape: kept, scalars: values.map { $0 ?? -.infinity })
        }
        return keepdim ? out : out.reshaped(x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    /// `x` summed down to `shape` (which broadcasts to `x`'s shape): the inverse of broadcast.
    static func sum(_ x: Tensor, to shape: [Int], dtype: DType) -> Tensor {
        let target = Tensor.broadcastMap(from: shape, to: x.shape)
        var out = [Double](repeating: 0, count: Tensor.count(shape))
        if dtype == .i32 {
            // Exact in 64 bits for any realistic count, then wrapped once.
            var ints = [Int64](repeating: 0, count: out.count)
            for i in 0..<x.count { ints[target[i]] += int(x.scalars[i]) }
            out = ints.map(wrap)
        } else {
            for i in 0..<x.count { out[target[i]] += x.scalars[i] }
        }
        // A shape of lower rank than x's is padded on the left with ones by the map.
        return Tensor(shape: shape, scalars: out)
    }

    /// The number of elements of `x` over `axes`, as an f32 scalar.
    static func count(_ x: Tensor, axes: [Int]) -> Tensor {
        Tensor(Double(axes.reduce(1) { $0 * x.shape[$1] }))
    }
}

// MARK: - Ops along one axis

extension Kernels {
    /// The index of the first maximum of `values` (a NaN counts as the maximum).
    static func firstMax(_ values: [Double]) -> Int {
        var best = 0
        for k in values.indices.dropFirst() {
            let v = values[k], b = values[best]
            if b.isNaN { break }
            if v > b || v.isNaN { best = k }
        }
        return best
    }

    /// Calls `body` once per lane along `axis` with the lane's values and their flat offsets.
    static func forEachLane(_ shape: [Int], axis: Int, _ body: (_ offsets: [Int]) -> Void) {
        let (outer, size, inner) = Tensor.lanes(shape, axis: axis)
        for o in 0..<outer {
            for i in 0..<inner {
                body((0..<size).map { k in (o * size + k) * inner + i })
            }
        }
    }

    /// i32 index of the first maximum along `axis`; the axis is removed.
    static func argmax(_ x: Tensor, axis: Int) -> Tensor {
        var out = [Double]()
        forEachLane(x.shape, axis: axis) { offsets in
            out.append(Double(firstMax(offsets.map { x.scalars[$0] })))
        }
        var shape = x.shape
        shape.remove(at: axis)
        return Tensor(shape: shape, scalars: out)
    }

    /// 1 at the first maximum along `axis`, 0 elsewhere.
    static func maxMask(_ x: Tensor, axis: Int) -> Tensor {
        var out = Tensor(shape: x.shape, repeating: 0)
        forEachLane(x.shape, axis: axis) { offsets in
            out.scalars[offsets[firstMax(offsets.map { x.scalars[$0] })]] = 1
        }
        return out
    }

    /// Softmax along `axis`, stable: `exp(x - max) / sum(exp(x - max))`.
    static func softmax(_ x: Tensor, axis: Int) -> Tensor {
        var out = x
        forEachLane(x.shape, axis: axis) { offsets in
            let values = offsets.map { x.scalars[$0] }
            let m = values.reduce(-Double.infinity, nanMax)
            let e = values.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for (k, o) in offsets.enumerated() { out.scalars[o] = e[k] / s }
        }
        return out
    }

    /// Log-softmax along `axis`, stable: `x - max - log(sum(exp(x - max)))`.
    static func logSoftmax(_ x: Tensor, axis: Int) -> Tensor {
        var out = x
        forEachLane(x.shape, axis: axis) { offsets in
            let values = offsets.map { x.scalars[$0] }
            let m = values.reduce(-Double.infinity, nanMax)
            let logSum = log(values.map { exp($0 - m) }.reduce(0, +))
            for (k, o) in offsets.enumerated() { out.scalars[o] = values[k] - m - logSum }
        }
        return out
    }
}
