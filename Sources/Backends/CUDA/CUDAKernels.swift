import DLCBackendKit
import DLCDescriptor
import DLCDiagnostics
import DLCIR
import DLCLowering

/// Each kernel of one entry as CUDA: a `__global__` function (written to `definitions`) and its
/// launch, or a cuBLAS call or a copy, in the entry's enqueue function (written to `launches`).
///
/// Layouts, all deterministic (no atomics on floats):
/// - elementwise, gather, one-hot, dropout, fills and strided copies: one thread per element, in
///   grid-stride loops;
/// - a reduction (and an elementwise pass with its fused sum): each output to one thread, which
///   adds its inputs in order, when consecutive outputs read consecutive inputs (a bias
///   gradient: coalesced reads); else each output to one block, whose threads add strided
///   shares that a tree of warp shuffles and shared memory combines (row sums, whole sums);
/// - softmax cross-entropy and losses: one block, a warp per row, the loss summed in double;
/// - softmax, log-softmax, argmax along an axis: a warp per row;
/// - scatter-add: one thread per output element, adding the updates of its row in index order;
/// - pooling: one thread per output cell; its gradient one thread per input cell, adding the
///   gradients of the windows that cover it in window order (as the C loop adds them).
final class CUDAKernels {
    let entry: Entry
    let names: CUDANames
    /// The model file's name, for messages.
    let sourceName: String
    /// The entry's kernel-name prefix ("train", "sgd", "eval", "predict").
    let prefix: String
    /// Source locations of index checks, shared by the whole file (their index is the place id).
    var places: [String]
    /// Dropout draws of the entry's earlier masks: where the next mask's draws start.

    var definitions = CWriter()
    var launches = CWriter()
    /// Whether some kernel checks an index (the entry then reads the fault record).
    var usesFaults = false
    /// The buffers the launches pass or the cuBLAS calls and copies use: the enqueue function
    /// declares these (and the roots of aliases among them).
    var referenced = Set<BufferID>()
    private var counter = 0

    init(entry: Entry, sourceName: String, prefix: String, places: [String]) {
        self.entry = entry
        self.names = CUDANames(entry)
        self.sourceName = sourceName
        self.prefix = prefix
        self.places = places
    }

    func name(_ b: BufferID) -> String { names[b] }
    func type(_ b: BufferID) -> String { C.type(entry.buffer(b).type.dtype) }

    /// The place id of a source location (or of the model file alone).
    func place(_ loc: SourceLocation?, _ what: String? = nil) -> Int {
        let text = what.map { sourceName + ": " + $0 } ?? loc.map { "\(sourceName):\($0.line):\($0.column)" } ?? sourceName
        if let i = places.firstIndex(of: text) { return i }
        places.append(text)
        return places.count - 1
    }

    // MARK: - Kernels and launches

    /// What a `__global__` function takes besides `n`: its buffers, and whether it reads the
    /// step's scalars or may report an index fault.
    struct Signature {
        var writes: [BufferID] = []
        var reads: [BufferID] = []
        var args = false
        var fault = false
    }

    /// Defines kernel `name` with `body`, and launches it on `grid` blocks of `block` threads.
    func kernel(_ suffix: String, _ sig: Signature, grid: String, block: String, comment: String?,
                         _ body: (inout CWriter) -> Void) {
        let kernelName = "\(prefix)_\(counter)_\(suffix)"
        counter += 1
        var params = ["const int64_t n"]
        var arguments = ["n"]
        var seen = Set<BufferID>()
        referenced.formUnion(sig.writes + sig.reads)
        for b in sig.writes where seen.insert(b).inserted {
            params.append("\(type(b)) *\(name(b))")
            arguments.append(name(b))
        }
        for b in sig.reads where seen.insert(b).inserted {
            params.append("const \(type(b)) *\(name(b))")
            arguments.append(name(b))
        }
        if sig.args { params.append("const dlc_cuda_step_args *args"); arguments.append("c->args") }
        if sig.fault {
            params.append("dlc_cuda_fault *fault")
            arguments.append("c->fault")
            usesFaults = true
        }
        definitions.line()
        if let comment { definitions.line(C.comment(comment)) }
        definitions.block("__global__ void \(kernelName)(\(params.joined(separator: ", ")))") { w in
            w.line("(void)n;")
            body(&w)
        }
        launches.line("DLC_LAUNCH(\(kernelName), \(grid), \(block), c->stream, \(arguments.joined(separator: ", ")));")
    }

    /// `for (e_ ...)`: a grid-stride loop over `count` items, one thread each.
    func elements(_ count: String, _ w: inout CWriter, variable: String = "e_", _ body: (inout CWriter) -> Void) {
        w.line("const int64_t total_ = \(count);")
        w.block("for (int64_t \(variable) = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; \(variable) < total_; \(variable) += (int64_t)gridDim.x * blockDim.x)", body)
    }

    func threadGrid(_ count: String) -> String { "dlc_blocks(\(count), DLC_THREADS)" }

    func emit(_ k: Kernel, comment: String?) {
        switch k.body {
        case .elementwise(let e): elementwise(e, comment: comment)
        case .reduce(let r): reduce(r, comment: comment)
        case .gemm(let g):
            gemm(g)
            // The bias and activation of a `linear`: a pass over C after the product.
            if let x = g.epilogue { elementwise(x, comment: comment) }
        case .gather(let out, let table, let index, let rows, let rowSize, let count, let location):
            let p = place(location)
            let total = "\(C.size(count)) * \(C.size(rowSize))"
            kernel("gather_" + name(out), Signature(writes: [out], reads: [table, index], fault: true),
                   grid: threadGrid(total), block: "DLC_THREADS", comment: comment) { w in
                elements(total, &w) { w in
                    w.line("const int64_t i0 = e_ / \(C.size(rowSize)), i1 = e_ % \(C.size(rowSize));")
                    w.line("const int32_t r_ = \(name(index))[i0];")
                    w.block("if (r_ < 0 || r_ >= \(C.size(rows)))") { w in
                        w.line("dlc_cuda_index_fault(fault, \(p), r_, \(C.size(rows)));")
                        w.line("\(name(out))[e_] = 0;")
                        w.line("continue;")
                    }
                    w.line("\(name(out))[e_] = \(name(table))[(int64_t)r_ * \(C.size(rowSize)) + i1];")
                }
            }
        case .scatterAdd(let out, let index, let updates, let rows, let rowSize, let count, let location):
            // Each output element adds the updates of its row in index order, as the C loop does:
            // the same sum, bit for bit, and no atomics.
            let p = place(location)
            let total = "\(C.size(rows)) * \(C.size(rowSize))"
            kernel("scatter_add_" + name(out), Signature(writes: [out], reads: [index, updates], fault: true),
                   grid: threadGrid(total), block: "DLC_THREADS", comment: comment) { w in
                elements(total, &w) { w in
                    w.line("const int64_t i0 = e_ / \(C.size(rowSize)), i1 = e_ % \(C.size(rowSize));")
                    w.line("float acc_ = 0.0f;")
                    w.block("for (int64_t j_ = 0; j_ < \(C.size(count)); j_++)") { w in
                        w.line("const int32_t r_ = \(name(index))[j_];")
                        w.line("if (r_ == i0) acc_ += \(name(updates))[j_ * \(C.size(rowSize)) + i1];")
                        w.line("else if (e_ == 0 && (r_ < 0 || r_ >= \(C.size(rows)))) dlc_cuda_index_fault(fault, \(p), r_, \(C.size(rows)));")
                    }
                    w.line("\(name(out))[e_] = acc_;")
                }
            }
        case .axis(let op, let out, let input, let v): axis(op, out, input, v, comment: comment)
        case .oneHot(let out, let labels, let classes, let count, let location):
            let p = place(location)
            let total = "\(C.size(count)) * \(classes)"
            kernel("one_hot_" + name(out), Signature(writes: [out], reads: [labels], fault: true),
                   grid: threadGrid(total), block: "DLC_THREADS", comment: comment) { w in
                elements(total, &w) { w in
                    w.line("const int32_t r_ = \(name(labels))[e_ / \(classes)];")
                    w.line("if (e_ % \(classes) == 0 && (r_ < 0 || r_ >= \(classes))) dlc_cuda_index_fault(fault, \(p), r_, \(classes));")
                    w.line("\(name(out))[e_] = r_ == e_ % \(classes) ? 1.0f : 0.0f;")
                }
            }
        case .dropoutMask(let out, let p, let site, let outer, let rows, let inner, let training):
            let total = C.size(rows * (outer * inner))
            if training {
                // Each element's own draw (docs/rng.md, "Dropout"): site, row position, index in the row.
                let rowCount = C.size(rows)
                kernel("dropout_" + name(out), Signature(writes: [out], args: true), grid: threadGrid(total),
                       block: "DLC_THREADS", comment: comment) { w in
                    w.line("const float keep_ = (float)(1.0 / (1.0 - \(p)));")
                    elements(total, &w) { w in
                        w.line("const int64_t i0_ = e_ / (\(rowCount) * \(inner)), i1_ = e_ / \(inner) % \(rowCount), j_ = e_ % \(inner);")
                        w.line("\(name(out))[e_] = dlc_dropout_unit(args->dropout_epoch_key, \(site), (uint64_t)(args->dropout_first_row + i1_), (uint64_t)(i0_ * \(inner) + j_)) >= \(p) ? keep_ : 0.0f;")
                    }
                }
            } else {
                kernel("ones_" + name(out), Signature(writes: [out]), grid: threadGrid(total), block: "DLC_THREADS",
                       comment: comment) { w in
                    elements(total, &w) { w in w.line("\(name(out))[e_] = 1.0f;") }
                }
            }
        case .loss(let kind, let out, let p, let y, let count, let classes):
            loss(kind, out, p, y, count, classes, comment: comment)
        case .copy(let out, let input, let count):
            referenced.formUnion([out, input])
            launches.line("DLC_CUDA(cudaMemcpyAsync(\(name(out)), \(name(input)), sizeof(\(type(out))) * \(C.size(count)), cudaMemcpyDeviceToDevice, c->stream));")
        case .fill(let out, let value, let count):
            var sig = Signature(writes: [out])
            if case .buffer(let b, _) = value { sig.reads.append(b) }
            if value.readsStepArgs { sig.args = true }
            let v = operand(value, index: "0", type: entry.buffer(out).type.dtype)
            kernel("fill_" + name(out), sig, grid: threadGrid(C.size(count)), block: "DLC_THREADS", comment: comment) { w in
                elements(C.size(count), &w) { w in w.line("\(name(out))[e_] = \(v);") }
            }
        case .softmaxCrossEntropy(let loss, let z, let y, let p, let rows, let classes):
            softmaxCrossEntropy(loss, z, y, p, rows, classes, comment: comment)
        case .softmaxCrossEntropyGrad(let out, let z, let y, let p, let g, let rows, let classes):
            softmaxCrossEntropyGrad(out, z, y, p, g, rows, classes, comment: comment)
        case .stridedCopy(let out, let oo, let os, let input, let io, let ins, let shape):
            let (s, st) = LoopShapes.collapse(shape, [os, ins])
            let total = CUDANames.product(s)
            kernel("copy_" + name(out), Signature(writes: [out], reads: [input]), grid: threadGrid(total),
                   block: "DLC_THREADS", comment: comment) { w in
                elements(total, &w) { w in
                    CUDANames.decompose("e_", axes: Array(s.indices), extents: s, rest: "rest_", &w)
                    w.line("\(name(out))[\(CUDANames.index(st[0], offset: oo))] = \(name(input))[\(CUDANames.index(st[1], offset: io))];")
                }
            }
        case .stridedAccumulate(let out, let os, let input, let ins, let shape, let terms):
            // The output positions of one term are distinct: a thread each, no atomics; a launch
            // per term, in order, so that terms adding to one position never race.
            let (s, st) = LoopShapes.collapse(shape, [os, ins])
            let total = CUDANames.product(s)
            for t in terms {
                kernel("accumulate_" + name(out), Signature(writes: [out], reads: [input]), grid: threadGrid(total),
                       block: "DLC_THREADS", comment: comment) { w in
                    elements(total, &w) { w in
                        CUDANames.decompose("e_", axes: Array(s.indices), extents: s, rest: "rest_", &w)
                        w.line("\(name(out))[\(CUDANames.index(st[0], offset: t.outputOffset))] += \(name(input))[\(CUDANames.index(st[1], offset: t.inputOffset))];")
                    }
                }
            }
        case .pool2d(let op, let out, let input, let argmax, let g): pool2d(op, out, input, argmax, g, comment: comment)
        case .pool2dGrad(let op, let out, let grad, let argmax, let g): pool2dGrad(op, out, grad, argmax, g, comment: comment)
        case .sumAcrossProcesses(let buffer, let count):
            // A host call between launches, ordered on the stream (the communicator's copies
            // and NCCL use it): the entry is not captured as a CUDA Graph (CUDAPrinter).
            referenced.insert(buffer)
            if let comment { launches.line(C.comment(comment)) }
            launches.line("dlc_sum_across_processes(\(name(buffer)), \(C.size(count)));")
        }
    }

    // MARK: - Pooling (the C backend's rules: Sources/Backends/C/CKernels.swift)

    /// The real rows [lo_, hi_) of window `i` along an axis of `size` cells, declared as
    /// `NAME0_` and `NAME1_`.
    func windowSpan(_ i: String, _ size: Int, _ g: PoolGeometry, _ name: String, _ w: inout CWriter) {
        let (k, s, p) = (g.window.kernel, g.window.stride, g.window.padding)
        w.line("const int64_t \(name)0_ = \(i) * \(s) - \(p) < 0 ? 0 : \(i) * \(s) - \(p);")
        w.line("const int64_t \(name)1_ = \(i) * \(s) - \(p) + \(k) > \(size) ? \(size) : \(i) * \(s) - \(p) + \(k);")
    }

    /// One thread per output cell: the window's maximum as PyTorch scans it (and the winner's
    /// offset in its plane), or its sum over kernel².
    func pool2d(_ op: PoolOp, _ out: BufferID, _ input: BufferID, _ argmax: BufferID?, _ g: PoolGeometry, comment: String?) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let total = "\(C.size(g.planes)) * \(outPlane)"
        kernel("\(op.rawValue)_pool_" + name(out), Signature(writes: [out] + (argmax.map { [$0] } ?? []), reads: [input]),
               grid: threadGrid(total), block: "DLC_THREADS", comment: comment) { w in
            elements(total, &w) { w in
                w.line("const int64_t i0 = e_ / \(outPlane), oi_ = e_ % \(outPlane);")
                windowSpan("(oi_ / \(g.outWidth))", g.height, g, "r", &w)
                windowSpan("(oi_ % \(g.outWidth))", g.width, g, "c", &w)
                w.line("const float *x_ = \(name(input)) + i0 * \(plane);")
                CPooling.window(op, width: g.width, kernel: g.window.kernel, result: "\(name(out))[e_]",
                                argmax: argmax.map { "\(name($0))[e_]" }, &w)
            }
        }
    }

    /// One thread per input cell, adding the gradient of every window that covers it, in window
    /// order: a max pool's when the window's winner is this cell, an average pool's over kernel².
    func pool2dGrad(_ op: PoolOp, _ out: BufferID, _ grad: BufferID, _ argmax: BufferID?, _ g: PoolGeometry,
                    comment: String?) {
        let (k, s, p) = (g.window.kernel, g.window.stride, g.window.padding)
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let total = "\(C.size(g.planes)) * \(plane)"
        kernel("\(op.rawValue)_pool_grad_" + name(out), Signature(writes: [out], reads: [grad] + (argmax.map { [$0] } ?? [])),
               grid: threadGrid(total), block: "DLC_THREADS", comment: comment) { w in
            elements(total, &w) { w in
                w.line("const int64_t i0 = e_ / \(plane), cell_ = e_ % \(plane), r = cell_ / \(g.width), q = cell_ % \(g.width);")
                // Windows i with i·s − p ≤ r < i·s − p + k: i from ceil((r + p − k + 1) / s) to floor((r + p) / s).
                w.line("const int64_t ri0_ = r + \(p) - \(k) + 1 <= 0 ? 0 : (r + \(p) - \(k) + \(s)) / \(s);")
                w.line("const int64_t ri1_ = (r + \(p)) / \(s) + 1 < \(g.outHeight) ? (r + \(p)) / \(s) + 1 : \(g.outHeight);")
                w.line("const int64_t ci0_ = q + \(p) - \(k) + 1 <= 0 ? 0 : (q + \(p) - \(k) + \(s)) / \(s);")
                w.line("const int64_t ci1_ = (q + \(p)) / \(s) + 1 < \(g.outWidth) ? (q + \(p)) / \(s) + 1 : \(g.outWidth);")
                w.line("float acc_ = 0.0f;")
                w.block("for (int64_t wi_ = ri0_; wi_ < ri1_; wi_++) for (int64_t wj_ = ci0_; wj_ < ci1_; wj_++)") { w in
                    let at = "i0 * \(outPlane) + wi_ * \(g.outWidth) + wj_"
                    switch op {
                    case .max:
                        guard let argmax else { preconditionFailure("a max pool's gradient reads the winners its forward kernel kept") }
                        w.line("if (\(name(argmax))[\(at)] == cell_) acc_ += \(name(grad))[\(at)];")
                    case .avg:
                        w.line("acc_ += \(name(grad))[\(at)] / \(k * k).0f;")
                    }
                }
                w.line("\(name(out))[e_] = acc_;")
            }
        }
    }

    /// An operand read at `index`, or its number.
    func operand(_ o: Operand, index: String, type: DType) -> String {
        switch o {
        case .buffer(let b, _): return "\(name(b))[\(index)]"
        case .immediate(let x): return type == .i32 ? C.int(x) : C.float(x)
        case .count(let c): return "(float)\(c.isConstant ? C.size(c) : "(" + C.size(c) + ")")"
        case .globalCount(let c): return C.globalCount(c, rows: "args->global_n")
        case .learningRate: return "args->lr"
        }
    }

    // MARK: - Elementwise and reductions

    func elementwise(_ e: ElementwiseKernel, comment: String?) {
        let outStrides = LoopShapes.contiguous(e.shape)
        // The first reduction is taken in the same pass; any other one re-reads the output.
        let fused = e.reductions.first
        var all = [outStrides] + (fused.map { [$0.outputStrides] } ?? [])
        for o in e.operands { if case .buffer(_, let s) = o { all.append(s) } }
        let (shape, strides) = LoopShapes.collapse(e.shape, all)
        var k = fused == nil ? 1 : 2
        let reads = e.operands.map { o -> String in
            if case .buffer = o { defer { k += 1 }; return operand(o, index: CUDANames.index(strides[k]), type: e.computeType) }
            return operand(o, index: "", type: e.computeType)
        }
        let value = CExpressions.print(e.expr, reads, type: e.computeType)
        var sig = Signature(writes: [e.output])
        for o in e.operands {
            if case .buffer(let b, _) = o { sig.reads.append(b) }
            if o.readsStepArgs { sig.args = true }
        }
        let out = "\(name(e.output))[\(CUDANames.index(strides[0]))]"
        if let r = fused {
            sig.writes.append(r.output)
            let reduced = reduction(shape: shape, outputStrides: strides[1], output: r.output, op: r.op, count: r.count,
                                    outType: type(r.output))
            kernel(name(e.output), sig, grid: reduced.grid, block: reduced.block, comment: comment) { w in
                reduced.body(&w) { w in
                    w.line("const \(type(e.output)) v_ = \(value);")
                    w.line("\(out) = v_;")
                    w.line("acc_ = \(reduced.combine("acc_", "v_"));")
                }
            }
            for extra in e.reductions.dropFirst() {
                var pass = extra
                pass.input = e.output
                pass.shape = e.shape
                pass.inputStrides = outStrides
                reduce(pass, comment: nil)
            }
            return
        }
        let total = CUDANames.product(shape)
        kernel(name(e.output), sig, grid: threadGrid(total), block: "DLC_THREADS", comment: comment) { w in
            elements(total, &w) { w in
                CUDANames.decompose("e_", axes: Array(shape.indices), extents: shape, rest: "rest_", &w)
                w.line("\(out) = \(value);")
            }
        }
    }

    func reduce(_ r: ReduceKernel, comment: String?) {
        let (shape, strides) = LoopShapes.collapse(r.shape, [r.inputStrides, r.outputStrides])
        let reduced = reduction(shape: shape, outputStrides: strides[1], output: r.output, op: r.op, count: r.count,
                                outType: type(r.output))
        let x = "\(name(r.input))[\(CUDANames.index(strides[0]))]"
        kernel(name(r.output), Signature(writes: [r.output], reads: [r.input]),
               grid: reduced.grid, block: reduced.block, comment: comment) { w in
            reduced.body(&w) { w in w.line("acc_ = \(reduced.combine("acc_", x));") }
        }
    }

    /// How a reduction over `shape` into the output (strides 0 on the reduced axes) is laid
    /// out: the launch, and the loops around the per-element lines, which combine into `acc_`.
    struct Reduction {
        var grid: String, block: String
        var combine: (String, String) -> String
        var body: (inout CWriter, (inout CWriter) -> Void) -> Void
    }

    func reduction(shape: [Affine], outputStrides: [Affine], output: BufferID, op: ReduceOp, count: Affine,
                   outType: String) -> Reduction {
        let kept = shape.indices.filter { outputStrides[$0] != .zero }
        let summed = shape.indices.filter { outputStrides[$0] == .zero }
        let outputs = CUDANames.product(kept.map { shape[$0] }), length = CUDANames.product(summed.map { shape[$0] })
        let i32 = outType == "int32_t"
        let identity = op == .max ? (i32 ? "INT32_MIN" : "-INFINITY") : (i32 ? "0" : "0.0f")
        let functor = op == .max ? "dlc_max_op()" : i32 ? "dlc_wrapping_sum_op()" : "dlc_sum_op()"
        let combine: (String, String) -> String = { a, b in
            op == .max ? (i32 ? "dlc_max_i32(\(a), \(b))" : "dlc_maxf(\(a), \(b))") : i32 ? "dlc_add_i32(\(a), \(b))" : "\(a) + \(b)"
        }
        let target = "\(name(output))[\(CUDANames.index(outputStrides))]"
        let store: (inout CWriter) -> Void = { w in
            if op == .mean {
                w.line("\(target) = acc_ / (float)\(C.size(count));")
            } else {
                w.line("\(target) = acc_;")
            }
        }
        // One thread per output when consecutive outputs read consecutive inputs (coalesced).
        if let last = shape.indices.last, kept.contains(last), !summed.isEmpty {
            return Reduction(grid: threadGrid(outputs), block: "DLC_THREADS", combine: combine) { [self] w, element in
                elements(outputs, &w, variable: "o_") { w in
                    CUDANames.decompose("o_", axes: kept, extents: shape, rest: "ro_", &w)
                    w.line("\(outType) acc_ = \(identity);")
                    w.block("for (int64_t r_ = 0; r_ < \(length); r_++)") { w in
                        CUDANames.decompose("r_", axes: summed, extents: shape, rest: "rr_", &w)
                        element(&w)
                    }
                    store(&w)
                }
            }
        }
        // Else one block per output, its threads over the reduced elements.
        return Reduction(grid: "dlc_blocks(\(outputs), 1)", block: "dlc_reduce_threads(\(length))", combine: combine) { w, element in
            w.block("for (int64_t o_ = blockIdx.x; o_ < \(outputs); o_ += gridDim.x)") { w in
                CUDANames.decompose("o_", axes: kept, extents: shape, rest: "ro_", &w)
                w.line("\(outType) acc_ = \(identity);")
                w.block("for (int64_t r_ = threadIdx.x; r_ < \(length); r_ += blockDim.x)") { w in
                    CUDANames.decompose("r_", axes: summed, extents: shape, rest: "rr_", &w)
                    element(&w)
                }
                w.line("acc_ = dlc_block_reduce(acc_, \(functor), (\(outType))\(identity));")
                w.block("if (threadIdx.x == 0)", store)
            }
        }
    }

    // MARK: - GEMM

    /// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first.
    func gemm(_ g: GemmKernel) {
        let ta = g.transposeA ? "CUBLAS_OP_T" : "CUBLAS_OP_N", tb = g.transposeB ? "CUBLAS_OP_T" : "CUBLAS_OP_N"
        let dims = "(int)\(C.size(g.n)), (int)\(C.size(g.m)), (int)\(C.size(g.k))"
        let (alpha, beta): (String, String)
        if g.alphaIsNegativeLearningRate {
            // An SGD update: alpha = −lr is read from the device, so a replayed graph uses each step's rate.
            precondition(g.beta == 0 || g.beta == 1, "an SGD product with beta \(g.beta)")
            alpha = "&c->args->neg_lr"
            beta = g.beta == 0 ? "&c->args->zero" : "&c->args->one"
            launches.line("DLC_CUBLAS(cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_DEVICE));")
        } else {
            launches.line("const float alpha_\(counter) = \(C.float(g.alpha)), beta_\(counter) = \(C.float(g.beta));")
            (alpha, beta) = ("&alpha_\(counter)", "&beta_\(counter)")
            counter += 1
        }
        referenced.formUnion([g.a, g.b, g.c])
        let (a, b, c) = (name(g.a), name(g.b), name(g.c))
        if g.batch == .one {
            launches.line("DLC_CUBLAS(cublasSgemm(c->blas, \(tb), \(ta), \(dims), \(alpha), \(b), (int)\(C.size(g.ldb)), "
                + "\(a), (int)\(C.size(g.lda)), \(beta), \(c), (int)\(C.size(g.ldc))));")
        } else {
            launches.line("DLC_CUBLAS(cublasSgemmStridedBatched(c->blas, \(tb), \(ta), \(dims), \(alpha), \(b), "
                + "(int)\(C.size(g.ldb)), \(C.size(g.strideB)), \(a), (int)\(C.size(g.lda)), \(C.size(g.strideA)), "
                + "\(beta), \(c), (int)\(C.size(g.ldc)), \(C.size(g.strideC)), (int)\(C.size(g.batch))));")
        }
        if g.alphaIsNegativeLearningRate {
            launches.line("DLC_CUBLAS(cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));")
        }
    }

    // MARK: - Rows: softmax and friends

    /// A warp per row of `rows`, `warps` of them per block: declares `row_` and `lane_`.
    func warpRows(_ rows: String, _ w: inout CWriter, _ body: (inout CWriter) -> Void) {
        w.line("const int lane_ = threadIdx.x % 32;")
        w.line("const int64_t warps_ = (int64_t)gridDim.x * (blockDim.x / 32);")
        w.block("for (int64_t row_ = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32; row_ < \(rows); row_ += warps_)", body)
    }

    func warpGrid(_ rows: String) -> String { "dlc_blocks(\(rows), DLC_THREADS / 32)" }

    /// `m_` (the maximum, NaN-propagating) and `sum_` (of exp(x − m_)) of a row read as
    /// `read(l)` for l in 0..<length, every lane of the warp ending with both.
    func rowMaxAndSum(_ length: String, _ read: (String) -> String, _ w: inout CWriter, exps: ((String) -> String)? = nil) {
        w.line("float m_ = -INFINITY;")
        w.line("for (int64_t l_ = lane_; l_ < \(length); l_ += 32) m_ = dlc_maxf(m_, \(read("l_")));")
        w.line("m_ = dlc_warp_reduce(m_, dlc_max_op());")
        w.line("m_ = __shfl_sync(0xffffffffu, m_, 0);")
        w.line("float sum_ = 0.0f;")
        if let store = exps {
            w.block("for (int64_t l_ = lane_; l_ < \(length); l_ += 32)") { w in
                w.line("const float x_ = expf(\(read("l_")) - m_);")
                w.line(store("x_"))
                w.line("sum_ += x_;")
            }
        } else {
            w.line("for (int64_t l_ = lane_; l_ < \(length); l_ += 32) sum_ += expf(\(read("l_")) - m_);")
        }
        w.line("sum_ = dlc_warp_reduce(sum_, dlc_sum_op());")
        w.line("sum_ = __shfl_sync(0xffffffffu, sum_, 0);")
    }

    func axis(_ op: AxisOp, _ out: BufferID, _ input: BufferID, _ v: AxisView, comment: String?) {
        let x = name(input), y = name(out), len = C.size(v.length), inner = C.size(v.inner)
        let rows = "\(C.size(v.outer)) * \(inner)"
        kernel("\(op.rawValue)_\(y)", Signature(writes: [out], reads: [input]), grid: warpGrid(rows), block: "DLC_THREADS",
               comment: comment) { w in
            warpRows(rows, &w) { w in
                w.line("const int64_t base_ = row_ / \(inner) * \(len) * \(inner) + row_ % \(inner);")
                let at = { (l: String) in "\(x)[base_ + \(l) * \(inner)]" }
                let to = { (l: String) in "\(y)[base_ + \(l) * \(inner)]" }
                switch op {
                case .softmax:
                    // Each lane divides the elements it wrote itself: no barrier needed.
                    rowMaxAndSum(len, at, &w, exps: { v in "\(to("l_")) = \(v);" })
                    w.line("for (int64_t l_ = lane_; l_ < \(len); l_ += 32) \(to("l_")) /= sum_;")
                case .logSoftmax:
                    rowMaxAndSum(len, at, &w)
                    w.line("const float lse_ = m_ + logf(sum_);")
                    w.line("for (int64_t l_ = lane_; l_ < \(len); l_ += 32) \(to("l_")) = \(at("l_")) - lse_;")
                case .argmax, .maxMask:
                    // The first maximum, a NaN counting as the maximum (PyTorch): each lane scans
                    // its elements in order, then lanes combine, the lower index winning ties.
                    w.line("float best_ = 0.0f;")
                    w.line("int64_t bi_ = -1;")
                    w.block("for (int64_t l_ = lane_; l_ < \(len); l_ += 32)") { w in
                        w.line("const float x_ = \(at("l_"));")
                        w.line("if (bi_ < 0 || (best_ == best_ && (x_ > best_ || x_ != x_))) { best_ = x_; bi_ = l_; }")
                    }
                    w.block("for (int d_ = 16; d_ > 0; d_ /= 2)") { w in
                        w.line("const float other_ = __shfl_down_sync(0xffffffffu, best_, d_);")
                        w.line("const int64_t oi_ = __shfl_down_sync(0xffffffffu, bi_, d_);")
                        w.line("if (oi_ >= 0 && (bi_ < 0 || dlc_first_max_wins(other_, oi_, best_, bi_))) { best_ = other_; bi_ = oi_; }")
                    }
                    w.line("bi_ = __shfl_sync(0xffffffffu, bi_, 0);")
                    if op == .argmax {
                        w.line("if (lane_ == 0) \(y)[row_] = (int32_t)bi_;")
                    } else {
                        w.line("for (int64_t l_ = lane_; l_ < \(len); l_ += 32) \(to("l_")) = l_ == bi_ ? 1.0f : 0.0f;")
                    }
                }
            }
        }
    }

    /// One block: a warp per row, each row's max, sum of exponentials (the probabilities kept
    /// when asked) and loss logsumexp − z[label]; the rows' losses summed in double.
    func softmaxCrossEntropy(_ loss: BufferID, _ z: BufferID, _ y: BufferID, _ p: BufferID?, _ rows: Affine,
                                      _ classes: Int, comment: String?) {
        let where_ = place(nil, "a class label")
        var sig = Signature(writes: [loss], reads: [z, y], fault: true)
        if let p { sig.writes.append(p) }
        kernel("softmax_cross_entropy_" + name(loss), sig, grid: "1", block: "1024", comment: comment) { w in
            w.line("double acc_ = 0.0;")
            w.line("const int lane_ = threadIdx.x % 32;")
            w.block("for (int64_t row_ = threadIdx.x / 32; row_ < \(C.size(rows)); row_ += blockDim.x / 32)") { w in
                let at = { (l: String) in "\(self.name(z))[row_ * \(classes) + \(l)]" }
                if let p {
                    rowMaxAndSum(String(classes), at, &w, exps: { v in "\(self.name(p))[row_ * \(classes) + l_] = \(v);" })
                    w.line("const float inv_ = 1.0f / sum_;")
                    w.line("for (int64_t l_ = lane_; l_ < \(classes); l_ += 32) \(name(p))[row_ * \(classes) + l_] *= inv_;")
                } else {
                    rowMaxAndSum(String(classes), at, &w)
                }
                w.block("if (lane_ == 0)") { w in
                    w.line("const int32_t label_ = \(name(y))[row_];")
                    w.block("if (label_ < 0 || label_ >= \(classes))") { w in
                        w.line("dlc_cuda_index_fault(fault, \(where_), label_, \(classes));")
                        w.line("continue;")
                    }
                    w.line("acc_ += (double)m_ + log((double)sum_) - (double)\(at("label_"));")
                }
            }
            w.line("acc_ = dlc_block_reduce(acc_, dlc_sum_op(), 0.0);")
            w.line("if (threadIdx.x == 0) \(name(loss))[0] = (float)(acc_ / (double)\(C.size(rows)));")
        }
    }

    /// (softmax(z) − onehot(y))·g/rows, a warp per row.
    func softmaxCrossEntropyGrad(_ out: BufferID, _ z: BufferID, _ y: BufferID, _ p: BufferID?, _ g: Operand,
                                          _ rows: Affine, _ classes: Int, comment: String?) {
        let where_ = place(nil, "a class label")
        var sig = Signature(writes: [out], reads: [y], fault: true)
        if let p { sig.reads.append(p) } else { sig.reads.append(z) }
        if case .buffer(let b, _) = g { sig.reads.append(b) }
        if g.readsStepArgs { sig.args = true }
        let rowsText = C.size(rows)
        kernel("softmax_cross_entropy_grad_" + name(out), sig, grid: warpGrid(rowsText), block: "DLC_THREADS",
               comment: comment) { w in
            w.line("const float scale_ = \(operand(g, index: "0", type: .f32)) / (float)\(rowsText);")
            warpRows(rowsText, &w) { w in
                w.line("const int32_t label_ = \(name(y))[row_];")
                w.block("if (label_ < 0 || label_ >= \(classes))") { w in
                    w.line("if (lane_ == 0) dlc_cuda_index_fault(fault, \(where_), label_, \(classes));")
                    w.line("continue;")
                }
                let d = { (l: String) in "\(self.name(out))[row_ * \(classes) + \(l)]" }
                if let p {
                    w.line("for (int64_t l_ = lane_; l_ < \(classes); l_ += 32) \(d("l_")) = (\(name(p))[row_ * \(classes) + l_] - (l_ == label_ ? 1.0f : 0.0f)) * scale_;")
                } else {
                    let at = { (l: String) in "\(self.name(z))[row_ * \(classes) + \(l)]" }
                    rowMaxAndSum(String(classes), at, &w)
                    w.line("for (int64_t l_ = lane_; l_ < \(classes); l_ += 32) \(d("l_")) = (expf(\(at("l_")) - m_) / sum_ - (l_ == label_ ? 1.0f : 0.0f)) * scale_;")
                }
            }
        }
    }

    /// A loss reduced in double over one block, then rounded once, as the C kernels do.
    func loss(_ kind: LossKind, _ out: BufferID, _ p: BufferID, _ y: BufferID, _ count: Affine, _ classes: Int,
                       comment: String?) {
        let pn = name(p), yn = name(y)
        var sig = Signature(writes: [out], reads: [p, y])
        let where_ = kind == .nll ? place(nil, "a class label") : 0
        if kind == .nll { sig.fault = true }
        kernel("loss_" + name(out), sig, grid: "1", block: "1024", comment: comment) { w in
            w.line("double acc_ = 0.0;")
            w.block("for (int64_t e_ = threadIdx.x; e_ < \(C.size(count)); e_ += blockDim.x)") { w in
                switch kind {
                case .mse: w.line("const double d_ = (double)\(pn)[e_] - (double)\(yn)[e_]; acc_ += d_ * d_;")
                case .l1: w.line("acc_ += fabs((double)\(pn)[e_] - (double)\(yn)[e_]);")
                case .bce:
                    w.line("const double q_ = \(pn)[e_], t_ = \(yn)[e_];")
                    w.line("acc_ -= t_ * fmax(log(q_), -100.0) + (1.0 - t_) * fmax(log1p(-q_), -100.0);")
                case .bceLogits:
                    w.line("const double z_ = \(pn)[e_], t_ = \(yn)[e_];")
                    w.line("acc_ += fmax(z_, 0.0) - z_ * t_ + log1p(exp(-fabs(z_)));")
                case .hinge:
                    w.line("acc_ += fmax(0.0, 1.0 - (double)\(yn)[e_] * (double)\(pn)[e_]);")
                case .nll:
                    w.line("const int32_t label_ = \(yn)[e_];")
                    w.block("if (label_ < 0 || label_ >= \(classes))") { w in
                        w.line("dlc_cuda_index_fault(fault, \(where_), label_, \(classes));")
                        w.line("continue;")
                    }
                    w.line("acc_ -= \(pn)[e_ * \(classes) + label_];")
                }
            }
            w.line("acc_ = dlc_block_reduce(acc_, dlc_sum_op(), 0.0);")
            w.line("if (threadIdx.x == 0) \(name(out))[0] = (float)(acc_ / (double)\(C.size(count)));")
        }
    }
}

extension Operand {
    /// Whether a kernel reading it needs the step's scalars (`args`).
    var readsStepArgs: Bool {
        switch self {
        case .learningRate, .globalCount: return true
        default: return false
        }
    }
}
