import DLCIR

/// The `sgd` entry: plain SGD folded into the kernels that compute the gradients, so that a
/// gradient never gets memory of its own and the update costs no extra pass:
///
/// - a weight gradient's GEMM writes into the weight: alpha = −lr, beta = 1 (C = W);
/// - an elementwise loop computing a gradient becomes `p = p − lr·(its expression)`.
///
/// A sum (a bias gradient) is not folded: subtracting each of its terms from the param would
/// round once per term (a convolution's bias sums N·OH·OW of them, which in exact arithmetic
/// may cancel to zero), so it is summed first and its update is a loop over the bias at the end.
///
/// A fold happens only when every other read of the param comes earlier in the step (the GEMM
/// for the layer's input gradient reads the weight first) and nothing else reads the gradient.
/// Otherwise the update is a loop at the end of the step, after every read.
enum SGDUpdates {
    struct Update {
        var param: BufferID
        var gradient: Operand
    }

    static func fold(_ e: inout Entry, _ updates: [Update]) {
        var atEnd: [Kernel] = []
        // A gradient shared by several params (w = w1 + w2) is read by each update: never folded.
        var sharers: [BufferID: Int] = [:]
        for u in updates { if case .buffer(let g, _) = u.gradient { sharers[e.root(g), default: 0] += 1 } }
        for u in updates {
            if case .buffer(let g, _) = u.gradient, sharers[e.root(g)] == 1,
               foldInPlace(&e, param: u.param, gradient: g) { continue }
            let p = e.buffer(u.param)
            let dims = p.type.shape.dims.map(Affine.init)
            let contiguous = p.type.shape.affineStrides
            var gradient = u.gradient
            if case .buffer(let g, _) = gradient { gradient = .buffer(g, strides: contiguous) }
            atEnd.append(Kernel(.elementwise(ElementwiseKernel(
                output: u.param, shape: dims, operands: [.buffer(u.param, strides: contiguous), gradient, .learningRate],
                expr: .binary(.sub, .operand(0), .binary(.mul, .operand(2), .operand(1))), computeType: .f32)), node: p.value))
        }
        e.kernels += atEnd
    }

    /// Rewrites the kernel that computes `gradient` to update `param` instead; false if unsafe.
    static func foldInPlace(_ e: inout Entry, param: BufferID, gradient: BufferID) -> Bool {
        let w = e.root(param)
        guard let k = e.kernels.firstIndex(where: { $0.body.access.writes.contains(gradient) }) else { return false }
        // Nothing but kernel k reads the gradient, and every read of the param is earlier.
        for (i, kernel) in e.kernels.enumerated() {
            let reads = Set(kernel.body.access.reads.map { e.root($0) })
            if i != k && reads.contains(e.root(gradient)) { return false }
            if i >= k && reads.contains(w) { return false }
        }
        guard !e.buffers.contains(where: { b in if case .alias = b.storage { return e.root(b.id) == e.root(gradient) }; return false })
        else { return false }
        switch e.kernels[k].body {
        case .gemm(var g) where g.c == gradient && g.beta == 0 && g.batch == .one:
            g.c = param
            g.beta = 1
            g.alphaIsNegativeLearningRate = true
            e.kernels[k].body = .gemm(g)
            return true
        case .elementwise(var x) where x.output == gradient && x.reductions.isEmpty:
            let base = x.operands.count
            x.operands += [.buffer(param, strides: e.buffer(param).type.shape.affineStrides), .learningRate]
            x.expr = .binary(.sub, .operand(base), .binary(.mul, .operand(base + 1), x.expr))
            x.output = param
            e.kernels[k].body = .elementwise(x)
            return true
        default:
            return false
        }
    }
}
