import DLCIR

// Convolutions as GEMMs, with the kernels every printer already has:
//
//   im2col   cols[c, p, q, n, i, j] = x[n, c, i·s + p − pad, j·s + q − pad]   a strided copy (of a
//            zero-padded copy of x when pad > 0): cols is [K, N·P], K = C·k·k, P = OH·OW
//   forward  z[O, N·P] = W[O, K] · cols                        one GEMM
//            y[n, o, i, j] = act(z[o, n·P + i·OW + j] + b[o])   one elementwise pass (bias, ReLU)
//   backward dz[O, N·P] = g read in that order                  one elementwise pass (a transpose)
//            dW[O, K] = dz · colsᵀ                              one GEMM (cols kept from the forward)
//            dcols[K, N·P] = Wᵀ · dz                            one GEMM
//            dx = col2im(dcols)                                 zeros, then k² strided accumulates
//
// The channel-major layout of cols makes the innermost copy loop run along image rows, and
// puts the batch inside the GEMMs' long dimension, so that a batch is one call each.

/// The im2col of one value for one window geometry: the forward convolution's columns, kept
/// in a training entry for the weight gradient.
struct ColumnsKey: Hashable {
    var input: ValueID
    var kernel: Int, stride: Int, padding: Int
}

/// The argmax a max pool keeps in a training entry for its gradient.
struct PoolKey: Hashable {
    var input: ValueID
    var window: Window2d
}

/// The sizes of a convolution of x [N, C, H, W] by a k×k kernel.
struct ConvGeometry {
    let channels: Int, height: Int, width: Int
    let kernel: Int, stride: Int, padding: Int
    let outHeight: Int, outWidth: Int

    init(input: Shape, kernel: Int, stride: Int, padding: Int) {
        (channels, height, width) = (input.dims[1].fixedSize!, input.dims[2].fixedSize!, input.dims[3].fixedSize!)
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
        outHeight = Window2d.outputSize(height, kernel: kernel, stride: stride, padding: padding)!
        outWidth = Window2d.outputSize(width, kernel: kernel, stride: stride, padding: padding)!
    }

    var paddedHeight: Int { height + 2 * padding }
    var paddedWidth: Int { width + 2 * padding }
    /// Rows of cols: C·k·k.
    var patch: Int { channels * kernel * kernel }
    /// Output cells per image: OH·OW.
    var cells: Int { outHeight * outWidth }

    /// The loop shape of im2col and col2im: [C, k, k, N, OH, OW].
    var columnShape: [Affine] {
        [.fixed(channels), .fixed(kernel), .fixed(kernel), .batch, .fixed(outHeight), .fixed(outWidth)]
    }

    /// Strides of the (padded) image [N, C, Hp, Wp] over the column loop shape.
    var imageStrides: [Affine] {
        let plane = paddedHeight * paddedWidth
        return [.fixed(plane), .fixed(paddedWidth), .one, .fixed(channels * plane), .fixed(stride * paddedWidth), .fixed(stride)]
    }
}

extension EntryLowering {
    /// `conv2d(x, w[, b])`: im2col, one GEMM into [O, N·P], one pass to [N, O, OH, OW] adding
    /// the bias and applying ReLU.
    mutating func lowerConv2d(_ n: Node, stride: Int, padding: Int, relu: Bool) {
        let v = n.id
        let xShape = graph.type(of: n.operands[0]).shape
        let w = materialize(n.operands[1])
        let o = graph.type(of: n.operands[1]).shape.dims[0].fixedSize!
        let geo = ConvGeometry(input: xShape, kernel: graph.type(of: n.operands[1]).shape.dims[2].fixedSize!,
                               stride: stride, padding: padding)
        let batch = Affine(xShape.dims[0])
        let cols = columns(of: n.operands[0], geo, keep: kind.isTraining)
        let z = newBuffer(v, .arena(offset: .zero), type: TensorType(.f32, Shape([.fixed(o), xShape.dims[0], .fixed(geo.cells)])),
                          name: bufferName(for: v, suffix: "_gemm"))
        let np = batch * geo.cells
        emit(.gemm(GemmKernel(a: w, b: cols, c: z, transposeA: false, transposeB: false, m: .fixed(o), n: np, k: .fixed(geo.patch),
                              lda: .fixed(geo.patch), ldb: np, ldc: np, alpha: 1, beta: 0, batch: .one,
                              strideA: .zero, strideB: .zero, strideC: .zero)), v)
        let out = newBuffer(v, .arena(offset: .zero))
        values[v] = .buffer(out)
        // y[n, o, i, j] reads z[o, n, i, j]: strides (P, N·P, OW, 1) over y's axes.
        var operands: [Operand] = [.buffer(z, strides: [.fixed(geo.cells), np, .fixed(geo.outWidth), .one])]
        var expr = ScalarExpr.operand(0)
        if n.operands.count == 3 {
            operands.append(.buffer(materialize(n.operands[2]), strides: [.zero, .one, .zero, .zero]))
            expr = .binary(.add, expr, .operand(1))
        }
        if relu { expr = .unary(.relu, expr) }
        emit(.elementwise(ElementwiseKernel(output: out, shape: n.type.shape.dims.map(Affine.init), operands: operands,
                                            expr: expr, computeType: .f32)), v)
    }

    /// `conv2d_weight_grad(x, g)`: dW = dz · colsᵀ, one GEMM over the whole batch.
    mutating func lowerConv2dWeightGrad(_ n: Node, stride: Int, padding: Int) {
        let v = n.id
        let xShape = graph.type(of: n.operands[0]).shape
        let geo = ConvGeometry(input: xShape, kernel: n.type.shape.dims[2].fixedSize!, stride: stride, padding: padding)
        let o = n.type.shape.dims[0].fixedSize!
        let cols = columns(of: n.operands[0], geo, keep: false)
        let dz = channelMajor(n.operands[1])
        let np = Affine(xShape.dims[0]) * geo.cells
        let out = newBuffer(v, .arena(offset: .zero))
        values[v] = .buffer(out)
        emit(.gemm(GemmKernel(a: dz, b: cols, c: out, transposeA: false, transposeB: true, m: .fixed(o), n: .fixed(geo.patch), k: np,
                              lda: np, ldb: np, ldc: .fixed(geo.patch), alpha: 1, beta: 0, batch: .one,
                              strideA: .zero, strideB: .zero, strideC: .zero)), v)
    }

    /// `conv2d_input_grad(g, w)`: dcols = Wᵀ · dz (one GEMM), then col2im into a zeroed
    /// (padded) image, and the interior copied out when there is padding.
    mutating func lowerConv2dInputGrad(_ n: Node, stride: Int, padding: Int) {
        let v = n.id
        let xShape = n.type.shape
        let wShape = graph.type(of: n.operands[1]).shape
        let geo = ConvGeometry(input: xShape, kernel: wShape.dims[2].fixedSize!, stride: stride, padding: padding)
        let o = wShape.dims[0].fixedSize!
        let dz = channelMajor(n.operands[0])
        let w = materialize(n.operands[1])
        let batch = xShape.dims[0]
        let np = Affine(batch) * geo.cells
        let dcols = newBuffer(v, .arena(offset: .zero), type: TensorType(.f32, Shape([.fixed(geo.patch), batch, .fixed(geo.cells)])),
                              name: bufferName(for: v, suffix: "_cols"))
        emit(.gemm(GemmKernel(a: w, b: dz, c: dcols, transposeA: true, transposeB: false, m: .fixed(geo.patch), n: np, k: .fixed(o),
                              lda: .fixed(geo.patch), ldb: np, ldc: np, alpha: 1, beta: 0, batch: .one,
                              strideA: .zero, strideB: .zero, strideC: .zero)), v)
        let padded = Shape([batch, .fixed(geo.channels), .fixed(geo.paddedHeight), .fixed(geo.paddedWidth)])
        let image = geo.padding == 0 ? newBuffer(v, .arena(offset: .zero))
                                     : newBuffer(v, .arena(offset: .zero), type: TensorType(.f32, padded), name: bufferName(for: v, suffix: "_padded"))
        emit(.fill(output: image, value: .immediate(0), count: padded.affineCount), v)
        // col2im: one term per kernel offset (p, q), in row-major order of the offsets. Within
        // one, the image cells written are distinct, so any printer may run it in parallel; the
        // terms in order add each cell's contributions in the order of a loop over them all.
        let colStrides = LoopShapes.contiguous(geo.columnShape), imageStrides = geo.imageStrides
        let terms = (0..<geo.kernel).flatMap { p in
            (0..<geo.kernel).map { q in
                StridedTerm(outputOffset: imageStrides[1] * p + imageStrides[2] * q, inputOffset: colStrides[1] * p + colStrides[2] * q)
            }
        }
        emit(.stridedAccumulate(output: image, outputStrides: [imageStrides[0]] + Array(imageStrides[3...]), input: dcols,
                                inputStrides: [colStrides[0]] + Array(colStrides[3...]),
                                shape: [geo.columnShape[0]] + Array(geo.columnShape[3...]), terms: terms), v)
        if geo.padding == 0 {
            values[v] = .buffer(image)
            return
        }
        let out = newBuffer(v, .arena(offset: .zero))
        values[v] = .buffer(out)
        emit(.stridedCopy(output: out, outputOffset: .zero, outputStrides: xShape.affineStrides, input: image,
                          inputOffset: .fixed(geo.padding * geo.paddedWidth + geo.padding), inputStrides: padded.affineStrides,
                          shape: xShape.dims.map(Affine.init)), v)
    }

    /// The im2col of `x` for `geo` (see the top of this file), reusing the one a forward
    /// convolution of this entry kept; `keep` records it for a later weight gradient.
    mutating func columns(of x: ValueID, _ geo: ConvGeometry, keep: Bool) -> BufferID {
        let key = ColumnsKey(input: x, kernel: geo.kernel, stride: geo.stride, padding: geo.padding)
        if let cols = savedColumns[key] { return cols }
        let batch = graph.type(of: x).shape.dims[0]
        var image = materialize(x)
        if geo.padding > 0 {
            // A zero-padded copy: zeros, then x into its interior.
            let padded = Shape([batch, .fixed(geo.channels), .fixed(geo.paddedHeight), .fixed(geo.paddedWidth)])
            let p = newBuffer(x, .arena(offset: .zero), type: TensorType(.f32, padded), name: bufferName(for: x, suffix: "_padded"))
            emit(.fill(output: p, value: .immediate(0), count: padded.affineCount), x)
            let xShape = graph.type(of: x).shape
            emit(.stridedCopy(output: p, outputOffset: .fixed(geo.padding * geo.paddedWidth + geo.padding),
                              outputStrides: padded.affineStrides, input: image, inputOffset: .zero,
                              inputStrides: xShape.affineStrides, shape: xShape.dims.map(Affine.init)), x)
            image = p
        }
        let cols = newBuffer(x, .arena(offset: .zero), type: TensorType(.f32, Shape([.fixed(geo.patch), batch, .fixed(geo.cells)])),
                             name: bufferName(for: x, suffix: "_cols"))
        emit(.stridedCopy(output: cols, outputOffset: .zero, outputStrides: LoopShapes.contiguous(geo.columnShape), input: image,
                          inputOffset: .zero, inputStrides: geo.imageStrides, shape: geo.columnShape), x)
        if keep { savedColumns[key] = cols }
        return cols
    }

    /// A gradient g [N, O, OH, OW] as [O, N·OH·OW] (the GEMMs' layout), made once per value.
    mutating func channelMajor(_ g: ValueID) -> BufferID {
        if let t = savedChannelMajor[g] { return t }
        let gs = graph.type(of: g).shape
        let (o, h, w) = (gs.dims[1].fixedSize!, gs.dims[2].fixedSize!, gs.dims[3].fixedSize!)
        let shape = Shape([.fixed(o), gs.dims[0], .fixed(h), .fixed(w)])
        let out = newBuffer(g, .arena(offset: .zero), type: TensorType(.f32, shape), name: bufferName(for: g, suffix: "_cm"))
        let source = operand(g, shape: gs.dims)
        let read: Operand
        if case .buffer(let b, _) = source {
            read = .buffer(b, strides: [.fixed(h * w), .fixed(o * h * w), .fixed(w), .one])
        } else {
            read = source
        }
        emit(.elementwise(ElementwiseKernel(output: out, shape: shape.dims.map(Affine.init), operands: [read], expr: .operand(0),
                                            computeType: .f32)), g)
        savedChannelMajor[g] = out
        return out
    }

    // MARK: - Pooling

    func poolGeometry(_ x: Shape, _ window: Window2d) -> PoolGeometry {
        let (h, w) = (x.dims[2].fixedSize!, x.dims[3].fixedSize!)
        return PoolGeometry(planes: Affine(x.dims[0]) * x.dims[1].fixedSize!, height: h, width: w,
                            outHeight: window.outputSize(h)!, outWidth: window.outputSize(w)!, window: window)
    }

    /// A max pool keeps its winners in a training entry, for its gradient.
    mutating func lowerPool(_ n: Node, _ op: PoolOp, _ window: Window2d) {
        let out = newBuffer(n.id, .arena(offset: .zero))
        values[n.id] = .buffer(out)
        emitPool(op, n.operands[0], window, output: out, keepArgmax: op == .max && kind.isTraining, node: n.id)
    }

    /// The pool2d kernel of `x` into `output`, keeping (and recording) its winners when asked.
    @discardableResult
    mutating func emitPool(_ op: PoolOp, _ x: ValueID, _ window: Window2d, output: BufferID, keepArgmax: Bool,
                           node: ValueID) -> BufferID? {
        let input = materialize(x)
        var argmax: BufferID?
        if keepArgmax {
            let a = newBuffer(node, .arena(offset: .zero), type: buffers[output.index].type.with(dtype: .i32),
                              name: bufferName(for: node, suffix: "_argmax"))
            savedArgmax[PoolKey(input: x, window: window)] = a
            argmax = a
        }
        emit(.pool2d(op, output: output, input: input, argmax: argmax, poolGeometry(graph.type(of: x).shape, window)), node)
        return argmax
    }

    /// The gradient of a pool; a max pool's winners come from its forward kernel, which runs
    /// again here only when this entry has none (the gradient without its forward pool).
    mutating func lowerPoolGrad(_ n: Node, _ op: PoolOp, _ window: Window2d) {
        let geometry = poolGeometry(n.type.shape, window)
        switch op {
        case .max:
            let x = n.operands[0]
            var argmax = savedArgmax[PoolKey(input: x, window: window)]
            if argmax == nil {
                let pooled = try! TypeRules.pool2dType(graph.type(of: x), window)
                let scratch = newBuffer(n.id, .arena(offset: .zero), type: pooled, name: bufferName(for: n.id, suffix: "_pooled"))
                argmax = emitPool(.max, x, window, output: scratch, keepArgmax: true, node: n.id)
            }
            let g = materialize(n.operands[1])
            let out = newBuffer(n.id, .arena(offset: .zero))
            values[n.id] = .buffer(out)
            emit(.pool2dGrad(.max, output: out, gradient: g, argmax: argmax, geometry), n.id)
        case .avg:
            let g = materialize(n.operands[0])
            let out = newBuffer(n.id, .arena(offset: .zero))
            values[n.id] = .buffer(out)
            emit(.pool2dGrad(.avg, output: out, gradient: g, argmax: nil, geometry), n.id)
        }
    }
}
