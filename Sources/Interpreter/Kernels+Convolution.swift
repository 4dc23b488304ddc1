import DLCIR

// MARK: - Convolution and pooling of image batches [N, C, H, W]
//
// Written as the definitions read (a sum over each window), not for speed: these loops are what
// the lowered code (im2col, GEMMs, col2im, pooling kernels) must reproduce. A window of output
// cell (i, j) covers the input rows i·stride − padding + 0 ..< k and the columns likewise; cells
// outside the input are padding.

extension Kernels {
    /// The sizes of an image batch.
    struct Images {
        let n, c, h, w: Int
        init(_ shape: [Int]) { (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]) }
        /// The flat offset of (image, channel, row, column).
        func at(_ b: Int, _ ch: Int, _ r: Int, _ col: Int) -> Int { ((b * c + ch) * h + r) * w + col }
    }

    /// The geometry shared by a convolution and its gradients: for each kernel offset p, the
    /// output rows i whose input row i·stride − padding + p lies inside the image (likewise
    /// for columns). Iterating over those ranges visits exactly the terms of the definition,
    /// without a test per term.
    struct ConvWindows {
        let stride, padding, k: Int
        let x: Images
        let oh, ow: Int

        /// The output indices i in 0..<count with 0 <= i·stride − padding + p < size.
        func valid(_ p: Int, count: Int, size: Int) -> Range<Int> {
            var lo = 0
            while lo < count && lo * stride - padding + p < 0 { lo += 1 }
            var hi = count
            while hi > lo && (hi - 1) * stride - padding + p >= size { hi -= 1 }
            return lo..<hi
        }

        /// Calls `body(b, f, ch, p, q, i, j, inputOffset, outputOffset)` for every term of the
        /// convolution sum, in the order b, f, ch, p, q, i, j.
        func forEachTerm(outputs o: Int, _ body: (_ weight: Int, _ input: Int, _ output: Int) -> Void) {
            for b in 0..<x.n {
                for f in 0..<o {
                    for ch in 0..<x.c {
                        for p in 0..<k {
                            let rows = valid(p, count: oh, size: x.h)
                            for q in 0..<k {
                                let cols = valid(q, count: ow, size: x.w)
                                let weight = ((f * x.c + ch) * k + p) * k + q
                                for i in rows {
                                    let input = x.at(b, ch, i * stride - padding + p, q - padding)
                                    let output = ((b * o + f) * oh + i) * ow
                                    for j in cols { body(weight, input + j * stride, output + j) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func windows(_ x: [Int], kernel k: Int, stride: Int, padding: Int) -> ConvWindows {
        ConvWindows(stride: stride, padding: padding, k: k, x: Images(x),
                           oh: Window2d.outputSize(x[2], kernel: k, stride: stride, padding: padding)!,
                           ow: Window2d.outputSize(x[3], kernel: k, stride: stride, padding: padding)!)
    }

    /// Cross-correlation of x with w [O, C, k, k] (zero padding: padding cells add nothing),
    /// plus the bias, then ReLU: y[b, f, i, j] = bias[f] + Σ x[b, ch, i·s − p + di, j·s − p + dj]·w[f, ch, di, dj].
    static func conv2d(_ operands: [Tensor], stride: Int, padding: Int, relu: Bool) throws -> Tensor {
        let (x, w) = (operands[0], operands[1])
        let o = w.shape[0]
        let geo = windows(x.shape, kernel: w.shape[2], stride: stride, padding: padding)
        var y = [Double](repeating: 0, count: x.shape[0] * o * geo.oh * geo.ow)
        if operands.count == 3 {
            for v in y.indices { y[v] = operands[2].scalars[(v / (geo.oh * geo.ow)) % o] }
        }
        x.scalars.withUnsafeBufferPointer { xs in
            w.scalars.withUnsafeBufferPointer { ws in
                y.withUnsafeMutableBufferPointer { ys in
                    geo.forEachTerm(outputs: o) { wi, xi, yi in ys[yi] += xs[xi] * ws[wi] }
                }
            }
        }
        let out = Tensor(shape: [x.shape[0], o, geo.oh, geo.ow], scalars: y)
        return relu ? try unary(.relu, out, dtype: .f32) : out
    }

    /// The gradient of conv2d's input: each term's g times its weight, added to its input cell.
    static func conv2dInputGrad(_ g: Tensor, _ w: Tensor, inputShape: [Int], stride: Int, padding: Int) -> Tensor {
        let geo = windows(inputShape, kernel: w.shape[2], stride: stride, padding: padding)
        var dx = [Double](repeating: 0, count: Tensor.count(inputShape))
        g.scalars.withUnsafeBufferPointer { gs in
            w.scalars.withUnsafeBufferPointer { ws in
                dx.withUnsafeMutableBufferPointer { ds in
                    geo.forEachTerm(outputs: w.shape[0]) { wi, xi, yi in ds[xi] += gs[yi] * ws[wi] }
                }
            }
        }
        return Tensor(shape: inputShape, scalars: dx)
    }

    /// The gradient of conv2d's weight: each term's g times its input cell, added to its weight.
    static func conv2dWeightGrad(_ x: Tensor, _ g: Tensor, weightShape: [Int], stride: Int, padding: Int) -> Tensor {
        let geo = windows(x.shape, kernel: weightShape[2], stride: stride, padding: padding)
        var dw = [Double](repeating: 0, count: Tensor.count(weightShape))
        x.scalars.withUnsafeBufferPointer { xs in
            g.scalars.withUnsafeBufferPointer { gs in
                dw.withUnsafeMutableBufferPointer { ds in
                    geo.forEachTerm(outputs: weightShape[0]) { wi, xi, yi in ds[wi] += gs[yi] * xs[xi] }
                }
            }
        }
        return Tensor(shape: weightShape, scalars: dw)
    }

    /// Calls `body` once per output cell of pooling `x` with `window`: the cell's flat offset in
    /// the output, and the flat offsets of the real (non-padding) input cells of its window in
    /// row-major order, with the number of cells the window covers, padding included.
    static func forEachWindow(_ x: [Int], _ window: Window2d,
                              _ body: (_ out: Int, _ cells: [Int], _ covered: Int) -> Void) {
        let xi = (n: x[0], c: x[1], h: x[2], w: x[3])
        let oh = window.outputSize(xi.h)!, ow = window.outputSize(xi.w)!
        var out = 0
        for plane in 0..<(xi.n * xi.c) {
            for i in 0..<oh {
                for j in 0..<ow {
                    var cells: [Int] = []
                    for p in 0..<window.kernel {
                        let r = i * window.stride - window.padding + p
                        guard r >= 0, r < xi.h else { continue }
                        for q in 0..<window.kernel {
                            let col = j * window.stride - window.padding + q
                            guard col >= 0, col < xi.w else { continue }
                            cells.append((plane * xi.h + r) * xi.w + col)
                        }
                    }
                    body(out, cells, window.kernel * window.kernel)
                    out += 1
                }
            }
        }
    }

    static func poolShape(_ x: [Int], _ window: Window2d) -> [Int] {
        [x[0], x[1], window.outputSize(x[2])!, window.outputSize(x[3])!]
    }

    /// The winner of a window, as PyTorch scans it: starting from the first real cell and −inf,
    /// row by row, a cell takes over when it is strictly greater than the maximum so far or
    /// is a NaN. So ties go to the first maximal cell, and a window holding NaN to its last NaN.
    static func windowWinner(_ x: Tensor, _ cells: [Int]) -> Int {
        var best = cells[0], maximum = -Double.infinity
        for c in cells {
            let v = x.scalars[c]
            if v > maximum || v.isNaN { (best, maximum) = (c, v) }
        }
        return best
    }

    static func maxPool2d(_ x: Tensor, _ window: Window2d) -> Tensor {
        var y = Tensor.zeros(poolShape(x.shape, window))
        forEachWindow(x.shape, window) { out, cells, _ in y.scalars[out] = x.scalars[windowWinner(x, cells)] }
        return y
    }

    /// g of each window added to its winner's cell.
    static func maxPool2dGrad(_ x: Tensor, _ g: Tensor, _ window: Window2d) -> Tensor {
        var dx = Tensor.zeros(x.shape)
        forEachWindow(x.shape, window) { out, cells, _ in dx.scalars[windowWinner(x, cells)] += g.scalars[out] }
        return dx
    }

    /// The sum of the real cells over the whole window's size (count_include_pad).
    static func avgPool2d(_ x: Tensor, _ window: Window2d) -> Tensor {
        var y = Tensor.zeros(poolShape(x.shape, window))
        forEachWindow(x.shape, window) { out, cells, covered in
            y.scalars[out] = cells.reduce(0) { $0 + x.scalars[$1] } / Double(covered)
        }
        return y
    }

    static func avgPool2dGrad(_ g: Tensor, inputShape: [Int], _ window: Window2d) -> Tensor {
        var dx = Tensor.zeros(inputShape)
        forEachWindow(inputShape, window) { out, cells, covered in
            for c in cells { dx.scalars[c] += g.scalars[out] / Double(covered) }
        }
        return dx
    }
}
