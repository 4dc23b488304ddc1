import DLCIR

/// `dlc compile --emit kernels`: the lowered program as text, entry by entry: the memory plan
/// (every buffer and where it lives), then the kernels in order with the IR value each computes.
public enum KernelPrinter {
    public static func print(_ p: KernelProgram) -> String {
        let g = p.graph
        let paramBytes = g.params.reduce(0) { $0 + $1.type.shape.fixedElementCount * 4 }
        let o = g.train.optimizer
        let slots = o.kind == .sgd ? (o.momentum > 0 ? 1 : 0) : o.kind == .adagrad ? 1 : 2
        var out = "kernels \(g.name)\n"
        out += "  params \(paramBytes) bytes, grads \(paramBytes) bytes, optimizer \(slots * paramBytes) bytes (\(o.kind.rawValue)), arena \(p.arenaBytes) bytes"
        if let b = g.train.batch, !g.data.isEmpty { out += " (\(p.arenaBytes.value(batch: b)) at batch \(b))" }
        out += "\n"
        for e in p.entries { out += entry(e) }
        return out
    }

    static func entry(_ e: Entry) -> String {
        var out = "\nentry \(e.kind.rawValue)"
        if let why = e.unavailable { return out + ": unavailable: \(why)\n" }
        out += "  arena \(e.arenaBytes) bytes\n"
        let width = max(8, e.buffers.map(\.name.count).max() ?? 0)
        for b in e.buffers {
            out += "  buffer " + b.name.padding(width) + "  " + b.type.description.padding(14) + "  " + storage(b.storage, e) + "\n"
        }
        for k in e.kernels {
            let node = k.node.map { "# %\($0.index)" } ?? ""
            out += "  " + (kernel(k.body, e) + " ").padding(67) + node + "\n"
            if case .gemm(let g) = k.body, let x = g.epilogue {
                out += "  " + ("  then " + kernel(.elementwise(x), e) + " ").padding(67) + node + "\n"
            }
        }
        if let l = e.loss { out += "  loss \(e.buffer(l).name)\n" }
        for (i, o) in e.outputs.enumerated() { out += "  output \(i) = \(e.buffer(o).name)\n" }
        return out
    }

    static func storage(_ s: Storage, _ e: Entry) -> String {
        switch s {
        case .param(let i): return "param \(i)"
        case .grad(let i): return "grad \(i)"
        case .data(let i): return "data \(i)"
        case .state(let i): return "state \(i)"
        case .arena(let offset): return "arena @\(offset)"
        case .alias(let b): return "alias of \(e.buffer(b).name)"
        }
    }

    static func operand(_ o: Operand, _ e: Entry) -> String {
        switch o {
        case .buffer(let b, let strides): return "\(e.buffer(b).name)[\(strides.map(\.description).joined(separator: ","))]"
        case .immediate(let x): return "\(x)"
        case .count(let c): return "count(\(c))"
        case .globalCount(let c): return "global_count(\(c))"
        case .learningRate: return "lr"
        }
    }

    static func expr(_ x: ScalarExpr, _ ops: [String]) -> String {
        switch x {
        case .operand(let i): return ops[i]
        case .unary(let u, let a): return "\(u.rawValue)(\(expr(a, ops)))"
        case .pow(let a, let c): return "pow(\(expr(a, ops)), \(c))"
        case .binary(let b, let a, let c): return "\(b.rawValue)(\(expr(a, ops)), \(expr(c, ops)))"
        case .select(let c, let a, let b): return "where(\(expr(c, ops)), \(expr(a, ops)), \(expr(b, ops)))"
        }
    }

    static func kernel(_ k: KernelBody, _ e: Entry) -> String {
        func n(_ b: BufferID) -> String { e.buffer(b).name }
        func dims(_ d: [Affine]) -> String { "[" + d.map(\.description).joined(separator: ",") + "]" }
        switch k {
        case .elementwise(let x):
            return "\(n(x.output)) = loop\(dims(x.shape)) \(expr(x.expr, x.operands.map { operand($0, e) }))"
                + x.reductions.map { "; \(n($0.output))\(dims($0.outputStrides)) sum= it" }.joined()
        case .reduce(let r):
            return "\(n(r.output))\(dims(r.outputStrides)) \(r.op.rawValue)= loop\(dims(r.shape)) \(n(r.input))"
        case .gemm(let g):
            var s = "\(n(g.c)) = gemm(\(n(g.a))\(g.transposeA ? "^T" : ""), \(n(g.b))\(g.transposeB ? "^T" : "")) m=\(g.m) n=\(g.n) k=\(g.k)"
            if g.batch != .one { s += " batch=\(g.batch)" }
            if g.alphaIsNegativeLearningRate { s += " alpha=-lr beta=\(g.beta)" }
            else if g.alpha != 1 || g.beta != 0 { s += " alpha=\(g.alpha) beta=\(g.beta)" }
            return s
        case .gather(let out, let table, let index, let rows, let rowSize, let count, _):
            return "\(n(out)) = gather(\(n(table))[\(rows) rows of \(rowSize)], \(n(index))[\(count)])"
        case .scatterAdd(let out, let index, let updates, let rows, let rowSize, _, _):
            return "\(n(out))[\(rows) rows of \(rowSize)] = scatter_add(\(n(index)), \(n(updates)))"
        case .axis(let op, let out, let input, let v):
            return "\(n(out)) = \(op.rawValue)(\(n(input)) as [\(v.outer),\(v.length),\(v.inner)])"
        case .oneHot(let out, let labels, let classes, _, _):
            return "\(n(out)) = one_hot(\(n(labels)), \(classes))"
        case .dropoutMask(let out, let p, let site, let outer, let rows, let inner, let training):
            return "\(n(out)) = dropout_mask(p=\(p), site=\(site), [\(outer),\(rows),\(inner)])" + (training ? "" : " = 1")
        case .loss(let kind, let out, let p, let y, let count, _):
            return "\(n(out)) = \(kind.rawValue)(\(n(p)), \(n(y))) / \(count)"
        case .copy(let out, let input, let count):
            return "\(n(out)) = copy(\(n(input)), \(count))"
        case .fill(let out, let value, let count):
            return "\(n(out)) = fill(\(operand(value, e)), \(count))"
        case .softmaxCrossEntropy(let loss, let z, let y, let p, let rows, let classes):
            return "\(n(loss)) = softmax_cross_entropy(\(n(z))[\(rows),\(classes)], \(n(y)))" + (p.map { " keeping \(n($0))" } ?? "")
        case .softmaxCrossEntropyGrad(let out, let z, let y, let p, let g, _, _):
            return "\(n(out)) = softmax_cross_entropy_grad(\(p.map(n) ?? n(z)), \(n(y))) * \(operand(g, e))"
        case .stridedCopy(let out, let oo, let os, let input, let io, let ins, let shape):
            return "\(n(out))[\(oo) + \(dims(os))] = \(n(input))[\(io) + \(dims(ins))] over \(dims(shape))"
        case .stridedAccumulate(let out, let os, let input, let ins, let shape, let terms):
            if terms.count == 1 {
                let t = terms[0]
                return "\(n(out))[\(t.outputOffset) + \(dims(os))] += \(n(input))[\(t.inputOffset) + \(dims(ins))] over \(dims(shape))"
            }
            // The terms in order, each as (output offset, input offset).
            let at = terms.map { "(\($0.outputOffset), \($0.inputOffset))" }.joined(separator: " ")
            return "\(n(out))[\(dims(os))] += \(n(input))[\(dims(ins))] over \(dims(shape)) at \(at)"
        case .pool2d(let op, let out, let input, let argmax, let g):
            return "\(n(out)) = \(op.rawValue)_pool(\(n(input)) as \(geometry(g)))" + (argmax.map { " keeping \(n($0))" } ?? "")
        case .pool2dGrad(let op, let out, let grad, let argmax, let g):
            return "\(n(out)) = \(op.rawValue)_pool_grad(\(n(grad))\(argmax.map { " at \(n($0))" } ?? "") as \(geometry(g)))"
        case .sumAcrossProcesses(let buffer, let count):
            return "\(n(buffer))[\(count)] = sum_across_processes(\(n(buffer)))"
        }
    }
}

extension KernelPrinter {
    /// `[2*N planes of 8x8 -> 4x4, window 2/2/0]`: planes, sizes, kernel/stride/padding.
    static func geometry(_ g: PoolGeometry) -> String {
        "[\(g.planes) planes of \(g.height)x\(g.width) -> \(g.outHeight)x\(g.outWidth), window "
            + "\(g.window.kernel)/\(g.window.stride)/\(g.window.padding)]"
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
