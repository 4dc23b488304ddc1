/// Element types. Params are always f32; i32 holds indices, labels and casts.
public enum DType: String, Hashable, Sendable, CaseIterable {
    case f32, i32
}

/// One axis of a shape: a fixed size, or the batch size `N`, known only at run time.
///
/// Every symbolic name of a model denotes the batch, so one case suffices. A shape holds the
/// batch at most once, which keeps every size "a constant, or a constant times N".
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case batch
    case fixed(Int)

    public var description: String {
        switch self {
        case .batch: return "N"
        case .fixed(let n): return String(n)
        }
    }

    public var fixedSize: Int? {
        if case .fixed(let n) = self { return n }
        return nil
    }
}

/// The dims of a tensor, outermost first. `[]` is a scalar.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Dim]

    public init(_ dims: [Dim]) { self.dims = dims }
    public init(arrayLiteral elements: Dim...) { self.dims = elements }

    public static let scalar = Shape([])

    public var rank: Int { dims.count }
    public var isScalar: Bool { dims.isEmpty }
    public var hasBatch: Bool { dims.contains(.batch) }
    /// Product of the fixed dims: the element count per unit of batch.
    public var fixedElementCount: Int { dims.reduce(1) { $0 * ($1.fixedSize ?? 1) } }
    /// Element count for a given batch size.
    public func elementCount(batch: Int) -> Int { fixedElementCount * (hasBatch ? batch : 1) }
    /// Concrete sizes for a given batch size.
    public func sizes(batch: Int) -> [Int] { dims.map { $0.fixedSize ?? batch } }

    public var description: String { "[" + dims.map(\.description).joined(separator: ",") + "]" }

    /// NumPy broadcasting of two shapes, aligned at the right. The batch matches only itself or 1.
    /// Returns nil when they do not broadcast.
    public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
        let rank = max(a.rank, b.rank)
        var out = [Dim]()
        for i in 0..<rank {
            let da = i < rank - a.rank ? Dim.fixed(1) : a.dims[i - (rank - a.rank)]
            let db = i < rank - b.rank ? Dim.fixed(1) : b.dims[i - (rank - b.rank)]
            switch (da, db) {
            case _ where da == db: out.append(da)
            case (.fixed(1), _): out.append(db)
            case (_, .fixed(1)): out.append(da)
            default: return nil
            }
        }
        return Shape(out)
    }

    /// Whether `self` broadcasts to exactly `target` (used to check broadcast / sum_to).
    public func broadcasts(to target: Shape) -> Bool {
        Shape.broadcast(self, target) == target
    }
}

/// A value's static type: dtype and shape.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: Shape

    public init(_ dtype: DType, _ shape: Shape = .scalar) {
        self.dtype = dtype
        self.shape = shape
    }

    public static let f32Scalar = TensorType(.f32)
    public static let i32Scalar = TensorType(.i32)

    public var rank: Int { shape.rank }
    public var isScalar: Bool { shape.isScalar }

    /// `f32[N,784]`, or `f32` for a scalar.
    public var description: String {
        shape.isScalar ? dtype.rawValue : dtype.rawValue + shape.description
    }

    public func with(shape: Shape) -> TensorType { TensorType(dtype, shape) }
    public func with(dtype: DType) -> TensorType { TensorType(dtype, shape) }
}
