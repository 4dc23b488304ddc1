import DLCIR

/// A size known at compile time up to the batch: `perBatch * N + constant`.
///
/// Every element count, stride and arena offset of a lowered program has this form, because a
/// shape holds the batch at most once. So the memory plan is fixed before the first step, and
/// the peak for any batch size is one multiplication away.
public struct Affine: Hashable, Sendable, CustomStringConvertible {
    public var perBatch: Int
    public var constant: Int

    public init(perBatch: Int = 0, constant: Int = 0) {
        self.perBatch = perBatch
        self.constant = constant
    }

    public static let zero = Affine()
    public static let one = Affine(constant: 1)
    public static func fixed(_ c: Int) -> Affine { Affine(constant: c) }
    public static let batch = Affine(perBatch: 1)

    public init(_ dim: Dim) {
        switch dim {
        case .batch: self = .batch
        case .fixed(let n): self = .fixed(n)
        }
    }

    public var isConstant: Bool { perBatch == 0 }

    public func value(batch n: Int) -> Int { perBatch * n + constant }

    public static func + (a: Affine, b: Affine) -> Affine {
        Affine(perBatch: a.perBatch + b.perBatch, constant: a.constant + b.constant)
    }

    /// Product with a constant.
    public static func * (a: Affine, c: Int) -> Affine {
        Affine(perBatch: a.perBatch * c, constant: a.constant * c)
    }

    /// Product of two affine sizes; defined only when at most one holds the batch.
    public static func * (a: Affine, b: Affine) -> Affine {
        precondition(a.isConstant || b.isConstant, "a size with the batch twice is not affine")
        return a.isConstant ? b * a.constant : a * b.constant
    }

    /// Whether a buffer of size `self` fits in a slot of size `slot` for every batch size.
    public func fits(in slot: Affine) -> Bool { perBatch <= slot.perBatch && constant <= slot.constant }

    /// Rounds both coefficients up to a multiple of `m`, so offsets stay aligned for every N.
    public func roundedUp(to m: Int) -> Affine {
        func up(_ x: Int) -> Int { (x + m - 1) / m * m }
        return Affine(perBatch: up(perBatch), constant: up(constant))
    }

    public static func max(_ a: Affine, _ b: Affine) -> Affine {
        Affine(perBatch: Swift.max(a.perBatch, b.perBatch), constant: Swift.max(a.constant, b.constant))
    }

    /// `64*N + 8`, `N`, `512`.
    public var description: String {
        switch (perBatch, constant) {
        case (0, let c): return String(c)
        case (1, 0): return "N"
        case (let a, 0): return "\(a)*N"
        case (1, let c): return "N + \(c)"
        case (let a, let c): return "\(a)*N + \(c)"
        }
    }
}

extension Shape {
    /// The element count as an affine size.
    public var affineCount: Affine { dims.reduce(Affine.one) { $0 * Affine($1) } }

    /// Row-major element strides, as affine sizes.
    public var affineStrides: [Affine] {
        var strides = [Affine](repeating: .one, count: rank)
        var running = Affine.one
        for i in stride(from: rank - 1, through: 0, by: -1) {
            strides[i] = running
            running = running * Affine(dims[i])
        }
        return strides
    }
}
