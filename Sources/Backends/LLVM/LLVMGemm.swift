import DLCIR
import DLCLowering

extension KernelEmitter {
    /// C = alpha·op(A)·op(B) + beta·C, once or per batch element.
    func gemm(_ g: GemmKernel) {
        if let x = g.epilogue { return gemmWithEpilogue(g, x) }
        if g.batch == .one {
            product(g, pointer(g.a), pointer(g.b), pointer(g.c))
        } else {
            f.loop("i0", to: f.size(g.batch)) { i, _ in
                func at(_ b: BufferID, _ stride: Affine) -> Value {
                    stride == .zero ? pointer(b) : advanced(b, by: f.mul(i, f.size(stride)))
                }
                product(g, at(g.a, g.strideA), at(g.b, g.strideB), at(g.c, g.strideC))
                return []
            }
        }
    }

    /// One product: loops, BLAS, or (when its size depends on n) a branch between the two.
    func product(_ g: GemmKernel, _ a: Value, _ b: Value, _ c: Value) {
        switch GemmPolicy.callsBLAS(g) {
        case true?: sgemm(g, a, b, c)
        case false?: smallGemm(g, a, b, c)
        case nil:
            f.ifElse(isSmall(g), "small") {
                smallGemm(g, a, b, c)
            } otherwise: {
                sgemm(g, a, b, c)
            }
        }
    }

    /// `(int64_t)m * n * k <= smallGemm`, at run time.
    func isSmall(_ g: GemmKernel) -> Value {
        let work = f.mul(f.mul(f.size(g.m), f.size(g.n), "work"), f.size(g.k), "work")
        return f.value("is_small", .i1, "icmp sle i64 \(work.ref), \(GemmPolicy.smallGemm)")
    }

    /// alpha: a number, or minus the step's learning rate (an SGD update).
    func alpha(_ g: GemmKernel) -> Value {
        g.alphaIsNegativeLearningRate ? f.value("alpha", .float, "fneg float \(f.field(.lr).ref)") : .float(LL.cFloat(g.alpha))
    }

    func sgemm(_ g: GemmKernel, _ a: Value, _ b: Value, _ c: Value) {
        let name = f.module.declare(.sgemm)
        func int(_ x: Affine) -> String {
            let v = f.size(x)
            return v.constant != nil ? "i32 \(v.ref)" : "i32 " + convert(v, to: .i32).ref
        }
        // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
        let ta = g.transposeA ? 112 : 111, tb = g.transposeB ? 112 : 111
        let args = ["i32 101", "i32 \(ta)", "i32 \(tb)", int(g.m), int(g.n), int(g.k), alpha(g).typed,
                    "ptr \(a.ref)", int(g.lda), "ptr \(b.ref)", int(g.ldb), "float \(LL.float(LL.cFloat(g.beta)))",
                    "ptr \(c.ref)", int(g.ldc)]
        f.emit("call void \(name)(\(args.joined(separator: ", ")))")
    }

    /// The small GEMM as loops: for each row r of C, the row is accumulated in one vector value
    /// `<n x float>` carried by a phi over p, acc += A[r, p] · B[p, :] (a fused multiply-add
    /// where the target has one, as clang contracts the C backend's `acc_[q] += a_ * b_[q]`);
    /// a transposed B is first copied into a dense k×n tile so that its rows are contiguous.
    /// `epilogue` (the bias/activation pass of a `linear`) computes each stored element from
    /// the row index, the column index and the accumulated value.
    func smallGemm(_ g: GemmKernel, _ a: Value, _ b: Value, _ c: Value,
                   epilogue: ((Value, Value, Value) -> Value)? = nil) {
        let n = g.n.constant
        let vector = IRType.vector(n, .float)
        let k = f.size(g.k), lda = f.size(g.lda), ldb = f.size(g.ldb), ldc = f.size(g.ldc)
        var rows = b, rowStride = ldb
        if g.transposeB {
            let kc = g.k.constant
            f.tileFloats = max(f.tileFloats, kc * n)
            rows = Value("%gemm.tile", .ptr)
            rowStride = .i64(n)
            f.loops([.i64(kc), .i64(n)]) { i in
                let x = f.load(.float, f.element(b, f.add(f.mul(i[1], ldb), i[0]), .float), "b")
                f.store(x, f.element(rows, f.add(f.mul(i[0], .i64(n)), i[1]), .float))
            }
        }
        let fma = f.module.declare(.fmuladd(.float, width: n))
        f.loop("r", to: f.size(g.m)) { r, _ in
            let acc = f.loop("p", to: k, carrying: [("acc", Value("zeroinitializer", vector))]) { p, acc in
                let ai = g.transposeA ? f.add(f.mul(p, lda), r) : f.add(f.mul(r, lda), p)
                let av = f.load(.float, f.element(a, ai, .float), "a")
                let bRow = f.element(rows, f.mul(p, rowStride), .float)
                let bv = f.value("b", vector, "load \(vector), ptr \(bRow.ref), align 4")
                let splat = self.splat(av, n)
                return [f.value("acc", vector, "call \(vector) \(fma)(\(splat.typed), \(bv.typed), \(acc[0].typed))")]
            }[0]
            let row = f.element(c, f.mul(r, ldc), .float)
            if let epilogue {
                f.rowFloats = max(f.rowFloats, n)
                let scratch = Value("%gemm.row", .ptr)
                f.emit("store \(acc.typed), ptr \(scratch.ref), align 4")
                f.loop("q", to: .i64(n)) { q, _ in
                    let x = f.load(.float, f.element(scratch, q, .float), "acc")
                    f.store(convert(epilogue(r, q, x), to: .float), f.element(row, q, .float))
                    return []
                }
                return []
            }
            var scaled = acc
            if g.alpha != 1 || g.alphaIsNegativeLearningRate {
                scaled = f.value("scaled", vector, "fmul \(splat(alpha(g), n).typed), \(acc.ref)")
            }
            switch g.beta {
            case 0:
                f.emit("store \(scaled.typed), ptr \(row.ref), align 4")
            case 1:
                let old = f.value("c", vector, "load \(vector), ptr \(row.ref), align 4")
                f.emit("store \(vector) \(f.value("c.new", vector, "fadd \(old.typed), \(scaled.ref)").ref), ptr \(row.ref), align 4")
            default:
                let old = f.value("c", vector, "load \(vector), ptr \(row.ref), align 4")
                let kept = f.value("c.beta", vector, "fmul \(splat(.float(LL.cFloat(g.beta)), n).typed), \(old.ref)")
                f.emit("store \(vector) \(f.value("c.new", vector, "fadd \(kept.typed), \(scaled.ref)").ref), ptr \(row.ref), align 4")
            }
            return []
        }
    }

    /// `<n x float>` with every lane `x`.
    func splat(_ x: Value, _ n: Int) -> Value {
        let vector = IRType.vector(n, .float)
        let one = f.value("lane", vector, "insertelement \(vector) poison, \(x.typed), i64 0")
        return f.value("splat", vector, "shufflevector \(one.typed), \(vector) poison, <\(n) x i32> zeroinitializer")
    }

    /// The small GEMM with the pass `x` applied to each element as its row is stored; when the
    /// product's size depends on n, a large one calls BLAS and then runs `x` as its own loop.
    func gemmWithEpilogue(_ g: GemmKernel, _ x: ElementwiseKernel) {
        let numbers = x.operands.map { o -> Value? in
            if case .buffer = o { return nil }
            return operandValue(o, type: x.computeType)
        }
        let epilogue: (Value, Value, Value) -> Value = { r, q, acc in
            let reads = x.operands.enumerated().map { j, o -> Value in
                guard case .buffer(let b, let strides) = o else { return numbers[j]! }
                if b == g.c { return acc }
                return load(b, f.index([r, q], strides))
            }
            return expression(x.expr, reads, type: x.computeType)
        }
        if GemmPolicy.callsBLAS(g) == false {
            smallGemm(g, pointer(g.a), pointer(g.b), pointer(g.c), epilogue: epilogue)
        } else {
            f.ifElse(isSmall(g), "small") {
                smallGemm(g, pointer(g.a), pointer(g.b), pointer(g.c), epilogue: epilogue)
            } otherwise: {
                sgemm(g, pointer(g.a), pointer(g.b), pointer(g.c))
                elementwise(x)
            }
        }
    }
}
