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
        init(_ t: Tensor) { (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3]) }
        /// The flat offset of (image, channel, row, column).
        func at(_ b: Int, _ ch: Int, _ r: Int, _ col: Int) -> Int { ((b * c + ch) * h + r) * w + col }
    }

    /// Cross-correlation of x with w [O, C, k, k] (zero padding), plus the bias, then ReLU.
    static func conv2d(_ operands: [Tensor], stride: Int, padding: Int, relu: Bool) throws -> Tensor {
        let (x, w) = (operands[0], operands[1])
        let xi = Images(x), o = w.shape[0], k = w.shape[2]
        let oh = Window2d.outputSize(xi.h, kernel: k, stride: stride, padding: padding)!
        let ow = Window2d.outputSize(xi.w, kernel: k, stride: stride, padding: padding)!
        var y = Tensor.zeros([xi.n, o, oh, ow])
        let yi = Images(y)
        for b in 0..<xi.n {
            for f in 0..<o {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var acc = operands.count == 3 ? operands[2].scalars[f] : 0
                        for ch in 0..<xi.c {
                            for p in 0..<k {
                                let r = i * stride - padding + p
                                guard r >= 0, r < xi.h else { continue }
                                for q in 0..<k {
                                    let col = j * stride - padding + q
                                    guard col >= 0, col < xi.w else { continue }
                                    acc += x.scalars[xi.at(b, ch, r, col)] * w.scalars[((f * xi.c + ch) * k + p) * k + q]
                                }
                            }
                        }
                        y.scalars[yi.at(b, f, i, j)] = acc
                    }
                }
            }
        }
        return relu ? try unary(.relu, y, dtype: .f32) : y
    }

    /// The gradient of conv2d's input: every output cell's g times the weights, added back into
    /// the input cells of its window (padding cells dropped).
    static func conv2dInputGrad(_ g: Tensor, _ w: Tensor, inputShape: [Int], stride: Int, padding: Int) -> Tensor {
        var dx = Tensor.zeros(inputShape)
        let xi = Images(dx), gi = Images(g), k = w.shape[2]
        for b in 0..<gi.n {
            for f in 0..<gi.c {
                for i in 0..<gi.h {
                    for j in 0..<gi.w {
                        let gv = g.scalars[gi.at(b, f, i, j)]
                        for ch in 0..<xi.c {
                            for p in 0..<k {
                                let r = i * stride - padding + p
                                guard r >= 0, r < xi.h else { continue }
                                for q in 0..<k {
                                    let col = j * stride - padding + q
                                    guard col >= 0, col < xi.w else { continue }
                                    dx.scalars[xi.at(b, ch, r, col)] += gv * w.scalars[((f * xi.c + ch) * k + p) * k + q]
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// The gradient of conv2d's weight: Σ over images and output cells of g times the input
    /// cell under each weight (0 for a padding cell).
    static func conv2dWeightGrad(_ x: Tensor, _ g: Tensor, weightShape: [Int], stride: Int, padding: Int) -> Tensor {
        var dw = Tensor.zeros(weightShape)
        let xi = Images(x), gi = Images(g), k = weightShape[2]
        for b in 0..<gi.n {
            for f in 0..<gi.c {
                for i in 0..<gi.h {
                    for j in 0..<gi.w {
                        let gv = g.scalars[gi.at(b, f, i, j)]
                        for ch in 0..<xi.c {
                            for p in 0..<k {
                                let r = i * stride - padding + p
                                guard r >= 0, r < xi.h else { continue }
                                for q in 0..<k {
                                    let col = j * stride - padding + q
                                    guard col >= 0, col < xi.w else { continue }
                                    dw.scalars[((f * xi.c + ch) * k + p) * k + q] += gv * x.scalars[xi.at(b, ch, r, col)]
                                }
                            }
                        }
                    }
                }
            }
        }
        return dw
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
