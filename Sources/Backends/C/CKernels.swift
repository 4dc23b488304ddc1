import DLCDiagnostics
import DLCIR
import DLCDescriptor
import DLCLowering

/// Each kernel of the program as C: loop nests, BLAS calls, and the row-wise kernels.
struct CKernels {
    let entry: Entry
    /// The model file's name, for run-time messages (`line_grid.dl:12:20`).
    let sourceName: String
    /// In a split kernel's chunk function: the split axis (`ParallelSplit.axis`), whose loop
    /// runs from `begin_` to `end_` instead of over its whole extent.
    var splitAxis: Int? = nil

    /// The extents of `shape`'s loops (the split axis ending at `end_`) and their starts.
    func bounds(_ shape: [Affine]) -> (extents: [String], starts: [Int: String]) {
        var extents = shape.map(C.size)
        guard let axis = splitAxis else { return (extents, [:]) }
        extents[axis] = "end_"
        return (extents, [axis: "begin_"])
    }

    /// Loops over `shape` (see `bounds`).
    func loops(_ shape: [Affine], innermost: String? = nil, _ w: inout CWriter, _ body: (inout CWriter) -> Void) {
        let (extents, starts) = bounds(shape)
        w.loops(extents, starts: starts, innermost: innermost, body)
    }

    func name(_ b: BufferID) -> String { entry.buffer(b).name }

    /// `base[i0 * s0 + i1 * s1 + offset]` over the loop counters (zero strides dropped).
    static func index(_ strides: [Affine], offset: Affine = .zero) -> String {
        var terms = strides.enumerated().compactMap { i, s -> String? in
            s == .zero ? nil : (s == .one ? "i\(i)" : "i\(i) * \(C.size(s))")
        }
        if offset != .zero { terms.append(C.size(offset)) }
        return terms.isEmpty ? "0" : terms.joined(separator: " + ")
    }

    func emit(_ k: KernelBody, into w: inout CWriter) {
        switch k {
        case .elementwise(let e): elementwise(e, &w)
        case .reduce(let r): reduce(r, &w)
        case .gemm(let g): gemm(g, &w)
        case .gather(let out, let table, let index, let rows, let rowSize, let count, let location):
            let ty = C.type(entry.buffer(out).type.dtype)
            w.loops([C.size(count)]) { w in
                w.line("const int32_t r_ = \(name(index))[i0];")
                w.line("if (r_ < 0 || r_ >= \(C.size(rows))) dlc_index_error(\(place(location)), (long)r_, (long)\(C.size(rows)));")
                w.line("memcpy(\(name(out)) + i0 * \(C.size(rowSize)), \(name(table)) + (int64_t)r_ * \(C.size(rowSize)), sizeof(\(ty)) * \(C.size(rowSize)));")
            }
        case .scatterAdd(let out, let index, let updates, let rows, let rowSize, let count, let location):
            w.line("memset(\(name(out)), 0, sizeof(float) * \(C.size(rows)) * \(C.size(rowSize)));")
            w.loops([C.size(count)]) { w in
                w.line("const int32_t r_ = \(name(index))[i0];")
                w.line("if (r_ < 0 || r_ >= \(C.size(rows))) dlc_index_error(\(place(location)), (long)r_, (long)\(C.size(rows)));")
                w.block("for (int64_t j_ = 0; j_ < \(C.size(rowSize)); j_++)") { w in
                    w.line("\(name(out))[(int64_t)r_ * \(C.size(rowSize)) + j_] += \(name(updates))[i0 * \(C.size(rowSize)) + j_];")
                }
            }
        case .axis(let op, let out, let input, let v): axis(op, out, input, v, &w)
        case .oneHot(let out, let labels, let classes, let count, let location):
            w.line("memset(\(name(out)), 0, sizeof(float) * \(C.size(count)) * \(classes));")
            w.loops([C.size(count)]) { w in
                w.line("const int32_t r_ = \(name(labels))[i0];")
                w.line("if (r_ < 0 || r_ >= \(classes)) dlc_index_error(\(place(location)), (long)r_, \(classes)L);")
                w.line("\(name(out))[i0 * \(classes) + r_] = 1.0f;")
            }
        case .dropoutMask(let out, let p, let site, let outer, let rows, let inner, let training):
            if training {
                // Each element's own draw (docs/rng.md, "Dropout"): site, row position, index in the row.
                w.line("const float keep_ = (float)(1.0 / (1.0 - \(p)));")
                w.line("const uint64_t site_ = dlc_rng_draw(s->dropout->epoch_key, \(site));")
                w.loops(["\(outer)", C.size(rows)]) { w in
                    w.line("const uint64_t row_ = dlc_rng_draw(site_, (uint64_t)(s->dropout->first_row + i1));")
                    w.line("float *const m_ = \(name(out)) + (i0 * \(C.size(rows)) + i1) * \(inner);")
                    w.block("for (int64_t j_ = 0; j_ < \(inner); j_++)") { w in
                        w.line("m_[j_] = dlc_rng_unit(dlc_rng_draw(row_, (uint64_t)(i0 * \(inner) + j_))) >= \(p) ? keep_ : 0.0f;")
                    }
                }
            } else {
                w.loops([C.size(rows * (outer * inner))]) { w in w.line("\(name(out))[i0] = 1.0f;") }
            }
        case .loss(let kind, let out, let p, let y, let count, let classes):
            loss(kind, out, p, y, count, classes, &w)
        case .copy(let out, let input, let count):
            w.line("memcpy(\(name(out)), \(name(input)), sizeof(\(C.type(entry.buffer(out).type.dtype))) * \(C.size(count)));")
        case .fill(let out, let value, let count):
            let v = operand(value, index: "0", type: entry.buffer(out).type.dtype)
            w.loops([C.size(count)]) { w in w.line("\(name(out))[i0] = \(v);") }
        case .softmaxCrossEntropy(let loss, let z, let y, let p, let rows, let classes):
            softmaxCrossEntropy(loss, z, y, p, rows, classes, &w)
        case .softmaxCrossEntropyGrad(let out, let z, let y, let p, let g, let rows, let classes):
            softmaxCrossEntropyGrad(out, z, y, p, g, rows, classes, &w)
        case .stridedCopy(let out, let oo, let os, let input, let io, let ins, let shape):
            strided(out, os, input, ins, shape, [StridedTerm(outputOffset: oo, inputOffset: io)], "=", &w)
        case .stridedAccumulate(let out, let os, let input, let ins, let shape, let terms):
            strided(out, os, input, ins, shape, terms, "+=", &w)
        case .pool2d(let op, let out, let input, let argmax, let g): pool2d(op, out, input, argmax, g, &w)
        case .pool2dGrad(let op, let out, let grad, let argmax, let g): pool2dGrad(op, out, grad, argmax, g, &w)
        case .sumAcrossProcesses(let buffer, let count):
            w.line("dlc_sum_across_processes(\(name(buffer)), \(C.size(count)));")
        }
    }

    /// A strided copy or accumulation. Output and input are two buffers (the memory plan never
    /// gives a kernel's output the memory of its input), which the restrict pointers tell the
    /// C compiler, so that it vectorizes the inner loop without a run-time overlap test.
    /// Several terms are one loop over their offsets, in order (col2im's k² terms would be k²
    /// loop nests, each as long to compile).
    func strided(_ out: BufferID, _ os: [Affine], _ input: BufferID, _ ins: [Affine], _ shape: [Affine],
                 _ terms: [StridedTerm], _ assign: String, _ w: inout CWriter) {
        let (s, st) = LoopShapes.collapse(shape, [os, ins])
        let t = C.type(entry.buffer(out).type.dtype)
        // The nest from pointers `to` and `from`, the views at offsets `at` of them.
        let nest: (inout CWriter, String, String, StridedTerm) -> Void = { w, to, from, at in
            w.line("\(t) *restrict const to_ = \(to);")
            w.line("const \(t) *restrict const from_ = \(from);")
            w.loops(s.map(C.size)) { w in
                w.line("to_[\(Self.index(st[0], offset: at.outputOffset))] \(assign) from_[\(Self.index(st[1], offset: at.inputOffset))];")
            }
        }
        guard terms.count > 1 else { return nest(&w, name(out), name(input), terms[0]) }
        w.line("const int64_t to_at_[\(terms.count)] = {\(terms.map { C.size($0.outputOffset) }.joined(separator: ", "))};")
        w.line("const int64_t from_at_[\(terms.count)] = {\(terms.map { C.size($0.inputOffset) }.joined(separator: ", "))};")
        w.block("for (int64_t t_ = 0; t_ < \(terms.count); t_++)") { w in
            nest(&w, "\(name(out)) + to_at_[t_]", "\(name(input)) + from_at_[t_]", StridedTerm(outputOffset: .zero, inputOffset: .zero))
        }
    }

    /// The loops over every window of every plane: `body` runs with r0_/r1_ and c0_/c1_ the
    /// window's real rows and columns, and o_ the output cell's offset in its plane.
    func windows(_ g: PoolGeometry, _ w: inout CWriter, _ body: (inout CWriter) -> Void) {
        let (k, s, p) = (g.window.kernel, g.window.stride, g.window.padding)
        w.loops([C.size(g.planes), "\(g.outHeight)", "\(g.outWidth)"]) { w in
            w.line("const int64_t o_ = i1 * \(g.outWidth) + i2;")
            w.line("const int64_t r0_ = i1 * \(s) - \(p) < 0 ? 0 : i1 * \(s) - \(p), r1_ = i1 * \(s) - \(p) + \(k) > \(g.height) ? \(g.height) : i1 * \(s) - \(p) + \(k);")
            w.line("const int64_t c0_ = i2 * \(s) - \(p) < 0 ? 0 : i2 * \(s) - \(p), c1_ = i2 * \(s) - \(p) + \(k) > \(g.width) ? \(g.width) : i2 * \(s) - \(p) + \(k);")
            body(&w)
        }
    }

    /// Max pooling as PyTorch scans a window (from its first real cell and −inf, a cell takes
    /// over when greater or NaN), or the window's sum over kernel² (padding counted).
    func pool2d(_ op: PoolOp, _ out: BufferID, _ input: BufferID, _ argmax: BufferID?, _ g: PoolGeometry,
                _ w: inout CWriter) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        windows(g, &w) { w in
            w.line("const float *const x_ = \(name(input)) + i0 * \(plane);")
            CPooling.window(op, width: g.width, kernel: g.window.kernel, result: "\(name(out))[i0 * \(outPlane) + o_]",
                            argmax: argmax.map { "\(name($0))[i0 * \(outPlane) + o_]" }, &w)
        }
    }

    /// The gradient of pooling: zeros, then each window's gradient to its winner (max) or
    /// spread over its real cells (avg); overlapping windows add up.
    func pool2dGrad(_ op: PoolOp, _ out: BufferID, _ grad: BufferID, _ argmax: BufferID?, _ g: PoolGeometry,
                    _ w: inout CWriter) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        w.line("memset(\(name(out)), 0, sizeof(float) * \(C.size(g.planes * plane)));")
        if op == .max {
            guard let argmax else { preconditionFailure("a max pool's gradient reads the winners its forward kernel kept") }
            w.loops([C.size(g.planes), "\(outPlane)"]) { w in
                w.line("\(name(out))[i0 * \(plane) + \(name(argmax))[i0 * \(outPlane) + i1]] += \(name(grad))[i0 * \(outPlane) + i1];")
            }
            return
        }
        windows(g, &w) { w in
            w.line("float *const d_ = \(name(out)) + i0 * \(plane);")
            w.line("const float share_ = \(name(grad))[i0 * \(outPlane) + o_] / \(g.window.kernel * g.window.kernel).0f;")
            w.line("for (int64_t r = r0_; r < r1_; r++) for (int64_t q = c0_; q < c1_; q++) d_[r * \(g.width) + q] += share_;")
        }
    }

    func place(_ loc: SourceLocation?) -> String {
        C.string(loc.map { "\(sourceName):\($0.line):\($0.column)" } ?? sourceName)
    }

    /// An operand read at `index`, or its number.
    func operand(_ o: Operand, index: String, type: DType) -> String {
        switch o {
        case .buffer(let b, _): return "\(name(b))[\(index)]"
        case .immediate(let x): return type == .i32 ? C.int(x) : C.float(x)
        case .count(let c): return "(float)\(c.isConstant ? C.size(c) : "(" + C.size(c) + ")")"
        case .globalCount(let c): return C.globalCount(c, rows: "s->global_n")
        case .learningRate: return "s->lr"
        }
    }

    func elementwise(_ e: ElementwiseKernel, _ w: inout CWriter) {
        let (shape, strides) = LoopShapes.elementwiseLoops(e)
        var k = 1 + e.reductions.count
        let reads = e.operands.map { o -> String in
            if case .buffer = o { defer { k += 1 }; return operand(o, index: Self.index(strides[k]), type: e.computeType) }
            return operand(o, index: "", type: e.computeType)
        }
        let value = CExpressions.print(e.expr, reads, type: e.computeType)
        for r in e.reductions {
            if splitAxis != nil { // the columns of this chunk (ParallelLoops splits sums along them)
                w.line("memset(\(name(r.output)) + begin_, 0, sizeof(float) * (size_t)(end_ - begin_));")
            } else {
                w.line("memset(\(name(r.output)), 0, sizeof(float) * \(C.size(entry.buffer(r.output).elementCount)));")
            }
        }
        let out = "\(name(e.output))[\(Self.index(strides[0]))]"
        if e.reductions.isEmpty {
            loops(shape, &w) { w in w.line("\(out) = \(value);") }
            return
        }
        // A sum that does not move along the innermost loop (a bias gradient summed over the
        // rows) is accumulated in a register through that loop and added once after it: summed
        // into memory element by element, each add would wait for the previous one's store.
        let inner = shape.count - 1
        let hoisted = e.reductions.indices.filter { inner >= 0 && strides[1 + $0][inner] == .zero }
        let type = C.type(entry.buffer(e.output).type.dtype)
        func body(_ w: inout CWriter) {
            w.line("const \(type) v_ = \(value);")
            w.line("\(out) = v_;")
            for (i, r) in e.reductions.enumerated() {
                w.line(hoisted.contains(i) ? "acc\(i)_ += v_;" : "\(name(r.output))[\(Self.index(strides[1 + i]))] += v_;")
            }
        }
        guard !hoisted.isEmpty else {
            // Every sum moves along the innermost loop (each iteration adds into its own
            // element), but the C compiler cannot prove on its own that the stores to the
            // output and the sums do not overlap, so the loop stays scalar; `omp simd` says so
            // (3× fewer instructions in bench (b)'s relu_grad + bias gradient, 100 rows × 10).
            let wide = shape.count >= 2 && C.size(shape[inner]) != "1"
            loops(shape, innermost: wide ? "#pragma omp simd" : nil, &w, body)
            return
        }
        w.loops(shape.dropLast().map(C.size)) { w in
            for i in hoisted { w.line("float acc\(i)_ = 0.0f;") }
            w.block("for (int64_t i\(inner) = 0; i\(inner) < \(C.size(shape[inner])); i\(inner)++)", body)
            for i in hoisted { w.line("\(name(e.reductions[i].output))[\(Self.index(strides[1 + i]))] += acc\(i)_;") }
        }
    }

    func reduce(_ r: ReduceKernel, _ w: inout CWriter) {
        let out = name(r.output), count = C.size(entry.buffer(r.output).elementCount)
        let i32 = entry.buffer(r.output).type.dtype == .i32
        let initial = r.op == .max ? (i32 ? "INT32_MIN" : "-INFINITY") : (i32 ? "0" : "0.0f")
        if splitAxis != nil { // the columns of this chunk (ParallelLoops splits sums along them)
            w.line("for (int64_t j_ = begin_; j_ < end_; j_++) \(out)[j_] = \(initial);")
        } else {
            w.line(count == "1" ? "\(out)[0] = \(initial);" : "for (int64_t j_ = 0; j_ < \(count); j_++) \(out)[j_] = \(initial);")
        }
        let (shape, strides) = LoopShapes.reduceLoops(r)
        let o = "\(out)[\(Self.index(strides[1]))]", x = "\(name(r.input))[\(Self.index(strides[0]))]"
        let maxf = i32 ? "dlc_max_i32" : "dlc_maxf"
        func combine(_ into: String) -> String {
            r.op == .max ? "\(into) = \(maxf)(\(into), \(x));" : i32 ? "\(into) = dlc_add_i32(\(into), \(x));" : "\(into) += \(x);"
        }
        // An output that stays put along the innermost loop is combined in a register through
        // it, then once into memory (as the elementwise kernels' sums are).
        let inner = shape.count - 1
        guard inner >= 0, strides[1][inner] == .zero else {
            loops(shape, &w) { w in w.line(combine(o)) }
            if r.op == .mean { w.line("for (int64_t j_ = 0; j_ < \(count); j_++) \(out)[j_] /= (float)\(C.size(r.count));") }
            return
        }
        w.loops(shape.dropLast().map(C.size)) { w in
            w.line("\(i32 ? "int32_t" : "float") acc0_ = \(initial);")
            w.block("for (int64_t i\(inner) = 0; i\(inner) < \(C.size(shape[inner])); i\(inner)++)") { w in w.line(combine("acc0_")) }
            w.line(r.op == .max ? "\(o) = \(maxf)(\(o), acc0_);" : i32 ? "\(o) = dlc_add_i32(\(o), acc0_);" : "\(o) += acc0_;")
        }
        if r.op == .mean {
            w.line("for (int64_t j_ = 0; j_ < \(count); j_++) \(out)[j_] /= (float)\(C.size(r.count));")
        }
    }

    /// C = alpha·op(A)·op(B) + beta·C, once or per batch element: loops for a small product,
    /// BLAS for a large one, a run-time test between the two when the size depends on n.
    func gemm(_ g: GemmKernel, _ w: inout CWriter) {
        if let x = g.epilogue { return gemmWithEpilogue(g, x, &w) }
        func both(_ a: String, _ b: String, _ c: String, _ w: inout CWriter) {
            switch GemmPolicy.callsBLAS(g) {
            case true?: w.line(blasCall(g, a, b, c))
            case false?: smallGemm(g, a, b, c, &w)
            case nil:
                w.block("if ((int64_t)\(work(g)) <= \(GemmPolicy.smallGemm))") { w in smallGemm(g, a, b, c, &w) }
                w.block("else") { w in w.line(blasCall(g, a, b, c)) }
            }
        }
        if g.batch == .one {
            both(name(g.a), name(g.b), name(g.c), &w)
        } else {
            func at(_ b: BufferID, _ stride: Affine) -> String { stride == .zero ? name(b) : "\(name(b)) + i0 * \(C.size(stride))" }
            w.loops([C.size(g.batch)]) { w in both(at(g.a, g.strideA), at(g.b, g.strideB), at(g.c, g.strideC), &w) }
        }
    }

    /// `m * n * k` as C, for the run-time size test.
    func work(_ g: GemmKernel) -> String { "\(C.size(g.m)) * \(C.size(g.n)) * \(C.size(g.k))" }

    /// `dlc_sgemm(...)` (cblas_sgemm on the trainer's threads) computing the product on the matrices at `a`, `b`, `c`.
    func blasCall(_ g: GemmKernel, _ a: String, _ b: String, _ c: String) -> String {
        let alpha = g.alphaIsNegativeLearningRate ? "-s->lr" : C.float(g.alpha)
        let ta = g.transposeA ? "CblasTrans" : "CblasNoTrans", tb = g.transposeB ? "CblasTrans" : "CblasNoTrans"
        return "dlc_sgemm(CblasRowMajor, \(ta), \(tb), \(C.size(g.m)), \(C.size(g.n)), \(C.size(g.k)), "
            + "\(alpha), \(a), \(C.size(g.lda)), \(b), \(C.size(g.ldb)), \(C.float(g.beta)), \(c), \(C.size(g.ldc)));"
    }

    /// The small GEMM with its epilogue `x` applied to each element as its row is stored. When
    /// the product's size depends on n, a large one calls BLAS and then runs `x` as its own loop.
    func gemmWithEpilogue(_ g: GemmKernel, _ x: ElementwiseKernel, _ w: inout CWriter) {
        let reads = x.operands.map { o -> String in
            switch o {
            case .buffer(let b, let strides) where b == g.c: _ = strides; return "acc_[q]"
            case .buffer(_, let strides):
                let r = strides[0] == .zero ? "" : (strides[0] == .one ? "r" : "r * \(C.size(strides[0]))")
                let q = strides[1] == .zero ? "" : (strides[1] == .one ? "q" : "q * \(C.size(strides[1]))")
                return operand(o, index: [r, q].filter { !$0.isEmpty }.joined(separator: " + ").ifEmpty("0"), type: x.computeType)
            default: return operand(o, index: "0", type: x.computeType)
            }
        }
        let value = CExpressions.print(x.expr, reads, type: x.computeType)
        if GemmPolicy.callsBLAS(g) == false {
            smallGemm(g, name(g.a), name(g.b), name(g.c), &w, store: value)
        } else {
            w.block("if ((int64_t)\(work(g)) <= \(GemmPolicy.smallGemm))") { w in smallGemm(g, name(g.a), name(g.b), name(g.c), &w, store: value) }
            w.block("else") { w in
                w.line(blasCall(g, name(g.a), name(g.b), name(g.c)))
                elementwise(x, &w)
            }
        }
    }

    /// C = alpha·op(A)·op(B) + beta·C as loops for small products: each row of C is
    /// accumulated in a local array of the (constant) row length, which the C compiler keeps in
    /// vector registers; a transposed B is first copied into a dense k×n tile so that the
    /// innermost loop reads it contiguously. When B has a constant shape and its rows are narrow
    /// and not a multiple of the vector width (the 10-wide layers of small models), the tile's
    /// rows and the accumulator are padded with zeros to `paddedWidth`, so that the inner loop
    /// has no scalar tail. `omp simd` (the trainers are built with -fopenmp-simd) asks for the
    /// inner loops to run along q: without it GCC vectorises along p instead, summing each
    /// accumulator lane by lane to keep the order of the float additions (3.5× the instructions
    /// in the 100×10×10 product of bench (b)).
    func smallGemm(_ g: GemmKernel, _ a: String, _ b: String, _ c: String, _ w: inout CWriter, store: String? = nil) {
        let (a, b, c) = [a, b, c].map { $0.contains(" ") ? "(\($0))" : $0 }.triple
        let (m, n, k) = (C.size(g.m), C.size(g.n), C.size(g.k))
        let (lda, ldb, ldc) = (C.size(g.lda), C.size(g.ldb), C.size(g.ldc))
        let aAt = g.transposeA ? "\(a)[p * \(lda) + r]" : "\(a)[r * \(lda) + p]"
        let alpha = g.alphaIsNegativeLearningRate ? "-s->lr" : C.float(g.alpha)
        var bRow = "\(b) + p * \(ldb)"
        var width = n  // the accumulator's length and the inner loop's trip count
        if let padded = Self.paddedWidth(g) {
            w.line("float tile_[\(g.k.constant * padded)] = {0};")
            let read = g.transposeB ? "\(b)[q * \(ldb) + p]" : "\(b)[p * \(ldb) + q]"
            w.line("for (int64_t p = 0; p < \(k); p++) for (int64_t q = 0; q < \(n); q++) tile_[p * \(padded) + q] = \(read);")
            bRow = "tile_ + p * \(padded)"
            width = "\(padded)"
        } else if g.transposeB {
            w.line("float tile_[\(g.k.constant * g.n.constant)];")
            w.line("for (int64_t p = 0; p < \(k); p++) for (int64_t q = 0; q < \(n); q++) tile_[p * \(n) + q] = \(b)[q * \(ldb) + p];")
            bRow = "tile_ + p * \(n)"
        }
        if GemmPolicy.sumsBatchOutermost(g) {
            return outerProductGemm(g, aAt: aAt, bRow: bRow, c: c, alpha: alpha, &w, store: store)
        }
        w.block("for (int64_t r = 0; r < \(m); r++)") { w in
            w.line("float acc_[\(width)] = {0};")
            w.block("for (int64_t p = 0; p < \(k); p++)") { w in
                w.line("const float a_ = \(aAt);")
                w.line("const float *const b_ = \(bRow);")
                if width != "1" { w.line("#pragma omp simd") }
                w.line("for (int64_t q = 0; q < \(width); q++) acc_[q] += a_ * b_[q];")
            }
            w.line("float *const row_ = \(c) + r * \(ldc);")
            let scaled = alpha == "1.0f" ? "acc_[q]" : "\(alpha) * acc_[q]"
            if n != "1" { w.line("#pragma omp simd") }
            if let store {
                w.line("for (int64_t q = 0; q < \(n); q++) row_[q] = \(store);")
                return
            }
            switch g.beta {
            case 0: w.line("for (int64_t q = 0; q < \(n); q++) row_[q] = \(scaled);")
            case 1: w.line("for (int64_t q = 0; q < \(n); q++) row_[q] += \(scaled);")
            default: w.line("for (int64_t q = 0; q < \(n); q++) row_[q] = \(C.float(g.beta)) * row_[q] + \(scaled);")
            }
        }
    }

    /// C = alpha·Aᵀ·B + beta·C with p (the summed index) outermost (`GemmPolicy.sumsBatchOutermost`):
    /// all m×n sums live in one local array, and each p adds A's row p (times B's row p) into
    /// all of them, m or n independent vector additions at a time. Each element of C is still
    /// summed over p in order, so the result is the row-by-row loop's, bit for bit (bench (b):
    /// its fc2 and fc1 weight gradients, 100 rows each, were a quarter of the training step).
    func outerProductGemm(_ g: GemmKernel, aAt: String, bRow: String, c: String, alpha: String, _ w: inout CWriter,
                          store: String?) {
        let (m, n, k, ldc) = (C.size(g.m), C.size(g.n), C.size(g.k), C.size(g.ldc))
        w.line("float sums_[\(g.m.constant * g.n.constant)] = {0};")
        w.block("for (int64_t p = 0; p < \(k); p++)") { w in
            w.line("const float *const b_ = \(bRow);")
            if n == "1" { // one column: the sums along r are one vector
                w.line("#pragma omp simd")
                w.line("for (int64_t r = 0; r < \(m); r++) sums_[r] += \(aAt) * b_[0];")
            } else {
                w.block("for (int64_t r = 0; r < \(m); r++)") { w in
                    w.line("const float a_ = \(aAt);")
                    w.line("#pragma omp simd")
                    w.line("for (int64_t q = 0; q < \(n); q++) sums_[r * \(n) + q] += a_ * b_[q];")
                }
            }
        }
        // Row r of C from its sums, as the row-by-row loop stores its acc_ (the epilogue reads acc_[q]).
        let scaled = alpha == "1.0f" ? "acc_[q]" : "\(alpha) * acc_[q]"
        w.block("for (int64_t r = 0; r < \(m); r++)") { w in
            w.line("const float *const acc_ = sums_ + r * \(n);")
            w.line("float *const row_ = \(c) + r * \(ldc);")
            if n != "1" { w.line("#pragma omp simd") }
            if let store {
                w.line("for (int64_t q = 0; q < \(n); q++) row_[q] = \(store);")
                return
            }
            switch g.beta {
            case 0: w.line("for (int64_t q = 0; q < \(n); q++) row_[q] = \(scaled);")
            case 1: w.line("for (int64_t q = 0; q < \(n); q++) row_[q] += \(scaled);")
            default: w.line("for (int64_t q = 0; q < \(n); q++) row_[q] = \(C.float(g.beta)) * row_[q] + \(scaled);")
            }
        }
    }

    /// The padded row length of B's tile for `smallGemm`, or nil to use B as it is: only when
    /// B's k×n shape is constant, n is narrow (≤ 64) and not a multiple of 8 floats (one AVX2
    /// vector), and the tile stays small (≤ 4096 floats on the stack).
    static func paddedWidth(_ g: GemmKernel) -> Int? {
        guard g.k.isConstant, g.n.isConstant else { return nil }
        let n = g.n.constant, padded = (n + 7) / 8 * 8
        guard n > 1, n <= 64, padded != n, g.k.constant * padded <= 4096 else { return nil }
        return padded
    }

    func axis(_ op: AxisOp, _ out: BufferID, _ input: BufferID, _ v: AxisView, _ w: inout CWriter) {
        let x = name(input), y = name(out), len = C.size(v.length), inner = C.size(v.inner)
        w.loops([C.size(v.outer), inner]) { w in
            w.line("const int64_t base_ = i0 * \(len) * \(inner) + i1;")
            switch op {
            case .softmax, .logSoftmax:
                w.line("float m_ = -INFINITY;")
                w.line("for (int64_t l = 0; l < \(len); l++) m_ = dlc_maxf(m_, \(x)[base_ + l * \(inner)]);")
                w.line("float sum_ = 0.0f;")
                if op == .softmax {
                    w.block("for (int64_t l = 0; l < \(len); l++)") { w in
                        w.line("const float e_ = expf(\(x)[base_ + l * \(inner)] - m_);")
                        w.line("\(y)[base_ + l * \(inner)] = e_;")
                        w.line("sum_ += e_;")
                    }
                    w.line("for (int64_t l = 0; l < \(len); l++) \(y)[base_ + l * \(inner)] /= sum_;")
                } else {
                    w.line("for (int64_t l = 0; l < \(len); l++) sum_ += expf(\(x)[base_ + l * \(inner)] - m_);")
                    w.line("const float lse_ = m_ + logf(sum_);")
                    w.line("for (int64_t l = 0; l < \(len); l++) \(y)[base_ + l * \(inner)] = \(x)[base_ + l * \(inner)] - lse_;")
                }
            case .argmax, .maxMask:
                // The first maximum; a NaN counts as the maximum, as in PyTorch.
                w.line("int64_t best_ = 0;")
                w.block("for (int64_t l = 1; l < \(len); l++)") { w in
                    w.line("const float a_ = \(x)[base_ + l * \(inner)], b_ = \(x)[base_ + best_ * \(inner)];")
                    w.line("if (b_ == b_ && (a_ > b_ || a_ != a_)) best_ = l;")
                }
                if op == .argmax {
                    w.line("\(y)[i0 * \(inner) + i1] = (int32_t)best_;")
                } else {
                    w.line("for (int64_t l = 0; l < \(len); l++) \(y)[base_ + l * \(inner)] = l == best_ ? 1.0f : 0.0f;")
                }
            }
        }
    }

    /// One pass per row: max, sum of exponentials (kept as probabilities when asked), and
    /// the row's loss logsumexp − z[label], accumulated in double.
    func softmaxCrossEntropy(_ loss: BufferID, _ z: BufferID, _ y: BufferID, _ p: BufferID?, _ rows: Affine,
                             _ classes: Int, _ w: inout CWriter) {
        let zn = name(z)
        w.line("double acc_ = 0.0;")
        w.loops([C.size(rows)]) { w in
            w.line("const float *const z_ = \(zn) + i0 * \(classes);")
            w.line("float m_ = -INFINITY;")
            w.line("for (int64_t l = 0; l < \(classes); l++) m_ = dlc_maxf(m_, z_[l]);")
            w.line("float sum_ = 0.0f;")
            if let p {
                w.line("float *const p_ = \(name(p)) + i0 * \(classes);")
                w.line("for (int64_t l = 0; l < \(classes); l++) { p_[l] = expf(z_[l] - m_); sum_ += p_[l]; }")
                w.line("const float inv_ = 1.0f / sum_;")
                w.line("for (int64_t l = 0; l < \(classes); l++) p_[l] *= inv_;")
            } else {
                w.line("for (int64_t l = 0; l < \(classes); l++) sum_ += expf(z_[l] - m_);")
            }
            w.line("const int32_t c_ = \(name(y))[i0];")
            w.line("if (c_ < 0 || c_ >= \(classes)) dlc_index_error(\(C.string(sourceName + ": a class label")), (long)c_, \(classes)L);")
            w.line("acc_ += (double)m_ + log((double)sum_) - (double)z_[c_];")
        }
        w.line("\(name(loss))[0] = (float)(acc_ / (double)\(C.size(rows)));")
    }

    /// (softmax(z) − onehot(y))·g/rows, reading the kept probabilities (no exp recomputed) or,
    /// without them, computing the softmax again.
    func softmaxCrossEntropyGrad(_ out: BufferID, _ z: BufferID, _ y: BufferID, _ p: BufferID?, _ g: Operand,
                                 _ rows: Affine, _ classes: Int, _ w: inout CWriter) {
        w.line("const float scale_ = \(operand(g, index: "0", type: .f32)) / (float)\(C.size(rows));")
        loops([rows], &w) { w in
            w.line("const int32_t c_ = \(name(y))[i0];")
            w.line("if (c_ < 0 || c_ >= \(classes)) dlc_index_error(\(C.string(sourceName + ": a class label")), (long)c_, \(classes)L);")
            w.line("float *const d_ = \(name(out)) + i0 * \(classes);")
            if let p {
                w.line("const float *const p_ = \(name(p)) + i0 * \(classes);")
                w.line("for (int64_t l = 0; l < \(classes); l++) d_[l] = (p_[l] - (l == c_ ? 1.0f : 0.0f)) * scale_;")
            } else {
                w.line("const float *const z_ = \(name(z)) + i0 * \(classes);")
                w.line("float m_ = -INFINITY, sum_ = 0.0f;")
                w.line("for (int64_t l = 0; l < \(classes); l++) m_ = dlc_maxf(m_, z_[l]);")
                w.line("for (int64_t l = 0; l < \(classes); l++) sum_ += expf(z_[l] - m_);")
                w.line("for (int64_t l = 0; l < \(classes); l++) d_[l] = (expf(z_[l] - m_) / sum_ - (l == c_ ? 1.0f : 0.0f)) * scale_;")
            }
        }
    }

    /// Losses reduce in double, as PyTorch's CPU kernels accumulate, then round once.
    func loss(_ kind: LossKind, _ out: BufferID, _ p: BufferID, _ y: BufferID, _ count: Affine, _ classes: Int,
              _ w: inout CWriter) {
        let pn = name(p), yn = name(y)
        w.line("double acc_ = 0.0;")
        w.loops([C.size(count)]) { w in
            switch kind {
            case .mse: w.line("const double d_ = (double)\(pn)[i0] - (double)\(yn)[i0]; acc_ += d_ * d_;")
            case .l1: w.line("acc_ += fabs((double)\(pn)[i0] - (double)\(yn)[i0]);")
            case .bce:
                w.line("const double q_ = \(pn)[i0], t_ = \(yn)[i0];")
                w.line("acc_ -= t_ * fmax(log(q_), -100.0) + (1.0 - t_) * fmax(log1p(-q_), -100.0);")
            case .bceLogits:
                w.line("const double z_ = \(pn)[i0], t_ = \(yn)[i0];")
                w.line("acc_ += fmax(z_, 0.0) - z_ * t_ + log1p(exp(-fabs(z_)));")
            case .hinge:
                w.line("acc_ += fmax(0.0, 1.0 - (double)\(yn)[i0] * (double)\(pn)[i0]);")
            case .nll:
                w.line("const int32_t c_ = \(yn)[i0];")
                w.line("if (c_ < 0 || c_ >= \(classes)) dlc_index_error(\(C.string(sourceName + ": a class label")), (long)c_, \(classes)L);")
                w.line("acc_ -= \(pn)[i0 * \(classes) + c_];")
            }
        }
        w.line("\(name(out))[0] = (float)(acc_ / (double)\(C.size(count)));")
    }
}

private extension Array {
    var triple: (Element, Element, Element) { (self[0], self[1], self[2]) }
}

private extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
