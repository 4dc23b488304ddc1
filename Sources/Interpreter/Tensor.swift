import DLCIR

/// A dense tensor of the reference interpreter: concrete sizes and row-major values in double
/// precision.
///
/// The dtype lives in the graph, not here: an `i32` value is stored as doubles that hold
/// integers in the range of `Int32`, which doubles represent exactly.
public struct Tensor: Hashable, Sendable, CustomStringConvertible {
    /// Sizes, outermost first; `[]` is a scalar.
    public private(set) var shape: [Int]
    /// `shape.product` values in row-major order.
    public var scalars: [Double]

    /// A tensor of the given sizes and row-major values; their counts must agree.
    public init(shape: [Int], scalars: [Double]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in \(shape)")
        precondition(Tensor.count(shape) == scalars.count,
                     "\(scalars.count) values do not fill a tensor of shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor with every element `value`.
    public init(shape: [Int], repeating value: Double) {
        self.init(shape: shape, scalars: Array(repeating: value, count: Tensor.count(shape)))
    }

    /// A scalar.
    public init(_ value: Double) { self.init(shape: [], scalars: [value]) }

    /// A vector.
    public init(_ values: [Double]) { self.init(shape: [values.count], scalars: values) }

    /// Zeros of the given sizes.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }
    /// The only value of a one-element tensor, else nil.
    public var scalar: Double? { scalars.count == 1 ? scalars[0] : nil }

    /// The value at a multi-index (one index per axis).
    public subscript(index: Int...) -> Double {
        get { scalars[Tensor.offset(of: index, in: shape)] }
        set { scalars[Tensor.offset(of: index, in: shape)] = newValue }
    }

    /// The same values with other sizes of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// The rows `indices` along axis 0, in that order (the first axis becomes `indices.count`).
    public func rows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "a scalar has no rows")
        let rowSize = Tensor.count(Array(shape.dropFirst()))
        var out = [Double]()
        out.reserveCapacity(indices.count * rowSize)
        for r in indices { out += scalars[(r * rowSize)..<((r + 1) * rowSize)] }
        return Tensor(shape: [indices.count] + shape.dropFirst(), scalars: out)
    }

    public var description: String {
        let values = scalars.count <= 16
            ? scalars.map { "\($0)" }.joined(separator: ", ")
            : scalars.prefix(16).map { "\($0)" }.joined(separator: ", ") + ", ..."
        return "Tensor(shape: \(shape), [\(values)])"
    }

    // MARK: - Index math

    /// The element count of a shape (1 for a scalar).
    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides: `strides[i]` is the distance between consecutive indices of axis i.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = Array(repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }

    /// The flat offset of a multi-index.
    public static func offset(of index: [Int], in shape: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not fit shape \(shape)")
        var offset = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "index \(index) out of range of shape \(shape)")
            offset = offset * n + i
        }
        return offset
    }

    /// The multi-index of a flat offset.
    public static func index(of offset: Int, in shape: [Int]) -> [Int] {
        var index = Array(repeating: 0, count: shape.count)
        var rest = offset
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] > 0 {
            index[i] = rest % shape[i]
            rest /= shape[i]
        }
        return index
    }

    /// NumPy broadcasting of concrete sizes, aligned at the right; nil when they do not broadcast.
    public static func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var out = [Int]()
        for (x, y) in zip(pa, pb) {
            if x == y || y == 1 { out.append(x) } else if x == 1 { out.append(y) } else { return nil }
        }
        return out
    }

    /// For each flat offset of a tensor of shape `outer`, the flat offset of the element of a
    /// tensor of shape `inner` that broadcasting reads there. `inner` must broadcast to `outer`.
    ///
    /// This single map serves every broadcast: elementwise operands read `inner[map[i]]`;
    /// reductions and `sum_to` add `outer[i]` into `inner[map[i]]` (`inner` being the reduced
    /// shape with kept dims).
    public static func broadcastMap(from inner: [Int], to outer: [Int]) -> [Int] {
        precondition(inner.count <= outer.count, "cannot broadcast \(inner) to \(outer)")
        let padded = Array(repeating: 1, count: outer.count - inner.count) + inner
        let innerStrides = strides(padded)
        // A broadcast axis (size 1 against a larger size) does not advance the inner offset.
        let steps = (0..<outer.count).map { i -> Int in
            precondition(padded[i] == outer[i] || padded[i] == 1, "cannot broadcast \(inner) to \(outer)")
            return padded[i] == outer[i] ? innerStrides[i] : 0
        }
        var map = [Int]()
        map.reserveCapacity(count(outer))
        var index = Array(repeating: 0, count: outer.count)
        var offset = 0
        for _ in 0..<count(outer) {
            map.append(offset)
            // Advance the multi-index like an odometer, keeping the inner offset in step.
            var axis = outer.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += steps[axis]
                if index[axis] < outer[axis] { break }
                offset -= steps[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return map
    }

    /// This tensor broadcast to `target` (which it must broadcast to).
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let map = Tensor.broadcastMap(from: shape, to: target)
        return Tensor(shape: target, scalars: map.map { scalars[$0] })
    }

    /// Splits a shape around `axis` into (outer, size, inner) counts, so that the element at
    /// (o, k, i) lies at `(o * size + k) * inner + i`: the layout of every op along one axis.
    public static func lanes(_ shape: [Int], axis: Int) -> (outer: Int, size: Int, inner: Int) {
        (count(Array(shape[..<axis])), shape[axis], count(Array(shape[(axis + 1)...])))
    }
}
