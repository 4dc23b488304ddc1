import DLCLowering

/// One pooling window's scan in C, as PyTorch does it: the C backend's loops and the CUDA
/// backend's kernels print the same text around their own indexing.
public enum CPooling {
    /// Reads the window's real cells `x_[r * width + q]` for r in r0_..<r1_ and q in c0_..<c1_
    /// (declared by the caller) and stores to `result`: the maximum (from −inf, a cell takes
    /// over when greater or NaN, so the first maximal cell wins, and its index to `argmax`
    /// when given) or the sum over kernel² (padding counted).
    public static func window(_ op: PoolOp, width: Int, kernel: Int, result: String, argmax: String?,
                              _ w: inout CWriter) {
        switch op {
        case .max:
            if argmax != nil { w.line("int64_t best_ = r0_ * \(width) + c0_;") }
            w.line("float m_ = -INFINITY;")
            w.block("for (int64_t r = r0_; r < r1_; r++) for (int64_t q = c0_; q < c1_; q++)") { w in
                w.line("const float v_ = x_[r * \(width) + q];")
                w.line(argmax == nil ? "if (v_ > m_ || v_ != v_) m_ = v_;" : "if (v_ > m_ || v_ != v_) { m_ = v_; best_ = r * \(width) + q; }")
            }
            w.line("\(result) = m_;")
            if let argmax { w.line("\(argmax) = (int32_t)best_;") }
        case .avg:
            w.line("float sum_ = 0.0f;")
            w.line("for (int64_t r = r0_; r < r1_; r++) for (int64_t q = c0_; q < c1_; q++) sum_ += x_[r * \(width) + q];")
            w.line("\(result) = sum_ / \(kernel * kernel).0f;")
        }
    }
}
