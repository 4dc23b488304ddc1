import DLCDiagnostics
import DLCIR
import DLCLowering

/// Each kernel of an entry as IR, with the semantics of the C backend's code for it
/// (Sources/Backends/C/CKernels.swift): the same loops, in the same order, over the same
/// elements, accumulating in the same types.
struct KernelEmitter {
    let f: IRFunction
    let entry: Entry
    /// The model file's name, for run-time messages (`line_grid.dl:12:20`).
    let sourceName: String
    /// In a split kernel's chunk function: the split axis (`ParallelSplit.axis`) and the
    /// range of it the function runs (its parameters).
    var split: (axis: Int, begin: Value, end: Value)? = nil

    /// Loops over `shape`, the split axis over the chunk's range only.
    func loops(_ shape: [Affine], _ body: ([Value]) -> Void) {
        var extents = shape.map(f.size), starts: [Int: Value] = [:]
        if let split {
            extents[split.axis] = split.end
            starts[split.axis] = split.begin
        }
        f.loops(extents, starts: starts, body)
    }

    func name(_ b: BufferID) -> String { entry.buffer(b).name }
    func pointer(_ b: BufferID) -> Value { Value("%" + entry.buffer(b).name, .ptr) }
    func type(_ b: BufferID) -> IRType { .of(entry.buffer(b).type.dtype) }

    /// `b[index]`.
    func load(_ b: BufferID, _ index: Value) -> Value {
        f.load(type(b), address(b, index), name(b))
    }

    /// `b[index] = v`, converted to b's element type as a C assignment would.
    func store(_ v: Value, _ b: BufferID, _ index: Value) {
        f.store(convert(v, to: type(b)), address(b, index))
    }

    func address(_ b: BufferID, _ index: Value) -> Value {
        if index.constant == 0 { return pointer(b) }
        return f.value(name(b) + ".at", .ptr, "getelementptr inbounds \(type(b)), ptr \(pointer(b).ref), i64 \(index.ref)")
    }

    /// A pointer `count` elements into b (`b + count` in C).
    func advanced(_ b: BufferID, by count: Value) -> Value {
        advanced(pointer(b), type(b), by: count, name(b))
    }

    func advanced(_ p: Value, _ t: IRType, by count: Value, _ what: String) -> Value {
        if count.constant == 0 { return p }
        return f.value(what + ".row", .ptr, "getelementptr inbounds \(t), ptr \(p.ref), i64 \(count.ref)")
    }

    /// The bytes of `count` elements of b's type.
    func bytes(_ count: Value) -> Value { f.mul(count, .i64(4), "bytes") }

    /// An operand that is not read per element: a buffer's first element, or its number.
    func operandValue(_ o: Operand, type: DType) -> Value {
        switch o {
        case .buffer(let b, _): return load(b, .i64(0))
        case .immediate(let x): return type == .i32 ? .i32(LL.cInt(x)) : .float(LL.cFloat(x))
        case .count(let c): return convert(f.size(c), to: .float)
        case .globalCount(let c): return convert(f.globalSize(c), to: .float)
        case .learningRate: return f.field(.lr)
        }
    }

    func place(_ loc: SourceLocation?) -> String {
        loc.map { "\(sourceName):\($0.line):\($0.column)" } ?? sourceName
    }

    var classLabel: String { sourceName + ": a class label" }

    /// An i32 read of `b[index]`, bounds-checked against `size` (an index or a class label).
    func checkedIndex(_ b: BufferID, _ index: Value, size: Int, place: String) -> Value {
        checkedIndex(b, index, size: .i64(size), place: place)
    }

    func checkedIndex(_ b: BufferID, _ index: Value, size: Value, place: String) -> Value {
        let r = load(b, index)
        f.boundsCheck(r, size: size, where: place)
        return r
    }

    // MARK: - Kernels

    func emit(_ k: KernelBody) {
        switch k {
        case .elementwise(let e): elementwise(e)
        case .reduce(let r): reduce(r)
        case .gemm(let g): gemm(g)
        case .gather(let out, let table, let index, let rows, let rowSize, let count, let location):
            let row = f.size(rowSize), rows = f.size(rows)
            f.loop("i0", to: f.size(count)) { i, _ in
                let r = checkedIndex(index, i, size: rows, place: place(location))
                let to = advanced(out, by: f.mul(i, row))
                let from = advanced(table, by: f.mul(convert(r, to: .i64), row))
                f.memcpy(to, from, bytes: bytes(row))
                return []
            }
        case .scatterAdd(let out, let index, let updates, let rows, let rowSize, let count, let location):
            let row = f.size(rowSize), rows = f.size(rows)
            f.memset0(pointer(out), bytes: bytes(f.mul(rows, row)))
            f.loop("i0", to: f.size(count)) { i, _ in
                let r = checkedIndex(index, i, size: rows, place: place(location))
                let target = f.mul(convert(r, to: .i64), row), source = f.mul(i, row)
                f.loop("j", to: row) { j, _ in
                    let at = f.add(target, j)
                    store(add(load(out, at), load(updates, f.add(source, j))), out, at)
                    return []
                }
                return []
            }
        case .axis(let op, let out, let input, let v): axis(op, out, input, v)
        case .oneHot(let out, let labels, let classes, let count, let location):
            let n = f.size(count)
            f.memset0(pointer(out), bytes: bytes(f.mul(n, .i64(classes))))
            f.loop("i0", to: n) { i, _ in
                let r = checkedIndex(labels, i, size: classes, place: place(location))
                store(.float(1), out, f.add(f.mul(i, .i64(classes)), convert(r, to: .i64)))
                return []
            }
        case .dropoutMask(let out, let p, let site, let outer, let rows, let inner, let training):
            if training {
                // (float)(1.0 / (1.0 - p)) in double, as C computes it; each element's own draw
                // from its site, its row's position and its index in the row (docs/rng.md).
                let keep = Value.float(Float(1.0 / (1.0 - p)))
                let dropout = f.field(.dropout)  // const dlc_dropout *: { i64 epoch_key, i64 first_row }
                let epochKey = f.load(.i64, dropout, "epoch_key")
                let firstRow = f.load(.i64, f.value("first_row.at", .ptr, "getelementptr inbounds i8, ptr \(dropout.ref), i64 8"),
                                      "first_row")
                let siteKey = call(.rngDraw, .i64, [epochKey, .i64(site)], "site")
                let rowCount = f.size(rows)
                f.loop("i0", to: .i64(outer)) { o, _ in
                    f.loop("i1", to: rowCount) { r, _ in
                        let rowKey = call(.rngDraw, .i64, [siteKey, f.add(firstRow, r, "position")], "row")
                        let base = f.mul(f.add(f.mul(o, rowCount), r), .i64(inner), "base")
                        let first = f.mul(o, .i64(inner), "element")
                        f.loop("j", to: .i64(inner)) { j, _ in
                            let bits = call(.rngDraw, .i64, [rowKey, f.add(first, j)], "bits")
                            let u = call(.rngUnit, .double, [bits], "u")
                            let kept = f.value("kept", .i1, "fcmp oge double \(u.ref), \(LL.double(p))")
                            store(f.value("mask", .float, "select i1 \(kept.ref), float \(keep.ref), float 0.0"), out,
                                  f.add(base, j))
                            return []
                        }
                        return []
                    }
                    return []
                }
            } else {
                f.loop("i0", to: f.size(rows * (outer * inner))) { i, _ in
                    store(.float(1), out, i)
                    return []
                }
            }
        case .loss(let kind, let out, let p, let y, let count, let classes):
            loss(kind, out, p, y, count, classes)
        case .copy(let out, let input, let count):
            f.memcpy(pointer(out), pointer(input), bytes: bytes(f.size(count)))
        case .fill(let out, let value, let count):
            let v = operandValue(value, type: entry.buffer(out).type.dtype)
            f.loop("i0", to: f.size(count)) { i, _ in
                store(v, out, i)
                return []
            }
        case .softmaxCrossEntropy(let loss, let z, let y, let p, let rows, let classes):
            softmaxCrossEntropy(loss, z, y, p, rows, classes)
        case .softmaxCrossEntropyGrad(let out, let z, let y, let p, let g, let rows, let classes):
            softmaxCrossEntropyGrad(out, z, y, p, g, rows, classes)
        case .stridedCopy(let out, let oo, let os, let input, let io, let ins, let shape):
            let (s, st) = LoopShapes.collapse(shape, [os, ins])
            f.loops(s.map(f.size)) { i in
                store(load(input, f.index(i, st[1], offset: io)), out, f.index(i, st[0], offset: oo))
            }
        case .stridedAccumulate(let out, let os, let input, let ins, let shape, let terms):
            let (s, st) = LoopShapes.collapse(shape, [os, ins])
            for t in terms {
                f.loops(s.map(f.size)) { i in
                    let at = f.index(i, st[0], offset: t.outputOffset)
                    store(add(load(out, at), load(input, f.index(i, st[1], offset: t.inputOffset))), out, at)
                }
            }
        case .pool2d(let op, let out, let input, let argmax, let g): pool2d(op, out, input, argmax, g)
        case .pool2dGrad(let op, let out, let grad, let argmax, let g): pool2dGrad(op, out, grad, argmax, g)
        case .sumAcrossProcesses(let buffer, let count):
            let fn = f.module.declare(.sumAcrossProcesses)
            f.emit("call void \(fn)(ptr \(pointer(buffer).ref), i64 \(f.size(count).ref))")
        }
    }

    // MARK: - Pooling (the C backend's loops: Sources/Backends/C/CKernels.swift)

    /// `lo < hi ? lo : hi`-style clamps of i64 values.
    func clamp(_ v: Value, atLeast lo: Int) -> Value {
        let below = f.value("below", .i1, "icmp slt i64 \(v.ref), \(lo)")
        return f.value("lo", .i64, "select i1 \(below.ref), i64 \(lo), i64 \(v.ref)")
    }

    func clamp(_ v: Value, atMost hi: Int) -> Value {
        let above = f.value("above", .i1, "icmp sgt i64 \(v.ref), \(hi)")
        return f.value("hi", .i64, "select i1 \(above.ref), i64 \(hi), i64 \(v.ref)")
    }

    /// Every window of every plane: `body` gets the plane, the output cell's offset in its
    /// plane, and the window's real rows [r0, r1) and columns [c0, c1).
    func windows(_ g: PoolGeometry, _ body: (_ plane: Value, _ cell: Value, _ rows: (Value, Value), _ cols: (Value, Value)) -> Void) {
        let (k, s, p) = (g.window.kernel, g.window.stride, g.window.padding)
        f.loops([f.size(g.planes), .i64(g.outHeight), .i64(g.outWidth)]) { i in
            let cell = f.add(f.mul(i[1], .i64(g.outWidth)), i[2], "cell")
            func span(_ counter: Value, _ size: Int) -> (Value, Value) {
                let start = f.add(f.mul(counter, .i64(s)), .i64(-p), "start")
                return (clamp(start, atLeast: 0), clamp(f.add(start, .i64(k), "end"), atMost: size))
            }
            body(i[0], cell, span(i[1], g.height), span(i[2], g.width))
        }
    }

    /// The winner of a window of the plane at `x` (PyTorch's scan), as (maximum, offset).
    func windowMaximum(_ x: BufferID, plane: Value, _ g: PoolGeometry, _ rows: (Value, Value),
                       _ cols: (Value, Value)) -> (Value, Value) {
        let first = f.add(f.mul(rows.0, .i64(g.width)), cols.0, "first")
        let result = f.loop("r", from: rows.0, to: rows.1, carrying: [("m", .float(-.infinity)), ("best", first)]) { r, outer in
            f.loop("q", from: cols.0, to: cols.1, carrying: [("m", outer[0]), ("best", outer[1])]) { q, inner in
                let at = f.add(f.mul(r, .i64(g.width)), q, "cell")
                let v = load(x, f.add(plane, at))
                let greater = f.value("greater", .i1, "fcmp ogt float \(v.ref), \(inner[0].ref)")
                let nan = f.value("nan", .i1, "fcmp uno float \(v.ref), 0.0")
                let wins = f.value("wins", .i1, "or i1 \(greater.ref), \(nan.ref)")
                return [f.value("m", .float, "select i1 \(wins.ref), float \(v.ref), float \(inner[0].ref)"),
                        f.value("best", .i64, "select i1 \(wins.ref), i64 \(at.ref), i64 \(inner[1].ref)")]
            }
        }
        return (result[0], result[1])
    }

    func pool2d(_ op: PoolOp, _ out: BufferID, _ input: BufferID, _ argmax: BufferID?, _ g: PoolGeometry) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        windows(g) { i, cell, rows, cols in
            let base = f.mul(i, .i64(plane), "plane")
            let at = f.add(f.mul(i, .i64(outPlane)), cell)
            switch op {
            case .max:
                let (m, best) = windowMaximum(input, plane: base, g, rows, cols)
                store(m, out, at)
                if let argmax { store(convert(best, to: .i32), argmax, at) }
            case .avg:
                let sum = f.loop("r", from: rows.0, to: rows.1, carrying: [("sum", .float(0))]) { r, outer in
                    f.loop("q", from: cols.0, to: cols.1, carrying: [("sum", outer[0])]) { q, inner in
                        let v = load(input, f.add(base, f.add(f.mul(r, .i64(g.width)), q)))
                        return [f.value("sum", .float, "fadd float \(inner[0].ref), \(v.ref)")]
                    }
                }[0]
                let area = Value.float(Float(g.window.kernel * g.window.kernel))
                store(f.value("avg", .float, "fdiv float \(sum.ref), \(area.ref)"), out, at)
            }
        }
    }

    func pool2dGrad(_ op: PoolOp, _ out: BufferID, _ grad: BufferID, _ argmax: BufferID?, _ g: PoolGeometry) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        f.memset0(pointer(out), bytes: bytes(f.size(g.planes * plane)))
        if op == .max {
            guard let argmax else { preconditionFailure("a max pool's gradient reads the winners its forward kernel kept") }
            f.loops([f.size(g.planes), .i64(outPlane)]) { i in
                let from = f.add(f.mul(i[0], .i64(outPlane)), i[1])
                let to = f.add(f.mul(i[0], .i64(plane)), convert(load(argmax, from), to: .i64))
                store(add(load(out, to), load(grad, from)), out, to)
            }
            return
        }
        windows(g) { i, cell, rows, cols in
            let base = f.mul(i, .i64(plane), "plane")
            let gv = load(grad, f.add(f.mul(i, .i64(outPlane)), cell))
            let area = Value.float(Float(g.window.kernel * g.window.kernel))
            let share = f.value("share", .float, "fdiv float \(gv.ref), \(area.ref)")
            f.loop("r", from: rows.0, to: rows.1) { r, _ in
                f.loop("q", from: cols.0, to: cols.1) { q, _ in
                    let to = f.add(base, f.add(f.mul(r, .i64(g.width)), q))
                    store(add(load(out, to), share), out, to)
                    return []
                }
                return []
            }
        }
    }

    /// `a + b` in their (common) element type: wrapping for i32.
    func add(_ a: Value, _ b: Value) -> Value {
        let (x, y) = usual(a, b)
        return f.value("sum", x.type, x.type == .i32 ? "add i32 \(x.ref), \(y.ref)" : "fadd \(x.typed), \(y.ref)")
    }

    func elementwise(_ e: ElementwiseKernel) {
        let (shape, strides) = LoopShapes.elementwiseLoops(e)
        for r in e.reductions {
            if let split { // the columns of this chunk (ParallelLoops splits sums along them)
                let count = f.value("count", .i64, "sub nsw i64 \(split.end.ref), \(split.begin.ref)")
                f.memset0(advanced(r.output, by: split.begin), bytes: bytes(count))
            } else {
                f.memset0(pointer(r.output), bytes: bytes(f.size(entry.buffer(r.output).elementCount)))
            }
        }
        // Numbers are the same at every element: computed once, before the loops.
        let numbers = e.operands.map { o -> Value? in
            if case .buffer = o { return nil }
            return operandValue(o, type: e.computeType)
        }
        loops(shape) { i in
            var k = 1 + e.reductions.count
            let reads = e.operands.enumerated().map { j, o -> Value in
                guard case .buffer(let b, _) = o else { return numbers[j]! }
                defer { k += 1 }
                return load(b, f.index(i, strides[k]))
            }
            let v = convert(expression(e.expr, reads, type: e.computeType), to: type(e.output))
            store(v, e.output, f.index(i, strides[0]))
            for (j, r) in e.reductions.enumerated() {
                let at = f.index(i, strides[1 + j])
                store(add(load(r.output, at), v), r.output, at)
            }
        }
    }

    func reduce(_ r: ReduceKernel) {
        let out = r.output, t = type(out)
        let count = f.size(entry.buffer(out).elementCount)
        // -INFINITY for a float max; an i32 max starts at INT32_MIN (C would convert -inf).
        let initial: Value = r.op == .max ? (t == .i32 ? .i32(Int32.min) : .float(-.infinity)) : (t == .i32 ? .i32(0) : .float(0))
        // A chunk's columns only (ParallelLoops splits sums along them).
        f.loop("j", from: split?.begin ?? .i64(0), to: split?.end ?? count) { j, _ in
            store(initial, out, j)
            return []
        }
        let (shape, strides) = LoopShapes.reduceLoops(r)
        loops(shape) { i in
            let at = f.index(i, strides[1])
            let o = load(out, at), x = load(r.input, f.index(i, strides[0]))
            let v: Value
            if r.op == .max {
                v = t == .i32 ? call(.maxI32, .i32, [o, convert(x, to: .i32)], "max") : call(.maxf, .float, [o, convert(x, to: .float)], "max")
            } else {
                v = add(o, x)
            }
            store(v, out, at)
        }
        if r.op == .mean {
            let divisor = convert(f.size(r.count), to: .float)
            f.loop("j", to: count) { j, _ in
                let v = load(out, j)
                store(f.value("mean", .float, "fdiv float \(convert(v, to: .float).ref), \(divisor.ref)"), out, j)
                return []
            }
        }
    }

    func axis(_ op: AxisOp, _ out: BufferID, _ input: BufferID, _ v: AxisView) {
        let len = f.size(v.length), inner = f.size(v.inner)
        f.loops([f.size(v.outer), inner]) { i in
            let base = f.add(f.mul(f.mul(i[0], len), inner), i[1], "base")
            func at(_ l: Value) -> Value { f.add(base, f.mul(l, inner)) }
            switch op {
            case .softmax, .logSoftmax:
                let m = f.loop("l", to: len, carrying: [("m", .float(-.infinity))]) { l, m in
                    [call(.maxf, .float, [m[0], load(input, at(l))], "max")]
                }[0]
                if op == .softmax {
                    let sum = f.loop("l", to: len, carrying: [("sum", .float(0))]) { l, s in
                        let e = exp(f.value("shifted", .float, "fsub float \(load(input, at(l)).ref), \(m.ref)"))
                        store(e, out, at(l))
                        return [f.value("sum", .float, "fadd float \(s[0].ref), \(e.ref)")]
                    }[0]
                    f.loop("l", to: len) { l, _ in
                        let a = at(l)
                        store(f.value("p", .float, "fdiv float \(load(out, a).ref), \(sum.ref)"), out, a)
                        return []
                    }
                } else {
                    let sum = f.loop("l", to: len, carrying: [("sum", .float(0))]) { l, s in
                        let e = exp(f.value("shifted", .float, "fsub float \(load(input, at(l)).ref), \(m.ref)"))
                        return [f.value("sum", .float, "fadd float \(s[0].ref), \(e.ref)")]
                    }[0]
                    let lse = f.value("lse", .float, "fadd float \(m.ref), \(intrinsic("log", sum).ref)")
                    f.loop("l", to: len) { l, _ in
                        let a = at(l)
                        store(f.value("y", .float, "fsub float \(load(input, a).ref), \(lse.ref)"), out, a)
                        return []
                    }
                }
            case .argmax, .maxMask:
                // The first maximum; a NaN counts as the maximum, as in PyTorch.
                let best = f.loop("l", from: .i64(1), to: len, carrying: [("best", .i64(0))]) { l, best in
                    let a = load(input, at(l)), b = load(input, at(best[0]))
                    let bNumber = f.value("b.ok", .i1, "fcmp oeq float \(b.ref), \(b.ref)")
                    let greater = f.value("greater", .i1, "fcmp ogt float \(a.ref), \(b.ref)")
                    let aNaN = f.value("a.nan", .i1, "fcmp une float \(a.ref), \(a.ref)")
                    let wins = f.value("wins", .i1, "or i1 \(greater.ref), \(aNaN.ref)")
                    let take = f.value("take", .i1, "and i1 \(bNumber.ref), \(wins.ref)")
                    return [f.value("best", .i64, "select i1 \(take.ref), i64 \(l.ref), i64 \(best[0].ref)")]
                }[0]
                if op == .argmax {
                    store(convert(best, to: .i32), out, f.add(f.mul(i[0], inner), i[1]))
                } else {
                    f.loop("l", to: len) { l, _ in
                        let hit = f.value("hit", .i1, "icmp eq i64 \(l.ref), \(best.ref)")
                        store(f.value("mask", .float, "select i1 \(hit.ref), float 1.0, float 0.0"), out, at(l))
                        return []
                    }
                }
            }
        }
    }

    func exp(_ x: Value) -> Value { intrinsic("exp", x) }

    /// One pass per row: max, sum of exponentials (kept as probabilities when asked), and
    /// the row's loss logsumexp − z[label], accumulated in double.
    func softmaxCrossEntropy(_ loss: BufferID, _ z: BufferID, _ y: BufferID, _ p: BufferID?, _ rows: Affine, _ classes: Int) {
        let c = Value.i64(classes), n = f.size(rows)
        let total = f.loop("i0", to: n, carrying: [("acc", .double(0))]) { i, acc in
            let rowStart = f.mul(i, c)
            let m = f.loop("l", to: c, carrying: [("m", .float(-.infinity))]) { l, m in
                [call(.maxf, .float, [m[0], load(z, f.add(rowStart, l))], "max")]
            }[0]
            let sum: Value
            if let p {
                sum = f.loop("l", to: c, carrying: [("sum", .float(0))]) { l, s in
                    let at = f.add(rowStart, l)
                    let e = exp(f.value("shifted", .float, "fsub float \(load(z, at).ref), \(m.ref)"))
                    store(e, p, at)
                    return [f.value("sum", .float, "fadd float \(s[0].ref), \(load(p, at).ref)")]
                }[0]
                let inv = f.value("inv", .float, "fdiv float 1.0, \(sum.ref)")
                f.loop("l", to: c) { l, _ in
                    let at = f.add(rowStart, l)
                    store(f.value("p", .float, "fmul float \(load(p, at).ref), \(inv.ref)"), p, at)
                    return []
                }
            } else {
                sum = f.loop("l", to: c, carrying: [("sum", .float(0))]) { l, s in
                    let e = exp(f.value("shifted", .float, "fsub float \(load(z, f.add(rowStart, l)).ref), \(m.ref)"))
                    return [f.value("sum", .float, "fadd float \(s[0].ref), \(e.ref)")]
                }[0]
            }
            let label = checkedIndex(y, i, size: classes, place: classLabel)
            let logSum = intrinsic("log", convert(sum, to: .double), .double)
            let lse = f.value("lse", .double, "fadd double \(convert(m, to: .double).ref), \(logSum.ref)")
            let picked = convert(load(z, f.add(rowStart, convert(label, to: .i64))), to: .double)
            let term = f.value("term", .double, "fsub double \(lse.ref), \(picked.ref)")
            return [f.value("acc", .double, "fadd double \(acc[0].ref), \(term.ref)")]
        }[0]
        storeMean(total, count: n, into: loss)
    }

    /// `out[0] = (float)(acc / (double)count)`.
    func storeMean(_ total: Value, count: Value, into out: BufferID) {
        let mean = f.value("mean", .double, "fdiv double \(total.ref), \(convert(count, to: .double).ref)")
        store(convert(mean, to: .float), out, .i64(0))
    }

    /// (softmax(z) − onehot(y))·g/rows, reading the kept probabilities or, without them,
    /// computing the softmax again.
    func softmaxCrossEntropyGrad(_ out: BufferID, _ z: BufferID, _ y: BufferID, _ p: BufferID?, _ g: Operand,
                                 _ rows: Affine, _ classes: Int) {
        let c = Value.i64(classes), n = f.size(rows)
        let scale = f.value("scale", .float,
                            "fdiv float \(convert(operandValue(g, type: .f32), to: .float).ref), \(convert(n, to: .float).ref)")
        f.loop("i0", from: split?.begin ?? .i64(0), to: split?.end ?? n) { i, _ in
            let label = convert(checkedIndex(y, i, size: classes, place: classLabel), to: .i64)
            let rowStart = f.mul(i, c)
            func oneHot(_ l: Value) -> Value {
                let hit = f.value("hit", .i1, "icmp eq i64 \(l.ref), \(label.ref)")
                return f.value("onehot", .float, "select i1 \(hit.ref), float 1.0, float 0.0")
            }
            if let p {
                f.loop("l", to: c) { l, _ in
                    let at = f.add(rowStart, l)
                    let d = f.value("d", .float, "fsub float \(load(p, at).ref), \(oneHot(l).ref)")
                    store(f.value("grad", .float, "fmul float \(d.ref), \(scale.ref)"), out, at)
                    return []
                }
            } else {
                let m = f.loop("l", to: c, carrying: [("m", .float(-.infinity))]) { l, m in
                    [call(.maxf, .float, [m[0], load(z, f.add(rowStart, l))], "max")]
                }[0]
                let sum = f.loop("l", to: c, carrying: [("sum", .float(0))]) { l, s in
                    let e = exp(f.value("shifted", .float, "fsub float \(load(z, f.add(rowStart, l)).ref), \(m.ref)"))
                    return [f.value("sum", .float, "fadd float \(s[0].ref), \(e.ref)")]
                }[0]
                f.loop("l", to: c) { l, _ in
                    let at = f.add(rowStart, l)
                    let e = exp(f.value("shifted", .float, "fsub float \(load(z, at).ref), \(m.ref)"))
                    let q = f.value("p", .float, "fdiv float \(e.ref), \(sum.ref)")
                    let d = f.value("d", .float, "fsub float \(q.ref), \(oneHot(l).ref)")
                    store(f.value("grad", .float, "fmul float \(d.ref), \(scale.ref)"), out, at)
                    return []
                }
            }
            return []
        }
    }

    /// Losses reduce in double, as PyTorch's CPU kernels accumulate, then round once.
    func loss(_ kind: LossKind, _ out: BufferID, _ p: BufferID, _ y: BufferID, _ count: Affine, _ classes: Int) {
        let n = f.size(count)
        func d(_ op: String, _ a: Value, _ b: Value, _ what: String) -> Value {
            f.value(what, .double, "\(op) double \(a.ref), \(b.ref)")
        }
        func fmax(_ a: Value, _ b: Value) -> Value {
            let name = f.module.declare(.intrinsic("maxnum", .double, arity: 2))
            return f.value("fmax", .double, "call double \(name)(double \(a.ref), double \(b.ref))")
        }
        let total = f.loop("i0", to: n, carrying: [("acc", .double(0))]) { i, acc in
            let acc = acc[0]
            switch kind {
            case .mse:
                let diff = d("fsub", convert(load(p, i), to: .double), convert(load(y, i), to: .double), "d")
                return [d("fadd", acc, d("fmul", diff, diff, "sq"), "acc")]
            case .l1:
                let diff = d("fsub", convert(load(p, i), to: .double), convert(load(y, i), to: .double), "d")
                return [d("fadd", acc, intrinsic("fabs", diff, .double), "acc")]
            case .bce:
                let q = convert(load(p, i), to: .double), t = convert(load(y, i), to: .double)
                let logQ = fmax(intrinsic("log", q, .double), .double(-100))
                let negQ = f.value("neg", .double, "fneg double \(q.ref)")
                let log1pName = f.module.declare(.log1p)
                let log1mQ = fmax(f.value("log1p", .double, "call double \(log1pName)(double \(negQ.ref))"), .double(-100))
                let a = d("fmul", t, logQ, "pos")
                let b = d("fmul", d("fsub", .double(1), t, "one_minus_t"), log1mQ, "neg")
                return [d("fsub", acc, d("fadd", a, b, "term"), "acc")]
            case .bceLogits:
                let zv = convert(load(p, i), to: .double), t = convert(load(y, i), to: .double)
                let relu = fmax(zv, .double(0))
                let zt = d("fmul", zv, t, "zt")
                let absNeg = f.value("neg_abs", .double, "fneg double \(intrinsic("fabs", zv, .double).ref)")
                let log1pName = f.module.declare(.log1p)
                let soft = f.value("log1p", .double, "call double \(log1pName)(double \(intrinsic("exp", absNeg, .double).ref))")
                let term = d("fadd", d("fsub", relu, zt, "lin"), soft, "term")
                return [d("fadd", acc, term, "acc")]
            case .hinge:
                let margin = d("fmul", convert(load(y, i), to: .double), convert(load(p, i), to: .double), "margin")
                return [d("fadd", acc, fmax(.double(0), d("fsub", .double(1), margin, "gap")), "acc")]
            case .nll:
                let label = checkedIndex(y, i, size: classes, place: classLabel)
                let picked = load(p, f.add(f.mul(i, .i64(classes)), convert(label, to: .i64)))
                return [d("fsub", acc, convert(picked, to: .double), "acc")]
            }
        }[0]
        storeMean(total, count: n, into: out)
    }
}
