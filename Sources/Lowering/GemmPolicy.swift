/// When a product runs as plain loops and when it calls BLAS: one decision for every backend,
/// so that each backend's `uses_blas(n)` describes its own code.
public enum GemmPolicy {
    /// Products with at most this many multiply-adds run as loops: for matrices this small a
    /// BLAS call costs more than the arithmetic.
    public static let smallGemm = 16384

    /// The loops keep a row of C in registers, so they need a constant row length; a
    /// transposed B is first copied into a constant k×n tile.
    public static func canInline(_ g: GemmKernel) -> Bool {
        g.n.isConstant && g.n.constant >= 1 && g.n.constant <= 64
            && (!g.transposeB || g.k.isConstant && g.k.constant * g.n.constant <= 4096)
    }

    /// Whether the product is known at compile time to call BLAS (nil: it depends on n).
    public static func callsBLAS(_ g: GemmKernel) -> Bool? {
        if !canInline(g) { return true }
        guard g.m.isConstant, g.k.isConstant else { return nil }
        return g.m.constant * g.n.constant * g.k.constant > smallGemm
    }
}

extension KernelProgram {
    /// Floating-point operations of one train step, affine in n: 2mnk per GEMM, one per
    /// element elsewhere (an estimate for the trainer's `info`).
    public var trainFlops: Affine {
        var total = Affine.zero
        for k in entry(.train).kernels {
            switch k.body {
            case .gemm(let g):
                let mn = g.m * g.n
                total = total + (mn.isConstant ? (g.k * mn.constant) : mn * g.k.constant) * (2 * g.batch.constant)
                if let x = g.epilogue { total = total + x.shape.reduce(Affine.one, *) }
            case .elementwise(let e): total = total + e.shape.reduce(Affine.one, *)
            case .reduce(let r): total = total + r.shape.reduce(Affine.one, *)
            default: break
            }
        }
        return total
    }
}
