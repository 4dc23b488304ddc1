import DLCIR

/// The loop nests backends print for the kernels: every backend iterates the same shapes.
public enum LoopShapes {
    /// Row-major strides of a loop shape (the output of an elementwise kernel).
    public static func contiguous(_ shape: [Affine]) -> [Affine] {
        Shape(shape.map { $0.isConstant ? Dim.fixed($0.constant) : Dim.batch }).affineStrides
    }

    /// Merges adjacent loop axes that every access walks contiguously, so a same-shape
    /// elementwise op is one flat loop and a bias add two.
    public static func collapse(_ shape: [Affine], _ strides: [[Affine]]) -> ([Affine], [[Affine]]) {
        var shape = shape, strides = strides
        var i = shape.count - 2
        while i >= 0 {
            let mergeable = (shape[i].isConstant || shape[i + 1].isConstant) && strides.allSatisfy { s in
                (s[i] == .zero && s[i + 1] == .zero)
                    || (s[i + 1].isConstant || shape[i + 1].isConstant) && s[i] == s[i + 1] * shape[i + 1]
            }
            if mergeable {
                shape[i] = shape[i] * shape[i + 1]
                shape.remove(at: i + 1)
                for k in strides.indices { strides[k].remove(at: i) }
            }
            i -= 1
        }
        return (shape, strides)
    }

    /// The collapsed loop nest of an elementwise kernel: its shape, and the strides of the
    /// output, of each sum (`reductions`), then of each buffer operand, in that order.
    public static func elementwiseLoops(_ e: ElementwiseKernel) -> ([Affine], [[Affine]]) {
        var all = [contiguous(e.shape)] + e.reductions.map(\.outputStrides)
        for o in e.operands { if case .buffer(_, let s) = o { all.append(s) } }
        return collapse(e.shape, all)
    }

    /// The collapsed loop nest of a reduction: its shape, and the input's and the output's strides.
    public static func reduceLoops(_ r: ReduceKernel) -> ([Affine], [[Affine]]) {
        collapse(r.shape, [r.inputStrides, r.outputStrides])
    }
}
