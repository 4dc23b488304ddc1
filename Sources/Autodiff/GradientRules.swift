import DLCIR

// The gradient rule of every op, in one table.
//
// Notation: y is the node's result, x (or a, b, ...) its operands, g the gradient of the loss
// with respect to y (y's shape). A rule returns the gradient of each operand, nil for an
// operand that gets none (a zero gradient); operands that `wants` rejects are not computed.
// Gradients of broadcast operands are summed back to the operand's shape (`unbroadcast`).
// Values of the forward pass (y, x) are reused, never recomputed.

enum GradientRules {
    /// Whether the gradient of `op`'s result flows to operand `i`. The flow analysis also
    /// requires that operand and result are f32: i32 values carry no gradient.
    static func passesGradient(_ op: Op, toOperand i: Int) -> Bool {
        if op.isNonDifferentiable { return false }
        switch op {
        case .binary(let b): return [.add, .sub, .mul, .div, .maximum, .minimum].contains(b)
        case .select: return i != 0          // not to the condition
        case .gather: return i == 0          // to the table, not the indices
        case .scatterAdd: return i == 1      // to the updates, not the indices
        case .loss(.nll), .softmaxCrossEntropy: return i == 0      // the labels are i32
        case .ifTraining: return i == 0      // the training value; running statistics get none
        case .softmaxCrossEntropyGrad, .reluGrad, .conv2dInputGrad, .conv2dWeightGrad, .maxPool2dGrad,
             .avgPool2dGrad:
            return false                                                // second derivatives: not needed
        default: return true
        }
    }
}

extension GradientBuilder {
    /// The gradients of `node`'s operands, given `g`, the gradient of its result.
    mutating func pullback(_ node: Node, _ g: ValueID, wants: (Int) -> Bool) -> [ValueID?] {
        origin = node.id
        defer { origin = nil }
        let y = node.id, xs = node.operands
        let x = xs.first ?? y
        let none = [ValueID?](repeating: nil, count: xs.count)
        switch node.op {
        // MARK: Elementwise
        case .unary(.neg):       return [neg(g)]                                       // -g
        case .unary(.exp):       return [mul(g, y)]                                    // g·y
        case .unary(.log):       return [div(g, x)]                                    // g/x
        case .unary(.sqrt):      return [div(g, scale(y, by: 2))]                      // g/(2y)
        case .unary(.abs):       return [mul(g, unary(.sign, x))]                      // g·sign(x); 0 at 0
        case .unary(.square):    return [mul(g, scale(x, by: 2))]                      // 2x·g
        case .unary(.relu):      return [mul(g, binary(.gt, x, constant(0)))]          // g·(x > 0); relu'(0) = 0
        case .unary(.sigmoid):   return [mul(g, mul(y, sub(constant(1), y)))]          // g·y(1-y)
        case .unary(.tanh):      return [mul(g, sub(constant(1), unary(.square, y)))]  // g(1-y²)
        case .pow(let c):                                                              // g·c·x^(c-1)
            switch c {
            case 0: return [nil]
            case 1: return [g]
            case 2: return [mul(g, scale(x, by: 2))]
            default: return [mul(g, scale(op(.pow(c - 1), [x]), by: c))]
            }
        case .binary(.add):                                                            // g, g
            return [wants(0) ? unbroadcast(g, like: xs[0]) : nil,
                    wants(1) ? unbroadcast(g, like: xs[1]) : nil]
        case .binary(.sub):                                                            // g, -g
            return [wants(0) ? unbroadcast(g, like: xs[0]) : nil,
                    wants(1) ? neg(unbroadcast(g, like: xs[1])) : nil]
        case .binary(.mul):                                                            // g·b, g·a
            return [wants(0) ? unbroadcast(mul(g, xs[1]), like: xs[0]) : nil,
                    wants(1) ? unbroadcast(mul(g, xs[0]), like: xs[1]) : nil]
        case .binary(.div):                                                            // g/b, -g·a/b² = -(g/b)·y
            let gOverB = div(g, xs[1])
            return [wants(0) ? unbroadcast(gOverB, like: xs[0]) : nil,
                    wants(1) ? neg(unbroadcast(mul(gOverB, y), like: xs[1])) : nil]
        case .binary(let b) where b == .maximum || b == .minimum:
            // g to the larger (smaller) operand; ties split ½/½ as in PyTorch
            return extremumPullback(b, xs[0], xs[1], g, wants)
        case .select:                                                                  // g to the chosen branch
            let (c, a, b) = (xs[0], xs[1], xs[2])
            return [nil,
                    wants(1) ? unbroadcast(op(.select, [c, g, constant(0)]), like: a) : nil,
                    wants(2) ? unbroadcast(op(.select, [c, constant(0), g]), like: b) : nil]

        // MARK: Reductions
        case .reduce(_, let axes, _) where axes.isEmpty:                               // the identity
            return [g]
        case .reduce(.sum, let axes, _):                                               // g broadcast back
            return [broadcast(keepdims(g, reducing: x, over: axes), to: shape(x))]
        case .reduce(.mean, let axes, _):                                              // g/count broadcast back
            let share = div(keepdims(g, reducing: x, over: axes), elementCount(x, axes: axes))
            return [broadcast(share, to: shape(x))]
        case .reduce(.max, let axes, _) where axes.count == 1 && shape(x).rank > 1:
            // along one axis: g to the first maximal index
            return [mul(op(.maxMask(axis: axes[0]), [x]), keepdims(g, reducing: x, over: axes))]
        case .reduce(.max, let axes, _):
            // over all elements or several axes: g shared evenly among the ties,
            // mask = (x == max), g·mask/Σmask
            let mask = binary(.eq, x, keepdims(y, reducing: x, over: axes))
            let ties = op(.reduce(.sum, axes: axes, keepdim: true), [mask])
            return [mul(mask, div(keepdims(g, reducing: x, over: axes), ties))]

        // MARK: Movement
        case .reshape:   return [reshape(g, to: shape(x))]                            // reshaped back
        case .transpose: return [op(.transpose, [g])]                                 // transposed back
        case .broadcast: return [sumTo(g, shape(x))]                                  // summed back
        case .sumTo:     return [broadcast(g, to: shape(x))]                          // broadcast back
        case .concat(let axis):                                                       // g sliced per operand
            var grads = [ValueID?](), start = 0
            for (i, xi) in xs.enumerated() {
                let length = shape(xi).dims[axis].fixedSize!
                grads.append(wants(i) ? slice(g, axis: axis, start: start, length: length) : nil)
                start += length
            }
            return grads
        case .slice(let axis, let start, _):                                          // g padded with zeros
            return [pad(g, to: shape(x), axis: axis, start: start)]

        // MARK: Linear algebra
        case .matmul(let ta, let tb):
            // y = op(a)·op(b): da = g·op(b)ᵀ, or op(b)·gᵀ if a is transposed;
            // db = op(a)ᵀ·g, or gᵀ·op(a) if b is transposed. A 2-D operand of a batched
            // product is used by every batch entry: its gradient is summed over the batch axis.
            let (a, b) = (xs[0], xs[1])
            let da = !wants(0) ? nil : ta ? matmul(b, g, tb, true) : matmul(g, b, false, !tb)
            let db = !wants(1) ? nil : tb ? matmul(g, a, true, ta) : matmul(a, g, !ta, false)
            return [da.map { unbroadcast($0, like: a) }, db.map { unbroadcast($0, like: b) }]
        case .gather:                                                                  // g added at rows idx
            return [op(.scatterAdd, [xs[1], g], declared: type(xs[0])), nil]
        case .scatterAdd:                                                              // rows idx of g
            return [nil, op(.gather, [g, xs[0]])]

        // MARK: Neural network
        case .softmax(let axis):                                                       // y·(g - Σ g·y)
            let s = op(.reduce(.sum, axes: [axis], keepdim: true), [mul(g, y)])
            return [mul(y, sub(g, s))]
        case .logSoftmax(let axis):                                                    // g - exp(y)·Σ g
            let s = op(.reduce(.sum, axes: [axis], keepdim: true), [g])
            return [sub(g, mul(unary(.exp, y), s))]
        case .loss(let kind):
            return lossPullback(kind, xs[0], xs[1], g, wants)

        // MARK: Fused ops (the passes fuse the forward graph, then differentiate it)
        case .linear(let relu):
            // y = act(x·wᵀ + b): dz = g masked by y > 0 (ReLU) or g; db = Σ_rows dz;
            // dw = dzᵀ·x; dx = dz·w.
            let dz = relu ? op(.reluGrad, [g, y]) : g
            let dx = wants(0) ? matmul(dz, xs[1], false, false) : nil
            let dw = wants(1) ? unbroadcast(matmul(dz, xs[0], true, false), like: xs[1]) : nil
            let db = xs.count == 3 && wants(2) ? unbroadcast(dz, like: xs[2]) : nil
            return xs.count == 3 ? [dx, dw, db] : [dx, dw]
        case .ifTraining:                                                              // g to the training value
            return [g, nil]

        // MARK: Convolution and pooling
        case .conv2d(let stride, let padding, let relu):
            // y = act(conv(x, w) + b): dz = g masked by y > 0 (ReLU) or g; dx is the transposed
            // convolution of dz with w, dw the correlation of x with dz, db = Σ dz over N, H, W.
            let dz = relu ? op(.reluGrad, [g, y]) : g
            let dx = wants(0) ? op(.conv2dInputGrad(stride: stride, padding: padding), [dz, xs[1]], declared: type(xs[0])) : nil
            let dw = wants(1) ? op(.conv2dWeightGrad(stride: stride, padding: padding), [xs[0], dz], declared: type(xs[1])) : nil
            let db = xs.count == 3 && wants(2) ? op(.reduce(.sum, axes: [0, 2, 3], keepdim: false), [dz]) : nil
            return xs.count == 3 ? [dx, dw, db] : [dx, dw]
        case .maxPool2d(let w):                                                        // g to each window's winner
            return [op(.maxPool2dGrad(w), [x, g])]
        case .avgPool2d(let w):                                                        // g/k² to each cell of the window
            return [op(.avgPool2dGrad(w), [g], declared: type(x))]

        case .softmaxCrossEntropy:                                                     // (softmax(z) - onehot(y))·g/N
            return [op(.softmaxCrossEntropyGrad, [xs[0], xs[1], g]), nil]
        case .reluGrad, .softmaxCrossEntropyGrad, .conv2dInputGrad, .conv2dWeightGrad, .maxPool2dGrad,
             .avgPool2dGrad:
            return none

        // MARK: No gradient
        case .input, .param, .state, .constant, .count, .dropoutMask, .argmax, .maxMask, .oneHot,
             .unary(.floor), .unary(.sign), .unary(.toInt), .unary(.toFloat), .binary:
            // dropout_mask: the mask is kept, and the `mul` by it carries the gradient
            return none
        }
    }

    /// maximum (minimum): the share of g that goes to `p` against `q` is 1 where p wins, ½ at
    /// a tie and 0 where it loses: ½·((p ≥ q) + (p > q)) (≤ and < for minimum).
    private mutating func extremumPullback(_ b: BinaryOp, _ p: ValueID, _ q: ValueID, _ g: ValueID,
                                           _ wants: (Int) -> Bool) -> [ValueID?] {
        let (orEqual, strict): (BinaryOp, BinaryOp) = b == .maximum ? (.ge, .gt) : (.le, .lt)
        func share(_ u: ValueID, over v: ValueID) -> ValueID {
            scale(add(binary(orEqual, u, v), binary(strict, u, v)), by: 0.5)
        }
        switch (wants(0), wants(1)) {
        case (true, true):
            let gp = mul(g, share(p, over: q))
            return [unbroadcast(gp, like: p), unbroadcast(sub(g, gp), like: q)]  // the rest to q
        case (true, false): return [unbroadcast(mul(g, share(p, over: q)), like: p), nil]
        case (false, true): return [nil, unbroadcast(mul(g, share(q, over: p)), like: q)]
        case (false, false): return [nil, nil]
        }
    }

    /// Losses of prediction p and target t, averaged over n elements (rows for nll), with
    /// their gradients as PyTorch computes them. Targets that depend on a param get theirs too.
    private mutating func lossPullback(_ kind: LossKind, _ p: ValueID, _ t: ValueID, _ g: ValueID,
                                       _ wants: (Int) -> Bool) -> [ValueID?] {
        let all = Array(0..<shape(p).rank)
        func factor(_ k: Double) -> ValueID { lossFactor(g, k, count: p, axes: kind == .nll ? [0] : all) }
        switch kind {
        case .mse:                                            // 2(p-t)/n·g; -that for t
            let gp = mul(sub(p, t), factor(2))
            return [wants(0) ? gp : nil, wants(1) ? neg(gp) : nil]
        case .l1:                                             // sign(p-t)/n·g; -that for t
            let gp = mul(unary(.sign, sub(p, t)), factor(1))
            return [wants(0) ? gp : nil, wants(1) ? neg(gp) : nil]
        case .bce:
            // (p-t)/max(p(1-p), 1e-12)/n·g; for t: (log(1-p) - log p)/n·g, each log clamped at -100
            func clampedLog(_ v: ValueID) -> ValueID { binary(.maximum, unary(.log, v), constant(-100)) }
            let oneMinusP = sub(constant(1), p)
            let gp = !wants(0) ? nil : mul(div(sub(p, t), binary(.maximum, mul(p, oneMinusP), constant(1e-12))),
                                          factor(1))
            let gt = !wants(1) ? nil : mul(sub(clampedLog(oneMinusP), clampedLog(p)), factor(1))
            return [gp, gt]
        case .bceLogits:                                      // (sigmoid(z)-t)/n·g; -z/n·g for t
            return [wants(0) ? mul(sub(unary(.sigmoid, p), t), factor(1)) : nil,
                    wants(1) ? mul(p, factor(-1)) : nil]
        case .hinge:                                          // -t·[1-t·s > 0]/n·g; -s·[...]/n·g for t
            let active = binary(.gt, sub(constant(1), mul(t, p)), constant(0))
            return [wants(0) ? mul(mul(t, active), factor(-1)) : nil,
                    wants(1) ? mul(mul(p, active), factor(-1)) : nil]
        case .nll:                                            // -one_hot(t, C)/rows·g
            let classes = shape(p).dims[1].fixedSize!
            return [mul(op(.oneHot(classes: classes), [t]), factor(-1)), nil]
        }
    }

    private mutating func matmul(_ a: ValueID, _ b: ValueID, _ ta: Bool, _ tb: Bool) -> ValueID {
        op(.matmul(transposeA: ta, transposeB: tb), [a, b])
    }
}
