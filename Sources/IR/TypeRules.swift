/// The typing rule of every op: given the operands' types, the result type, or why there is none.
///
/// This is the single source of truth for shapes and dtypes: Sema calls it to type the user's
/// program (and reports its message at the failing operator), the verifier re-checks every node
/// with it, and the AD pass uses it to type the nodes it builds.
public enum TypeRules {
    /// Why an op cannot be applied to its operands. The message names the types involved but not
    /// the op (the caller knows the op's surface spelling).
    public struct Failure: Error, Equatable {
        public let message: String
        public init(_ message: String) { self.message = message }
    }

    /// The result type of `op` on `operands`. Ops whose result shape is not determined by their
    /// operands (leaves, `reshape`, `broadcast`, `sum_to`, `scatter_add`) take it as `declared`
    /// and are checked against it.
    public static func resultType(of op: Op, operands: [TensorType],
                                  declared: TensorType? = nil) throws -> TensorType {
        func need(_ n: Int) throws {
            if operands.count != n {
                throw Failure("expects \(n) operand\(n == 1 ? "" : "s"), got \(operands.count)")
            }
        }
        func requireDeclared() throws -> TensorType {
            guard let d = declared else { throw Failure("needs a declared result type") }
            return d
        }
        switch op {
        case .input, .param, .state:
            try need(0)
            return try requireDeclared()
        case .constant:
            try need(0)
            let d = try requireDeclared()
            guard d.isScalar else { throw Failure("a constant is a scalar, not \(d)") }
            return d

        case .unary(let u):
            try need(1)
            return try unaryType(u, operands[0])
        case .pow:
            try need(1)
            try requireF32(operands[0])
            return operands[0]
        case .binary(let b):
            try need(2)
            return try binaryType(b, operands[0], operands[1])
        case .select:
            try need(3)
            let (c, a, b) = (operands[0], operands[1], operands[2])
            guard a.dtype == b.dtype else { throw mixFailure(a, b) }
            guard let ab = Shape.broadcast(a.shape, b.shape), let all = Shape.broadcast(c.shape, ab) else {
                throw Failure("condition and branches do not broadcast: \(c), \(a) and \(b)")
            }
            return TensorType(a.dtype, all)

        case .reduce(let r, let axes, let keepdim):
            try need(1)
            let x = operands[0]
            if r == .mean { try requireF32(x) }
            try checkAxes(axes, rank: x.rank)
            return TensorType(x.dtype, reducedShape(x.shape, axes: axes, keepdim: keepdim))
        case .count(let axes):
            try need(1)
            try checkAxes(axes, rank: operands[0].rank)
            return .f32Scalar

        case .reshape:
            try need(1)
            let d = try requireDeclared()
            let x = operands[0]
            guard d.dtype == x.dtype, d.shape.hasBatch == x.shape.hasBatch,
                  d.shape.fixedElementCount == x.shape.fixedElementCount,
                  d.shape.dims.filter({ $0 == .batch }).count <= 1 else {
                throw Failure("cannot reshape \(x) to \(d.shape): the element counts differ")
            }
            return d
        case .transpose:
            try need(1)
            let x = operands[0]
            guard x.rank == 2 else { throw Failure("transpose needs a 2-D tensor, got \(x)") }
            return x.with(shape: Shape([x.shape.dims[1], x.shape.dims[0]]))
        case .broadcast:
            try need(1)
            let d = try requireDeclared()
            guard d.dtype == operands[0].dtype, operands[0].shape.broadcasts(to: d.shape) else {
                throw Failure("cannot broadcast \(operands[0]) to \(d.shape)")
            }
            return d
        case .sumTo:
            try need(1)
            let d = try requireDeclared()
            guard d.dtype == operands[0].dtype, d.shape.broadcasts(to: operands[0].shape) else {
                throw Failure("cannot sum \(operands[0]) down to \(d.shape)")
            }
            return d
        case .concat(let axis):
            return try concatType(axis, operands)
        case .slice(let axis, let start, let length):
            try need(1)
            let x = operands[0]
            try checkAxes([axis], rank: x.rank)
            guard case .fixed(let size) = x.shape.dims[axis], start >= 0, length >= 1,
                  start + length <= size else {
                throw Failure("slice \(start)..<\(start + length) out of range of axis \(axis) of \(x)")
            }
            var dims = x.shape.dims
            dims[axis] = .fixed(length)
            return x.with(shape: Shape(dims))

        case .matmul(let ta, let tb):
            try need(2)
            return try matmulType(operands[0], operands[1], transposeA: ta, transposeB: tb)
        case .gather:
            try need(2)
            let (table, idx) = (operands[0], operands[1])
            guard idx.dtype == .i32 else { throw Failure("an index must be i32, got \(idx)") }
            guard table.rank >= 1 else { throw Failure("cannot index the scalar \(table)") }
            let dims = idx.shape.dims + table.shape.dims.dropFirst()
            guard dims.filter({ $0 == .batch }).count <= 1 else {
                throw Failure("indexing \(table) with \(idx) would hold the batch twice")
            }
            return TensorType(table.dtype, Shape(dims))
        case .scatterAdd:
            try need(2)
            let d = try requireDeclared()
            let (idx, updates) = (operands[0], operands[1])
            guard idx.dtype == .i32, d.rank >= 1,
                  updates.shape.dims == idx.shape.dims + d.shape.dims.dropFirst(),
                  updates.dtype == d.dtype else {
                throw Failure("cannot scatter \(updates) at \(idx) into \(d)")
            }
            return d

        case .softmax(let axis), .logSoftmax(let axis):
            try need(1)
            try requireF32(operands[0])
            try checkAxes([axis], rank: operands[0].rank)
            return operands[0]
        case .dropoutMask(let p, let site):
            try need(1)
            try requireF32(operands[0])
            guard p >= 0, p < 1 else { throw Failure("dropout probability \(p) is not in [0, 1)") }
            guard site >= 0 else { throw Failure("dropout site \(site) is negative") }
            return operands[0]
        case .argmax(let axis):
            try need(1)
            try checkAxes([axis], rank: operands[0].rank)
            return TensorType(.i32, reducedShape(operands[0].shape, axes: [axis], keepdim: false))
        case .maxMask(let axis):
            try need(1)
            try requireF32(operands[0])
            try checkAxes([axis], rank: operands[0].rank)
            return operands[0]
        case .oneHot(let classes):
            try need(1)
            guard operands[0].dtype == .i32 else { throw Failure("one_hot needs i32 labels, got \(operands[0])") }
            guard classes >= 1 else { throw Failure("one_hot needs at least one class") }
            return TensorType(.f32, Shape(operands[0].shape.dims + [.fixed(classes)]))

        case .ifTraining:
            try need(2)
            guard operands[0] == operands[1] else {
                throw Failure("the training and evaluation values must have one type, got \(operands[0]) and \(operands[1])")
            }
            return operands[0]

        case .conv2d(let stride, let padding, _):
            guard operands.count == 2 || operands.count == 3 else {
                throw Failure("expects 2 or 3 operands, got \(operands.count)")
            }
            let y = try conv2dType(operands[0], operands[1], stride: stride, padding: padding)
            if operands.count == 3 {
                guard operands[2].dtype == .f32, operands[2].rank == 1, operands[2].shape.dims[0] == y.shape.dims[1] else {
                    throw Failure("the bias must be f32[\(y.shape.dims[1])], got \(operands[2])")
                }
            }
            return y
        case .conv2dInputGrad(let stride, let padding):
            try need(2)
            let d = try requireDeclared()
            guard try conv2dType(d, operands[1], stride: stride, padding: padding) == operands[0] else {
                throw Failure("\(operands[0]) is not the output of a convolution of \(d) with \(operands[1])")
            }
            return d
        case .conv2dWeightGrad(let stride, let padding):
            try need(2)
            let d = try requireDeclared()
            guard try conv2dType(operands[0], d, stride: stride, padding: padding) == operands[1] else {
                throw Failure("\(operands[1]) is not the output of a convolution of \(operands[0]) with \(d)")
            }
            return d
        case .maxPool2d(let w), .avgPool2d(let w):
            try need(1)
            return try pool2dType(operands[0], w)
        case .maxPool2dGrad(let w):
            try need(2)
            guard try pool2dType(operands[0], w) == operands[1] else {
                throw Failure("\(operands[1]) is not the output of pooling \(operands[0])")
            }
            return operands[0]
        case .avgPool2dGrad(let w):
            try need(1)
            let d = try requireDeclared()
            guard try pool2dType(d, w) == operands[0] else {
                throw Failure("\(operands[0]) is not the output of pooling \(d)")
            }
            return d

        case .loss(let kind):
            try need(2)
            return try lossType(kind, operands[0], operands[1])

        case .linear:
            guard operands.count == 2 || operands.count == 3 else {
                throw Failure("expects 2 or 3 operands, got \(operands.count)")
            }
            let y = try matmulType(operands[0], operands[1], transposeA: false, transposeB: true)
            if operands.count == 3 {
                guard operands[2].dtype == .f32, operands[2].rank == 1, operands[2].shape.dims.last == y.shape.dims.last else {
                    throw Failure("the bias must be f32[\(y.shape.dims.last!)], got \(operands[2])")
                }
            }
            return y
        case .reluGrad:
            try need(2)
            guard operands[0] == operands[1], operands[0].dtype == .f32 else {
                throw Failure("needs a gradient and a ReLU output of one f32 type, got \(operands[0]) and \(operands[1])")
            }
            return operands[0]
        case .softmaxCrossEntropy:
            try need(2)
            return try lossType(.nll, operands[0], operands[1])
        case .softmaxCrossEntropyGrad:
            try need(3)
            _ = try lossType(.nll, operands[0], operands[1])
            guard operands[2] == .f32Scalar else { throw Failure("the incoming gradient must be an f32 scalar, got \(operands[2])") }
            return operands[0]
        }
    }

    // MARK: - Helpers

    /// A shape with `axes` removed, or set to 1 with `keepdim`.
    public static func reducedShape(_ s: Shape, axes: [Int], keepdim: Bool) -> Shape {
        Shape(s.dims.enumerated().compactMap { i, d in
            axes.contains(i) ? (keepdim ? .fixed(1) : nil) : d
        })
    }

    static func checkAxes(_ axes: [Int], rank: Int) throws {
        for a in axes where a < 0 || a >= max(rank, 1) || (rank == 0) {
            throw Failure("axis \(a) is out of range for a tensor of rank \(rank)")
        }
        guard Set(axes).count == axes.count, axes == axes.sorted() else {
            throw Failure("axes \(axes) must be distinct and sorted")
        }
    }

    static func requireF32(_ t: TensorType) throws {
        guard t.dtype == .f32 else { throw Failure("needs f32, got \(t); use float(...) to convert") }
    }

    static func mixFailure(_ a: TensorType, _ b: TensorType) -> Failure {
        Failure("i32 and f32 never mix implicitly: \(a) and \(b); use float(i) or int(x)")
    }

    static func unaryType(_ u: UnaryOp, _ x: TensorType) throws -> TensorType {
        switch u {
        case .neg:
            return x
        case .toInt:
            try requireF32(x)
            return x.with(dtype: .i32)
        case .toFloat:
            guard x.dtype == .i32 else { throw Failure("float() converts i32, got \(x)") }
            return x.with(dtype: .f32)
        default:
            try requireF32(x)
            return x
        }
    }

    static func binaryType(_ b: BinaryOp, _ x: TensorType, _ y: TensorType) throws -> TensorType {
        guard x.dtype == y.dtype else { throw mixFailure(x, y) }
        switch b {
        case .div where x.dtype == .i32:
            throw Failure("'/' is for f32, got \(x) and \(y); use '//' for integer division")
        case .floorDiv where x.dtype == .f32, .mod where x.dtype == .f32:
            throw Failure("'//' and '%' are for i32, got \(x) and \(y); use floor(a / b)")
        default: break
        }
        guard let shape = Shape.broadcast(x.shape, y.shape) else {
            throw Failure("shapes \(x) and \(y) do not broadcast")
        }
        return TensorType(b.isComparison ? .f32 : x.dtype, shape)
    }

    static func concatType(_ axis: Int, _ operands: [TensorType]) throws -> TensorType {
        guard let first = operands.first else { throw Failure("concat needs at least one tensor") }
        try checkAxes([axis], rank: first.rank)
        var total = 0
        for t in operands {
            guard t.dtype == first.dtype else { throw mixFailure(first, t) }
            guard t.rank == first.rank else {
                throw Failure("concat needs tensors of the same rank, got \(first) and \(t)")
            }
            for (i, (a, b)) in zip(first.shape.dims, t.shape.dims).enumerated() where i != axis && a != b {
                throw Failure("concat along axis \(axis) needs equal sizes on the other axes, got \(first) and \(t)")
            }
            guard case .fixed(let n) = t.shape.dims[axis] else {
                throw Failure("cannot concat along the batch axis of \(t)")
            }
            total += n
        }
        var dims = first.shape.dims
        dims[axis] = .fixed(total)
        return first.with(shape: Shape(dims))
    }

    static func matmulType(_ a: TensorType, _ b: TensorType, transposeA: Bool,
                           transposeB: Bool) throws -> TensorType {
        guard a.dtype == .f32, b.dtype == .f32 else {
            throw Failure("matrix product needs f32 operands, got \(a) and \(b)")
        }
        guard (2...3).contains(a.rank), (2...3).contains(b.rank) else {
            throw Failure("matrix product needs 2-D operands (one batch axis in front allowed), got \(a) and \(b)")
        }
        func matrix(_ t: TensorType, _ transposed: Bool) -> (lead: [Dim], rows: Dim, cols: Dim) {
            let d = t.shape.dims
            let (r, c) = (d[d.count - 2], d[d.count - 1])
            return (Array(d.dropLast(2)), transposed ? c : r, transposed ? r : c)
        }
        let ma = matrix(a, transposeA), mb = matrix(b, transposeB)
        guard ma.cols == mb.rows else {
            throw Failure("inner dimensions differ: \(a) @ \(b) (\(ma.cols) vs \(mb.rows))")
        }
        var lead = ma.lead
        if !mb.lead.isEmpty {
            if lead.isEmpty { lead = mb.lead }
            else if lead != mb.lead {
                throw Failure("batch axes differ: \(a) @ \(b)")
            }
        }
        let dims = lead + [ma.rows, mb.cols]
        guard dims.filter({ $0 == .batch }).count <= 1 else {
            throw Failure("the product \(a) @ \(b) would hold the batch twice")
        }
        return TensorType(.f32, Shape(dims))
    }

    /// An image batch [N, C, H, W]: f32, four axes, fixed sizes after the first.
    static func requireImages(_ x: TensorType, _ what: String) throws -> (channels: Int, height: Int, width: Int) {
        guard x.dtype == .f32, x.rank == 4 else { throw Failure("\(what) needs f32[N, C, H, W], got \(x)") }
        let d = x.shape.dims
        guard let c = d[1].fixedSize, let h = d[2].fixedSize, let w = d[3].fixedSize else {
            throw Failure("\(what) needs the batch as the first axis of f32[N, C, H, W], got \(x)")
        }
        return (c, h, w)
    }

    /// The output of a convolution of x [N, C, H, W] with w [O, C, k, k]; PyTorch's sizes.
    public static func conv2dType(_ x: TensorType, _ w: TensorType, stride: Int, padding: Int) throws -> TensorType {
        let (c, h, wd) = try requireImages(x, "a convolution")
        guard w.dtype == .f32, w.rank == 4, let o = w.shape.dims[0].fixedSize, let wc = w.shape.dims[1].fixedSize,
              let k = w.shape.dims[2].fixedSize, w.shape.dims[3] == .fixed(k) else {
            throw Failure("the weight must be f32[O, C, k, k] (a square kernel), got \(w)")
        }
        guard wc == c else {
            throw Failure("the input has \(c) channel\(c == 1 ? "" : "s") but the weight \(w) expects \(wc)")
        }
        try checkWindow(kernel: k, stride: stride, padding: padding, height: h, width: wd, pooling: false)
        let oh = Window2d.outputSize(h, kernel: k, stride: stride, padding: padding)!
        let ow = Window2d.outputSize(wd, kernel: k, stride: stride, padding: padding)!
        return TensorType(.f32, Shape([x.shape.dims[0], .fixed(o), .fixed(oh), .fixed(ow)]))
    }

    /// The output of pooling x [N, C, H, W] with window `w`.
    public static func pool2dType(_ x: TensorType, _ w: Window2d) throws -> TensorType {
        let (_, h, wd) = try requireImages(x, "pooling")
        try checkWindow(kernel: w.kernel, stride: w.stride, padding: w.padding, height: h, width: wd, pooling: true)
        return TensorType(.f32, Shape([x.shape.dims[0], x.shape.dims[1], .fixed(w.outputSize(h)!), .fixed(w.outputSize(wd)!)]))
    }

    /// kernel >= 1, stride >= 1, padding >= 0 (at most half the kernel for pooling, as in
    /// PyTorch), and a kernel no larger than the padded input.
    static func checkWindow(kernel: Int, stride: Int, padding: Int, height: Int, width: Int, pooling: Bool) throws {
        guard kernel >= 1 else { throw Failure("the kernel size must be at least 1, got \(kernel)") }
        guard stride >= 1 else { throw Failure("the stride must be at least 1, got \(stride)") }
        guard padding >= 0 else { throw Failure("the padding must be at least 0, got \(padding)") }
        if pooling && 2 * padding > kernel {
            throw Failure("the padding \(padding) is over half the kernel size \(kernel)")
        }
        guard kernel <= height + 2 * padding, kernel <= width + 2 * padding else {
            let padded = padding == 0 ? "" : " padded by \(padding) to \(height + 2 * padding)x\(width + 2 * padding)"
            throw Failure("the kernel \(kernel)x\(kernel) does not fit the input \(height)x\(width)\(padded): the output would be empty")
        }
    }

    static func lossType(_ kind: LossKind, _ p: TensorType, _ y: TensorType) throws -> TensorType {
        switch kind {
        case .nll:
            guard p.dtype == .f32, p.rank == 2 else {
                throw Failure("needs log-probabilities f32[N, C], got \(p)")
            }
            guard y.dtype == .i32, y.rank == 1, y.shape.dims[0] == p.shape.dims[0] else {
                throw Failure("needs i32 class labels of shape [\(p.shape.dims[0])], got \(y)")
            }
        default:
            guard p.dtype == .f32, y.dtype == .f32 else {
                throw Failure("needs f32 prediction and target, got \(p) and \(y)")
            }
            guard p.shape == y.shape else {
                throw Failure("prediction and target must have the same shape, got \(p) and \(y)")
            }
        }
        return .f32Scalar
    }
}

extension Graph {
    /// Appends a node whose type follows from its operands (see `TypeRules`). Used by passes
    /// that build IR; a failure here is a compiler bug, reported as such.
    @discardableResult
    public mutating func emit(_ op: Op, _ operands: [ValueID], declared: TensorType? = nil,
                              name: String? = nil) -> ValueID {
        do {
            let type = try TypeRules.resultType(of: op, operands: operands.map { self.type(of: $0) },
                                                declared: declared)
            return add(op, operands, type: type, name: name)
        } catch let f as TypeRules.Failure {
            fatalError("internal error: ill-typed \(op.mnemonic): \(f.message)")
        } catch {
            fatalError("internal error: \(error)")
        }
    }
}
