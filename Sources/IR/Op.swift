/// The operations of the graph IR.
///
/// Payloads hold the attributes that are not operands; the result type (and so the target
/// shape of `reshape`, `broadcast`, `sum_to` and `scatter_add`) is held by the node.
/// Ops are grouped as tinygrad groups them: leaves, elementwise, reductions, movement,
/// linear algebra, neural-network ops and losses. Comments give the operands.
public enum Op: Hashable, Sendable {
    // MARK: Leaves
    /// A tensor fed from data each step (an `input` or `target` declaration).
    case input(String)
    /// A trainable tensor, by its checkpoint name (`fc1.weight`).
    case param(String)
    /// A tensor that is not trained but carried from step to step and saved with the
    /// checkpoint (batch normalization's running statistics), by its checkpoint name.
    case state(String)
    /// A scalar literal; its dtype is the node's.
    case constant(Double)

    // MARK: Elementwise (operands broadcast to the result shape)
    /// (x)
    case unary(UnaryOp)
    /// (x) raised to a constant exponent.
    case pow(Double)
    /// (a, b) with NumPy broadcasting.
    case binary(BinaryOp)
    /// (c, a, b): a where c != 0, else b.
    case select

    // MARK: Reductions
    /// (x) reduced over `axes` (sorted, non-negative).
    case reduce(ReduceOp, axes: [Int], keepdim: Bool)
    /// (x) -> f32 scalar: the number of elements of x over `axes` (known only at run time when
    /// an axis is the batch). Used by gradients of means.
    case count(axes: [Int])

    // MARK: Movement
    /// (x) to the node's shape, same element count, row-major order.
    case reshape
    /// (x) 2-D transpose.
    case transpose
    /// (x) broadcast to the node's shape.
    case broadcast
    /// (x) summed down to the node's shape: the inverse of `broadcast`, used by gradients.
    case sumTo
    /// (a, b, ...) joined along `axis`.
    case concat(axis: Int)
    /// (x) the `length` entries from `start` along `axis`; the gradient of `concat`.
    case slice(axis: Int, start: Int, length: Int)

    // MARK: Linear algebra
    /// (a, b) -> op(a) @ op(b), where op transposes the last two axes when its flag is set.
    /// 2-D, or with one batch axis in front of either operand.
    case matmul(transposeA: Bool, transposeB: Bool)
    /// (table, idx) -> rows of table along axis 0; shape idx.shape + table.shape[1...].
    case gather
    /// (idx, updates) -> zeros of the node's shape with updates added at rows idx.
    case scatterAdd

    // MARK: Neural network
    /// (x) along axis.
    case softmax(axis: Int)
    /// (x) along axis.
    case logSoftmax(axis: Int)
    /// (x) -> a mask shaped like x: 0 with probability p, else 1/(1-p), in training; all 1 in
    /// evaluation. Multiplying by it is inverted dropout; the mask is kept for the backward.
    /// `site` numbers the model's dropout calls from 0 in source order: it picks the mask's
    /// random numbers (docs/rng.md, "Dropout"), so it must be unique in a graph.
    case dropoutMask(p: Double, site: Int)
    /// (x) -> i32 index of the first maximum along axis.
    case argmax(axis: Int)
    /// (x) -> f32 mask with 1 at the first maximum along axis, 0 elsewhere; the gradient of
    /// `max` along an axis.
    case maxMask(axis: Int)
    /// (y: i32) -> f32 one-hot rows with `classes` columns.
    case oneHot(classes: Int)

    /// (a, b) -> a in a training step, b in evaluation and prediction: batch statistics
    /// against running statistics. The gradient flows to a only.
    case ifTraining

    // MARK: Convolution and pooling; x is [N, C, H, W], windows are square
    /// (x, w) or (x, w, b) -> [N, O, OH, OW]: the cross-correlation of x, zero-padded by
    /// `padding` on every side, with w [O, C, k, k] at `stride`, plus b [O]; then ReLU when
    /// `relu` (fused by the passes, like `linear`). OH = (H + 2·padding − k) / stride + 1.
    case conv2d(stride: Int, padding: Int, relu: Bool)
    /// (g, w) -> the node's type [N, C, H, W]: the gradient of conv2d's input.
    case conv2dInputGrad(stride: Int, padding: Int)
    /// (x, g) -> the node's type [O, C, k, k]: the gradient of conv2d's weight.
    case conv2dWeightGrad(stride: Int, padding: Int)
    /// (x) -> the maximum of each window; padding cells never win, the first maximal real cell
    /// in row-major order does (a NaN always wins).
    case maxPool2d(Window2d)
    /// (x, g) -> x's type: g routed to each window's winning cell, added up where windows overlap.
    case maxPool2dGrad(Window2d)
    /// (x) -> the mean of each window, zero padding cells counted.
    case avgPool2d(Window2d)
    /// (g) -> the node's type: each window's g spread evenly over its cells.
    case avgPool2dGrad(Window2d)

    // MARK: Losses: (prediction, target) -> f32 scalar, reduced like PyTorch's default
    case loss(LossKind)

    // MARK: Fused ops, made by the optimisation passes (Sources/Passes)
    /// (x, w) or (x, w, b) -> x @ transpose(w) + b, then ReLU when `relu`: a Linear layer (and
    /// its activation) as one node. x is [N, in] (or [B, N, in]), w [out, in], b [out].
    case linear(relu: Bool)
    /// (g, y) -> g where y > 0, else 0: the gradient through a ReLU, masked by its output.
    case reluGrad
    /// (z: f32[N, C], y: i32[N]) -> f32 scalar: the mean over rows of logsumexp(z) - z[y],
    /// which is `nll(log_softmax(z), y)` (and `cross_entropy`) in one pass per row.
    case softmaxCrossEntropy
    /// (z, y, g) -> f32[N, C]: (softmax(z) - one_hot(y)) * g / N, the gradient of the above.
    case softmaxCrossEntropyGrad
}

/// A square pooling window: its size, the step between windows and the padding on each side.
public struct Window2d: Hashable, Sendable {
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(kernel: Int, stride: Int, padding: Int) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// PyTorch's output size along an axis of `size` cells: floor((size + 2p − k) / s) + 1,
    /// or nil when the windows do not fit (the padded input is smaller than the kernel).
    public func outputSize(_ size: Int) -> Int? {
        Window2d.outputSize(size, kernel: kernel, stride: stride, padding: padding)
    }

    public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int? {
        let padded = size + 2 * padding
        guard stride >= 1, kernel >= 1, padding >= 0, padded >= kernel else { return nil }
        return (padded - kernel) / stride + 1
    }
}

/// An elementwise op of one operand. Its raw value is its IR mnemonic and, unless
/// `builtinName` says otherwise, the built-in function that applies it; the generated code
/// calls the scalar helper `dlc_NAME` (codegen/dlc_kernels.h) for one a printer has no
/// special form for.
public enum UnaryOp: String, Hashable, Sendable, CaseIterable {
    case neg, exp, log, sqrt, abs, square, relu, sigmoid, tanh
    /// No gradient.
    case floor, sign
    /// f32 -> i32 toward zero (no gradient), i32 -> f32.
    case toInt = "int", toFloat = "float"

    /// The built-in function that applies it (`exp(x)`); nil for one written otherwise (`-x`)
    /// or made only by the compiler (`sign`, in the gradient of `abs`).
    public var builtinName: String? {
        switch self {
        case .neg, .sign: return nil
        default: return rawValue
        }
    }
}

/// An elementwise op of two broadcast operands; its raw value is its IR mnemonic.
public enum BinaryOp: String, Hashable, Sendable, CaseIterable {
    case add, sub, mul, div
    /// i32 only: floor division and Python's modulo (sign of the divisor).
    case floorDiv = "floordiv", mod
    case maximum, minimum
    /// Comparisons give f32 0/1 and pass no gradient.
    case eq, ne, lt, le, gt, ge

    public var isComparison: Bool {
        switch self {
        case .eq, .ne, .lt, .le, .gt, .ge: return true
        default: return false
        }
    }

    /// The built-in function that applies it (`maximum(a, b)`); nil for one written as an
    /// operator (`a + b`, `a // b`, `a < b`).
    public var builtinName: String? {
        switch self {
        case .add, .sub, .mul, .div, .floorDiv, .mod, .eq, .ne, .lt, .le, .gt, .ge: return nil
        default: return rawValue
        }
    }
}

/// A reduction over axes; its raw value is its IR mnemonic and its built-in function.
public enum ReduceOp: String, Hashable, Sendable, CaseIterable {
    case sum, mean, max
}

/// A loss of (prediction, target); its raw value is its IR mnemonic and its built-in function.
public enum LossKind: String, Hashable, Sendable, CaseIterable {
    /// Mean over all elements.
    case mse, l1, bce, bceLogits = "bce_logits", hinge
    /// (logp: f32[N, C], y: i32[N]) mean over rows of -logp[row, y[row]].
    case nll
}

extension Op {
    /// The name printed in the IR text form and parsed back.
    public var mnemonic: String {
        switch self {
        case .input: return "input"
        case .param: return "param"
        case .state: return "state"
        case .constant: return "constant"
        case .unary(let u): return u.rawValue
        case .pow: return "pow"
        case .binary(let b): return b.rawValue
        case .select: return "where"
        case .reduce(let r, _, _): return r.rawValue
        case .count: return "count"
        case .reshape: return "reshape"
        case .transpose: return "transpose"
        case .broadcast: return "broadcast"
        case .sumTo: return "sum_to"
        case .concat: return "concat"
        case .slice: return "slice"
        case .matmul: return "matmul"
        case .gather: return "gather"
        case .scatterAdd: return "scatter_add"
        case .softmax: return "softmax"
        case .logSoftmax: return "log_softmax"
        case .dropoutMask: return "dropout_mask"
        case .argmax: return "argmax"
        case .maxMask: return "max_mask"
        case .oneHot: return "one_hot"
        case .ifTraining: return "if_training"
        case .conv2d: return "conv2d"
        case .conv2dInputGrad: return "conv2d_input_grad"
        case .conv2dWeightGrad: return "conv2d_weight_grad"
        case .maxPool2d: return "max_pool2d"
        case .maxPool2dGrad: return "max_pool2d_grad"
        case .avgPool2d: return "avg_pool2d"
        case .avgPool2dGrad: return "avg_pool2d_grad"
        case .loss(let l): return l.rawValue
        case .linear: return "linear"
        case .reluGrad: return "relu_grad"
        case .softmaxCrossEntropy: return "softmax_cross_entropy"
        case .softmaxCrossEntropyGrad: return "softmax_cross_entropy_grad"
        }
    }

    /// True for ops whose result carries no gradient to any operand.
    public var isNonDifferentiable: Bool {
        switch self {
        case .unary(.floor), .unary(.sign), .unary(.toInt), .argmax, .maxMask, .oneHot, .count,
             .dropoutMask, .input, .param, .state, .constant:
            return true
        case .binary(let b): return b.isComparison || b == .floorDiv || b == .mod
        default: return false
        }
    }
}
