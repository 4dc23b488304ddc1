import DLCIR

/// Fuses the pass that follows a small product into it: a `linear`'s GEMM and the loop adding
/// its bias and applying its activation become one kernel, whose rows get the pass applied as
/// they are stored (`GemmKernel.epilogue`). One decision for every backend, so that each only
/// prints what it is given.
///
/// It runs after the memory plan: the fused kernel reads what the pass read one kernel later,
/// and every such buffer is live across the product anyway (nothing the product writes can
/// share its memory), so the plan stays valid.
enum GemmEpilogues {
    static func fuse(_ e: inout Entry) {
        var i = 0
        while i + 1 < e.kernels.count {
            if case .gemm(var g) = e.kernels[i].body, case .elementwise(let x) = e.kernels[i + 1].body,
               canFuse(g, x, in: e) {
                g.epilogue = x
                e.kernels[i].body = .gemm(g)
                e.kernels.remove(at: i + 1)
            }
            i += 1
        }
    }

    /// Whether `x` is the in-place pass over the result of `g` that can be applied as each row
    /// of a small product is stored: a plain single product (not an SGD update, not batched)
    /// that runs as loops at least for some batch sizes, and a pass that reads C only at the
    /// element it writes.
    static func canFuse(_ g: GemmKernel, _ x: ElementwiseKernel, in e: Entry) -> Bool {
        guard g.epilogue == nil, g.batch == .one, g.beta == 0, g.alpha == 1, !g.alphaIsNegativeLearningRate,
              x.output == g.c, x.reductions.isEmpty, x.shape == [g.m, g.n], GemmPolicy.callsBLAS(g) != true,
              e.buffer(g.c).type.dtype == .f32 else { return false }
        return x.operands.allSatisfy { o in
            guard case .buffer(let b, let strides) = o else { return true }
            return b != g.c || strides == [g.n, .one]
        }
    }
}
