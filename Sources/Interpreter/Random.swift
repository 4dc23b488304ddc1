import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The random-number contract of docs/rng.md, draw for draw as codegen/dlc_rng.h implements it.

/// The generator of every random draw: SplitMix64 (Steele, Lea, Flood 2014).
public struct SplitMix64: Hashable, Sendable {
    /// The 64-bit state; each draw first adds the golden gamma to it.
    public var state: UInt64

    /// The golden gamma γ, added to the state before each draw.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init(state: UInt64) { self.state = state }

    /// The generator of one stream of a run: state `draw(draw(0, seed), stream)`, the seed and
    /// the stream number each mixed through SplitMix64's finaliser (docs/rng.md, "Streams"), so
    /// that no two (seed, stream) pairs start near each other. A negative seed is taken as its
    /// two's complement bit pattern, as C's conversion to `uint64_t` does.
    public init(seed: Int, stream: RandomStream) {
        state = Self.draw(from: Self.draw(from: 0, at: UInt64(truncatingIfNeeded: seed)), at: stream.rawValue)
    }

    /// SplitMix64's finaliser: a bijection of 64-bit values that mixes every input bit into
    /// every output bit.
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Draw number `index` (from 0) of the generator started at `state`, computed directly:
    /// `mix(state + (index + 1) * γ)`. This is what makes the dropout masks counter-based.
    public static func draw(from state: UInt64, at index: UInt64) -> UInt64 {
        mix(state &+ (index &+ 1) &* gamma)
    }

    /// A double in [0, 1) from 64 random bits: the top 53 bits times 2^-53.
    public static func unit(_ bits: UInt64) -> Double {
        Double(bits >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= Self.gamma
        return Self.mix(state)
    }

    /// A double in [0, 1): the top 53 bits of one draw times 2^-53.
    public mutating func uniform01() -> Double { Self.unit(next()) }

    /// An integer in [0, n) for n >= 1: one draw modulo n.
    public mutating func below(_ n: Int) -> Int {
        precondition(n >= 1, "below(\(n)) needs n >= 1")
        return Int(next() % UInt64(n))
    }

    /// Fisher–Yates in place: for i from count-1 down to 1, swap elements i and below(i + 1).
    public mutating func shuffle<T>(_ elements: inout [T]) {
        var i = elements.count - 1
        while i >= 1 {
            let j = below(i + 1)
            elements.swapAt(i, j)
            i -= 1
        }
    }

    /// `[0, 1, ..., n-1]` put in a new order by `shuffle`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}

/// The independent streams of one run, so that e.g. turning shuffling off does not change the
/// initial params. The raw value is the stream number k of docs/rng.md.
public enum RandomStream: UInt64, Hashable, Sendable, CaseIterable {
    /// Param initialisation.
    case initialization = 1
    /// The validation split.
    case split = 2
    /// The order of training rows, epoch after epoch.
    case shuffle = 3
    /// Dropout masks (counter-based: see `DropoutDraw`).
    case dropout = 4
}

// MARK: - Dropout

/// Where the dropout masks of one training step come from (docs/rng.md, "Dropout"). Each mask
/// element is computed on its own from the seed, the epoch, the dropout site, the row's position
/// in the epoch's order and the element's index within the row, so it does not depend on how
/// the rows are cut into batches, on the order elements are computed in, or on which process
/// computes them:
///
///     bits = draw(draw(draw(draw(D, epoch), site), row), element)
///
/// with `D` the initial state of the dropout stream of the seed and `draw` as in `SplitMix64`.
/// The element is kept, scaled by 1/(1 - p), when `unit(bits) >= p`.
public struct DropoutDraw: Hashable, Sendable {
    /// `draw(D, epoch)`: the key of the epoch under way.
    public var epochKey: UInt64
    /// The position of the batch's first row in the epoch's order; a batch's row r is at
    /// `firstRow + r`. A mask without the batch axis uses `firstRow` as its one row.
    public var firstRow: Int

    public init(epochKey: UInt64, firstRow: Int) {
        self.epochKey = epochKey
        self.firstRow = firstRow
    }

    /// The masks of the batch starting at position `firstRow` of epoch `epoch` (from 0) of
    /// `seed`. A model without data counts each update as an epoch and each of its accumulated
    /// steps as a row.
    public init(seed: Int, epoch: Int, firstRow: Int) {
        let d = SplitMix64(seed: seed, stream: .dropout).state
        self.init(epochKey: SplitMix64.draw(from: d, at: UInt64(truncatingIfNeeded: epoch)), firstRow: firstRow)
    }

    /// The key of dropout site `site` (the dropout call's number in the model, from 0).
    public func siteKey(_ site: Int) -> UInt64 {
        SplitMix64.draw(from: epochKey, at: UInt64(truncatingIfNeeded: site))
    }

    /// The key of row `row` of the batch (its position in the epoch is `firstRow + row`).
    public static func rowKey(_ siteKey: UInt64, position: Int) -> UInt64 {
        SplitMix64.draw(from: siteKey, at: UInt64(truncatingIfNeeded: position))
    }

    /// The 64 bits of element `element` of a row.
    public static func bits(_ rowKey: UInt64, element: Int) -> UInt64 {
        SplitMix64.draw(from: rowKey, at: UInt64(truncatingIfNeeded: element))
    }
}

// MARK: - Param initialisation

/// Initial param values (docs/rng.md, "Param initialisation").
public enum ParamInitializer {
    /// The values of every param of `params`, drawn in declaration order from the init stream
    /// of `seed`, each param's elements in row-major order. Each value is computed in double
    /// and rounded once to f32; the result holds the rounded values.
    ///
    /// A param's sizes are its fixed dims (params never hold the batch).
    public static func initialValues(_ params: [ParamDecl], seed: Int) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed, stream: .initialization)
        var values = [String: Tensor]()
        for p in params {
            values[p.name] = initialValue(p, rng: &rng)
        }
        return values
    }

    /// One param's initial value, drawing from `rng`.
    public static func initialValue(_ param: ParamDecl, rng: inout SplitMix64) -> Tensor {
        let shape = param.type.shape.dims.map { $0.fixedSize ?? 1 }
        let (fanIn, fanOut) = fans(shape)
        if case .values(let v) = param.initializer { return Tensor(shape: shape, scalars: v.map { Double(Float($0)) }) }
        let scalars = (0..<Tensor.count(shape)).map { _ in
            Double(Float(draw(param.initializer, fanIn: fanIn, fanOut: fanOut, rng: &rng)))
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// PyTorch's fans: `fan_in` is the product of all axes but the first (1 for a vector or
    /// scalar); `fan_out` is the first axis times the product of the axes after the second
    /// (1 for a scalar).
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        let fanIn = shape.count <= 1 ? 1 : Tensor.count(Array(shape.dropFirst()))
        let fanOut = shape.isEmpty ? 1 : shape[0] * (shape.count <= 2 ? 1 : Tensor.count(Array(shape.dropFirst(2))))
        return (fanIn, fanOut)
    }

    /// One element, in double, before the rounding to f32.
    static func draw(_ initializer: Initializer, fanIn: Int, fanOut: Int, rng: inout SplitMix64) -> Double {
        func uniform(_ lo: Double, _ hi: Double) -> Double {
            lo + (hi - lo) * rng.uniform01()
        }
        switch initializer {
        case .zeros: return 0
        case .ones: return 1
        case .constant(let c): return c
        case .uniform(let lo, let hi): return uniform(lo, hi)
        case .normal(let mean, let std):
            // Box–Muller; the second value is not kept. Written as in C, operation for operation.
            let u1 = rng.uniform01()
            let u2 = rng.uniform01()
            return mean + std * sqrt(-2 * log(1 - u1)) * cos(2 * Double.pi * u2)
        case .kaimingUniform:
            let b = 1 / sqrt(Double(fanIn))
            return uniform(-b, b)
        case .xavierUniform:
            let b = sqrt(6 / Double(fanIn + fanOut))
            return uniform(-b, b)
        case .values:
            preconditionFailure("listed values are not drawn (initialValue copies them)")
        }
    }
}

// MARK: - Data order

/// Which rows train and which validate (docs/rng.md, "Validation split").
public struct DataSplit: Hashable, Sendable {
    /// Training rows, in file order.
    public var training: [Int]
    /// Validation rows, in file order.
    public var validation: [Int]

    public init(training: [Int], validation: [Int]) {
        self.training = training
        self.validation = validation
    }

    /// Holds out `floor(fraction * rows)` rows: the first ones of a Fisher–Yates permutation
    /// drawn from the split stream of `seed`. A fraction of 0 draws nothing.
    public init(rows n: Int, validationFraction fraction: Double, seed: Int) {
        guard fraction > 0, n > 0 else {
            self.init(training: Array(0..<max(n, 0)), validation: [])
            return
        }
        var rng = SplitMix64(seed: seed, stream: .split)
        let p = rng.permutation(n)
        let nVal = Int((min(fraction, 1) * Double(n)).rounded(.down))
        self.init(training: p[nVal...].sorted(), validation: p[..<nVal].sorted())
    }
}

/// The order of the training rows, epoch after epoch (docs/rng.md, "Shuffling").
public struct EpochShuffler: Hashable, Sendable {
    public var rng: SplitMix64

    /// The shuffle stream of `seed`.
    public init(seed: Int) { rng = SplitMix64(seed: seed, stream: .shuffle) }

    /// The next epoch's order: a Fisher–Yates permutation of `[0, ..., count-1]`, the
    /// generator continuing from the previous epoch. Position k of the epoch takes training
    /// row `order[k]` (an index into the training rows in file order).
    public mutating func nextOrder(count: Int) -> [Int] { rng.permutation(count) }
}
