import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernels of the interpreter, one static function per op (or op group). Each takes its
/// operands' values and returns the result; a run-time error is thrown as a `KernelFailure`,
/// which the interpreter reports at the node.
enum Kernels {}

// MARK: - i32 arithmetic

extension Kernels {
    /// Whether a double is an integer in the range of `Int32` (so a valid i32 value).
    static func isInt32(_ x: Double) -> Bool {
        x.rounded(.towardZero) == x && x >= -2_147_483_648 && x <= 2_147_483_647
    }

    /// An i32 value as an integer. i32 values are integral and in range by construction; the
    /// guard only keeps a malformed value from trapping.
    static func int(_ x: Double) -> Int64 {
        x.isFinite && Swift.abs(x) < 9.0e18 ? Int64(x) : 0
    }

    /// Two's complement wrap-around to 32 bits, as the generated code's `int32_t` arithmetic.
    static func wrap(_ x: Int64) -> Double { Double(Int32(truncatingIfNeeded: x)) }

    /// Python's `//`: the quotient rounded toward negative infinity.
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        var q = a / b
        if a % b != 0 && ((a < 0) != (b < 0)) { q -= 1 }
        return q
    }

    /// Python's `%`: the remainder with the sign of the divisor, `a - b * (a // b)`.
    static func mod(_ a: Int64, _ b: Int64) -> Int64 {
        var r = a % b
        if r != 0 && ((r < 0) != (b < 0)) { r += b }
        return r
    }
}

// MARK: - Elementwise

extension Kernels {
    /// `x` mapped by `f` element by element.
    static func map(_ x: Tensor, _ f: (Double) -> Double) -> Tensor {
        Tensor(shape: x.shape, scalars: x.scalars.map(f))
    }

    /// NaN-propagating maximum and minimum (PyTorch's `maximum`/`minimum`).
    static func nanMax(_ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN { return .nan }
        return a >= b ? a : b
    }

    static func nanMin(_ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN { return .nan }
        return a <= b ? a : b
    }

    /// The logistic function, computed without overflow on either side.
    static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }

    static func unary(_ u: UnaryOp, _ x: Tensor, dtype: DType) throws -> Tensor {
        switch u {
        case .neg:
            return dtype == .i32 ? map(x) { wrap(-int($0)) } : map(x) { -$0 }
        case .exp: return map(x) { exp($0) }
        case .log: return map(x) { log($0) }
        case .sqrt: return map(x) { sqrt($0) }
        case .abs: return map(x) { Swift.abs($0) }
        case .square: return map(x) { $0 * $0 }
        case .relu: return map(x) { $0.isNaN ? $0 : ($0 > 0 ? $0 : 0) }
        case .sigmoid: return map(x, sigmoid)
        case .tanh: return map(x) { tanh($0) }
        case .floor: return map(x) { $0.rounded(.down) }
        case .sign: return map(x) { $0 > 0 ? 1 : ($0 < 0 ? -1 : ($0.isNaN ? .nan : 0)) }
        case .toInt:
            // Toward zero; a value with no i32 counterpart (NaN, ±inf, beyond ±2^31) is an error.
            if let bad = x.scalars.first(where: { !isInt32($0.rounded(.towardZero)) }) {
                throw KernelFailure("int() of \(bad), which is outside the range of i32")
            }
            return map(x) { $0.rounded(.towardZero) + 0 }  // + 0 turns -0 into the integer 0
        case .toFloat:
            return x
        }
    }

    /// `x ** c` for a constant exponent, as C's `pow`.
    static func power(_ x: Tensor, _ c: Double) -> Tensor {
        map(x) { pow($0, c) }
    }

    /// `a op b` with NumPy broadcasting. `dtype` is the operands' dtype: i32 arithmetic wraps,
    /// `//` and `%` follow Python (floor; the divisor's sign) and a zero divisor is an error.
    static func binary(_ b: BinaryOp, _ x: Tensor, _ y: Tensor, dtype: DType) throws -> Tensor {
        guard let shape = Tensor.broadcastShapes(x.shape, y.shape) else {
            throw KernelFailure("shapes \(x.shape) and \(y.shape) do not broadcast")
        }
        let mx = Tensor.broadcastMap(from: x.shape, to: shape)
        let my = Tensor.broadcastMap(from: y.shape, to: shape)
        let f: (Double, Double) throws -> Double
        switch (b, dtype) {
        case (.add, .f32): f = { $0 + $1 }
        case (.sub, .f32): f = { $0 - $1 }
        case (.mul, .f32): f = { $0 * $1 }
        case (.div, _): f = { $0 / $1 }
        case (.add, .i32): f = { wrap(int($0) + int($1)) }
        case (.sub, .i32): f = { wrap(int($0) - int($1)) }
        case (.mul, .i32): f = { wrap(int($0) * int($1)) }
        case (.floorDiv, _), (.mod, _):
            f = { a, d in
                guard int(d) != 0 else { throw KernelFailure("integer division by zero") }
                return wrap(b == .floorDiv ? floorDiv(int(a), int(d)) : mod(int(a), int(d)))
            }
        case (.maximum, _): f = nanMax
        case (.minimum, _): f = nanMin
        case (.eq, _): f = { $0 == $1 ? 1 : 0 }
        case (.ne, _): f = { $0 != $1 ? 1 : 0 }
        case (.lt, _): f = { $0 < $1 ? 1 : 0 }
        case (.le, _): f = { $0 <= $1 ? 1 : 0 }
        case (.gt, _): f = { $0 > $1 ? 1 : 0 }
        case (.ge, _): f = { $0 >= $1 ? 1 : 0 }
        }
        var out = [Double]()
        out.reserveCapacity(mx.count)
        for i in 0..<mx.count { out.append(try f(x.scalars[mx[i]], y.scalars[my[i]])) }
        return Tensor(shape: shape, scalars: out)
    }

    /// `where(c, a, b)`: `a` where `c != 0`, else `b`, all three broadcast together.
    static func select(_ c: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = Tensor.broadcastShapes(c.shape, Tensor.broadcastShapes(a.shape, b.shape)!)!
        let mc = Tensor.broadcastMap(from: c.shape, to: shape)
        let ma = Tensor.broadcastMap(from: a.shape, to: shape)
        let mb = Tensor.broadcastMap(from: b.shape, to: shape)
        let out = (0..<mc.count).map { i in c.scalars[mc[i]] != 0 ? a.scalars[ma[i]] : b.scalars[mb[i]] }
        return Tensor(shape: shape, scalars: out)
    }
}
