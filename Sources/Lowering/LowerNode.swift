import DLCIR

/// One IR node to kernels: the lowering rule of each op, in one switch.
extension EntryLowering {
    mutating func lowerNode(_ n: Node) throws {
        let v = n.id
        let shape = n.type.shape
        let count = shape.affineCount

        /// A fresh arena buffer for this node's result.
        func result(_ l: inout EntryLowering) -> BufferID {
            let b = l.newBuffer(v, .arena(offset: .zero))
            l.values[v] = .buffer(b)
            return b
        }

        switch n.op {
        case .input(let name):
            values[v] = .buffer(newBuffer(v, .data(graph.data.firstIndex { $0.name == name }!)))
        case .param(let name):
            values[v] = .buffer(newBuffer(v, .param(graph.params.firstIndex { $0.name == name }!)))
        case .state(let name):
            values[v] = .buffer(newBuffer(v, .state(graph.state.firstIndex { $0.name == name }!)))
        case .constant(let x):
            values[v] = .immediate(x)
        case .count(let axes):
            let t = graph.type(of: n.operands[0]).shape
            values[v] = batchCount(axes.reduce(Affine.one) { $0 * Affine(t.dims[$1]) })
        case .reshape:
            let source = materialize(n.operands[0])
            values[v] = .buffer(newBuffer(v, .alias(source)))

        case .unary(let u):
            elementwise(v, .unary(u, .operand(0)), n.operands, compute: graph.type(of: n.operands[0]).dtype)
        case .pow(let c):
            elementwise(v, .pow(.operand(0), c), n.operands, compute: .f32)
        case .binary(let b):
            elementwise(v, .binary(b, .operand(0), .operand(1)), n.operands, compute: graph.type(of: n.operands[0]).dtype)
        case .select:
            elementwise(v, .select(.operand(0), .operand(1), .operand(2)), n.operands, compute: n.type.dtype)
        case .broadcast:
            elementwise(v, .operand(0), n.operands, compute: n.type.dtype)
        case .transpose:
            let x = materialize(n.operands[0])
            let s = graph.type(of: n.operands[0]).shape.affineStrides
            let out = result(&self)
            emit(.elementwise(ElementwiseKernel(output: out, shape: shape.dims.map(Affine.init),
                                                operands: [.buffer(x, strides: [s[1], s[0]])], expr: .operand(0),
                                                computeType: n.type.dtype)), v)

        case .reduce(let op, let axes, _):
            let x = materialize(n.operands[0])
            let xs = graph.type(of: n.operands[0]).shape
            let out = result(&self)
            // Output strides over the input's axes: 0 on reduced axes, else the output's own.
            let kept = xs.dims.indices.filter { !axes.contains($0) }
            let ownStrides = Shape(kept.map { xs.dims[$0] }).affineStrides
            var outStrides = [Affine](repeating: .zero, count: xs.rank)
            for (k, axis) in kept.enumerated() { outStrides[axis] = ownStrides[k] }
            let reduced = axes.reduce(Affine.one) { $0 * Affine(xs.dims[$1]) }
            if op == .mean, !reduced.isConstant, partition != nil {
                // A mean over the batch axis of a step split across processes: this process's
                // sum over the global count (its share of the mean).
                emit(.reduce(ReduceKernel(output: out, input: x, shape: xs.dims.map(Affine.init), inputStrides: xs.affineStrides,
                                          outputStrides: outStrides, op: .sum, count: .one)), v)
                elementwise(v, .binary(.div, .operand(0), .operand(1)), [v], extra: [.globalCount(reduced)], compute: .f32)
                break
            }
            emit(.reduce(ReduceKernel(output: out, input: x, shape: xs.dims.map(Affine.init), inputStrides: xs.affineStrides,
                                      outputStrides: outStrides, op: op, count: reduced)), v)
        case .sumTo:
            let x = materialize(n.operands[0])
            let xs = graph.type(of: n.operands[0]).shape
            let out = result(&self)
            emit(.reduce(ReduceKernel(output: out, input: x, shape: xs.dims.map(Affine.init), inputStrides: xs.affineStrides,
                                      outputStrides: broadcastStrides(of: shape, to: xs.dims), op: .sum, count: .one)), v)

        case .concat(let axis):
            let out = result(&self)
            let outStrides = shape.affineStrides
            var offset = 0
            for o in n.operands {
                let x = materialize(o)
                let xs = graph.type(of: o).shape
                emit(.stridedCopy(output: out, outputOffset: outStrides[axis] * offset, outputStrides: outStrides,
                                  input: x, inputOffset: .zero, inputStrides: xs.affineStrides,
                                  shape: xs.dims.map(Affine.init)), v)
                offset += xs.dims[axis].fixedSize!
            }
        case .slice(let axis, let start, _):
            let x = materialize(n.operands[0])
            let xs = graph.type(of: n.operands[0]).shape.affineStrides
            let out = result(&self)
            emit(.stridedCopy(output: out, outputOffset: .zero, outputStrides: shape.affineStrides, input: x,
                              inputOffset: xs[axis] * start, inputStrides: xs, shape: shape.dims.map(Affine.init)), v)

        case .matmul(let ta, let tb):
            let a = materialize(n.operands[0]), b = materialize(n.operands[1])
            let out = result(&self)
            emit(.gemm(gemm(a: graph.type(of: n.operands[0]).shape, b: graph.type(of: n.operands[1]).shape,
                            c: shape, ta: ta, tb: tb, ids: (a, b, out))), v)

        case .gather:
            let table = materialize(n.operands[0]), idx = materialize(n.operands[1])
            let ts = graph.type(of: n.operands[0]).shape
            let out = result(&self)
            emit(.gather(output: out, table: table, index: idx, rows: Affine(ts.dims[0]),
                         rowSize: Shape(Array(ts.dims.dropFirst())).affineCount,
                         count: graph.type(of: n.operands[1]).shape.affineCount, location: n.location), v)
        case .scatterAdd:
            let idx = materialize(n.operands[0]), updates = materialize(n.operands[1])
            let out = result(&self)
            emit(.scatterAdd(output: out, index: idx, updates: updates, rows: Affine(shape.dims[0]),
                             rowSize: Shape(Array(shape.dims.dropFirst())).affineCount,
                             count: graph.type(of: n.operands[0]).shape.affineCount, location: n.location), v)

        case .softmax(let axis): axisKernel(.softmax, v, n.operands[0], axis)
        case .logSoftmax(let axis): axisKernel(.logSoftmax, v, n.operands[0], axis)
        case .argmax(let axis): axisKernel(.argmax, v, n.operands[0], axis)
        case .maxMask(let axis): axisKernel(.maxMask, v, n.operands[0], axis)

        case .dropoutMask(let p, let site):
            let out = result(&self)
            let dims = shape.dims
            let sizes = dims.map { $0.fixedSize ?? 1 }
            let batchAxis = dims.firstIndex(of: .batch)
            let outer = batchAxis.map { sizes[..<$0].reduce(1, *) } ?? 1
            let inner = batchAxis.map { sizes[($0 + 1)...].reduce(1, *) } ?? sizes.reduce(1, *)
            emit(.dropoutMask(output: out, p: p, site: site, outer: outer, rows: batchAxis == nil ? .one : Affine(.batch),
                              inner: inner, training: kind.isTraining), v)
        case .oneHot(let classes):
            let labels = materialize(n.operands[0])
            let out = result(&self)
            emit(.oneHot(output: out, labels: labels, classes: classes,
                         count: graph.type(of: n.operands[0]).shape.affineCount, location: n.location), v)
        case .linear(let relu):
            lowerLinear(n, relu: relu)
        case .reluGrad:
            // g where y > 0, else 0
            elementwise(v, .select(.binary(.gt, .operand(1), .operand(2)), .operand(0), .operand(2)),
                        n.operands, extra: [.immediate(0)], compute: .f32)
        case .softmaxCrossEntropy:
            let z = materialize(n.operands[0]), y = materialize(n.operands[1])
            let zt = graph.type(of: n.operands[0])
            let out = result(&self)
            // A training step keeps the probabilities for the backward kernel.
            var probabilities: BufferID?
            if kind.isTraining {
                let p = newBuffer(v, .arena(offset: .zero), type: zt, name: buffers[out.index].name + "_probs")
                probabilities = p
                savedProbabilities[SoftmaxKey(logits: n.operands[0], labels: n.operands[1])] = p
            }
            emit(.softmaxCrossEntropy(loss: out, logits: z, labels: y, probabilities: probabilities,
                                      rows: Affine(zt.shape.dims[0]), classes: zt.shape.dims[1].fixedSize!), v)
            if partition?.kind[v] == .partial { lossShare(v, out) }
        case .softmaxCrossEntropyGrad:
            let z = materialize(n.operands[0]), y = materialize(n.operands[1])
            // Split across processes, the gradient of this process's share of the loss.
            let g = partition?.kind[n.operands[0]] == .rows ? .buffer(share(n.operands[2]), strides: [])
                : operand(n.operands[2], shape: [])
            let out = result(&self)
            emit(.softmaxCrossEntropyGrad(output: out, logits: z, labels: y,
                                          probabilities: savedProbabilities[SoftmaxKey(logits: n.operands[0], labels: n.operands[1])],
                                          scale: g, rows: Affine(shape.dims[0]), classes: shape.dims[1].fixedSize!), v)
        case .ifTraining:
            // The branch this entry needs (the other was not lowered): the same value.
            values[v] = values[n.operands[kind.isTraining ? 0 : 1]]!
        case .conv2d(let stride, let padding, let relu): lowerConv2d(n, stride: stride, padding: padding, relu: relu)
        case .conv2dInputGrad(let stride, let padding): lowerConv2dInputGrad(n, stride: stride, padding: padding)
        case .conv2dWeightGrad(let stride, let padding): lowerConv2dWeightGrad(n, stride: stride, padding: padding)
        case .maxPool2d(let w): lowerPool(n, .max, w)
        case .avgPool2d(let w): lowerPool(n, .avg, w)
        case .maxPool2dGrad(let w): lowerPoolGrad(n, .max, w)
        case .avgPool2dGrad(let w): lowerPoolGrad(n, .avg, w)
        case .loss(let lossKind):
            let p = materialize(n.operands[0]), y = materialize(n.operands[1])
            let ps = graph.type(of: n.operands[0]).shape
            let out = result(&self)
            let classes = lossKind == .nll ? (ps.dims.last?.fixedSize ?? 1) : 0
            let rows = lossKind == .nll ? Affine(ps.dims[0]) : ps.affineCount
            emit(.loss(lossKind, output: out, prediction: p, target: y, count: rows, classes: classes), v)
            if partition?.kind[v] == .partial { lossShare(v, out) }
        }
    }

    /// `linear`: the GEMM into the result, then one pass adding the bias and applying ReLU.
    mutating func lowerLinear(_ n: Node, relu: Bool) {
        let v = n.id
        let x = materialize(n.operands[0]), w = materialize(n.operands[1])
        let out = newBuffer(v, .arena(offset: .zero))
        values[v] = .buffer(out)
        emit(.gemm(gemm(a: graph.type(of: n.operands[0]).shape, b: graph.type(of: n.operands[1]).shape,
                        c: n.type.shape, ta: false, tb: true, ids: (x, w, out))), v)
        guard n.operands.count == 3 || relu else { return }
        let dims = n.type.shape.dims
        var operands: [Operand] = [.buffer(out, strides: n.type.shape.affineStrides)]
        var expr = ScalarExpr.operand(0)
        if n.operands.count == 3 {
            operands.append(operand(n.operands[2], shape: dims))
            expr = .binary(.add, expr, .operand(1))
        }
        if relu { expr = .unary(.relu, expr) }
        emit(.elementwise(ElementwiseKernel(output: out, shape: dims.map(Affine.init), operands: operands, expr: expr,
                                            computeType: .f32)), v)
    }

    /// An elementwise kernel computing `expr` over the node's shape.
    mutating func elementwise(_ v: ValueID, _ expr: ScalarExpr, _ operands: [ValueID], extra: [Operand] = [],
                              compute: DType) {
        let dims = graph.type(of: v).shape.dims
        let ops = operands.map { operand($0, shape: dims) } + extra
        let out = newBuffer(v, .arena(offset: .zero))
        values[v] = .buffer(out)
        emit(.elementwise(ElementwiseKernel(output: out, shape: dims.map(Affine.init), operands: ops, expr: expr,
                                            computeType: compute)), v)
    }

    mutating func axisKernel(_ op: AxisOp, _ v: ValueID, _ x: ValueID, _ axis: Int) {
        let input = materialize(x)
        let dims = graph.type(of: x).shape.dims
        let view = AxisView(outer: dims[..<axis].reduce(Affine.one) { $0 * Affine($1) }, length: Affine(dims[axis]),
                            inner: dims[(axis + 1)...].reduce(Affine.one) { $0 * Affine($1) })
        let out = newBuffer(v, .arena(offset: .zero))
        values[v] = .buffer(out)
        emit(.axis(op, output: out, input: input, view: view), v)
    }

    /// op(A) @ op(B) for row-major A, B stored as [.., rows, cols]; a leading batch axis
    /// repeats the product, with stride 0 for an operand without it.
    func gemm(a: Shape, b: Shape, c: Shape, ta: Bool, tb: Bool, ids: (BufferID, BufferID, BufferID)) -> GemmKernel {
        func matrix(_ s: Shape) -> (rows: Affine, cols: Affine) {
            (Affine(s.dims[s.rank - 2]), Affine(s.dims[s.rank - 1]))
        }
        let (ra, ca) = matrix(a), (rb, cb) = matrix(b)
        let m = ta ? ca : ra, k = ta ? ra : ca, n = tb ? rb : cb
        let batch = c.rank == 3 ? Affine(c.dims[0]) : .one
        return GemmKernel(a: ids.0, b: ids.1, c: ids.2, transposeA: ta, transposeB: tb, m: m, n: n, k: k,
                          lda: ca, ldb: cb, ldc: n, alpha: 1, beta: 0, batch: batch,
                          strideA: a.rank == 3 ? ra * ca : .zero, strideB: b.rank == 3 ? rb * cb : .zero,
                          strideC: c.rank == 3 ? m * n : .zero)
    }
}
