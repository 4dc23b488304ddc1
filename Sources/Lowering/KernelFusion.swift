import DLCIR

/// Fuses kernels of one entry, before its memory plan:
///
/// - **Elementwise chains**: a loop whose result only the next loop of the same shape reads
///   (contiguously) is inlined into it, so `exp`, `mul`, `sub` of a backward chain are one
///   loop and their intermediates never touch memory.
/// - **Reductions beside their producer**: a sum over an elementwise loop's result (a bias
///   gradient over the rows of the gradient it reduces) is taken in that loop's pass.
///
/// Buffers are written once (SSA), except a `linear`'s result, updated in place by the loop
/// right after its GEMM; fusion never moves a computation across a write of what it reads.
enum KernelFusion {
    static func run(_ entry: inout Entry, keep: Set<BufferID>) {
        while fuseOneChain(&entry, keep: keep) {}
        while fuseOneReduction(&entry) {}
    }

    /// How many kernels read each buffer (through aliases too).
    static func readers(_ e: Entry) -> [BufferID: Int] {
        var count: [BufferID: Int] = [:]
        for k in e.kernels {
            for r in Set(k.body.access.reads.map { e.root($0) }) { count[r, default: 0] += 1 }
        }
        for b in e.buffers { if case .alias = b.storage { count[e.root(b.id), default: 0] += 1 } }
        return count
    }

    /// Inlines one producer loop into its only consumer; false when there is none to fuse.
    static func fuseOneChain(_ e: inout Entry, keep: Set<BufferID>) -> Bool {
        let counts = readers(e)
        for (ci, consumer) in e.kernels.enumerated() {
            guard case .elementwise(var c) = consumer.body, c.computeType == .f32 else { continue }
            for operand in c.operands {
                guard case .buffer(let b, let strides) = operand, strides == LoopShapes.contiguous(c.shape),
                      !keep.contains(b), counts[b] == 1, b != c.output,
                      case .arena = e.buffer(b).storage,
                      let pi = e.kernels[..<ci].lastIndex(where: { $0.body.access.writes.contains(b) }),
                      case .elementwise(let p) = e.kernels[pi].body, p.output == b, p.shape == c.shape,
                      p.computeType == .f32, e.buffer(b).type.dtype == .f32, p.reductions.isEmpty,
                      !p.operands.contains(where: { if case .buffer(let x, _) = $0 { return x == b }; return false })
                else { continue }
                // Nothing between producer and consumer may write what the producer reads.
                let inputs = Set(p.operands.compactMap { o -> BufferID? in
                    if case .buffer(let x, _) = o { return e.root(x) }
                    return nil
                })
                let between = e.kernels[(pi + 1)..<ci]
                guard !between.contains(where: { !Set($0.body.access.writes.map { e.root($0) }).isDisjoint(with: inputs) })
                else { continue }
                // Every slot reading b (an expression may read it twice) takes the producer's expression.
                let slots = c.operands.indices.filter { if case .buffer(let x, _) = c.operands[$0] { return x == b }; return false }
                guard slots.allSatisfy({ c.operands[$0] == operand }) else { continue }
                let inlined = shifted(p.expr, by: c.operands.count)
                for s in slots { c.expr = substitute(c.expr, slot: s, with: inlined) }
                c.operands += p.operands
                e.kernels[ci].body = .elementwise(c.compacted())
                e.kernels.remove(at: pi)
                return true
            }
        }
        return false
    }

    /// Moves one sum over an elementwise loop's result into that loop; false when none.
    static func fuseOneReduction(_ e: inout Entry) -> Bool {
        for (ri, kernel) in e.kernels.enumerated() {
            guard case .reduce(let r) = kernel.body, r.op == .sum, r.inputStrides == LoopShapes.contiguous(r.shape),
                  let pi = e.kernels[..<ri].lastIndex(where: { $0.body.access.writes.contains(r.input) }),
                  case .elementwise(var p) = e.kernels[pi].body, p.output == r.input, p.shape == r.shape
            else { continue }
            // The reduction's output is fresh (written only here), so taking it earlier is safe.
            p.reductions.append(r)
            e.kernels[pi].body = .elementwise(p)
            e.kernels.remove(at: ri)
            return true
        }
        return false
    }

    static func shifted(_ x: ScalarExpr, by k: Int) -> ScalarExpr { x.renumbered { $0 + k } }

    static func substitute(_ x: ScalarExpr, slot: Int, with y: ScalarExpr) -> ScalarExpr {
        switch x {
        case .operand(let i): return i == slot ? y : x
        case .unary(let u, let a): return .unary(u, substitute(a, slot: slot, with: y))
        case .pow(let a, let c): return .pow(substitute(a, slot: slot, with: y), c)
        case .binary(let b, let a, let c):
            return .binary(b, substitute(a, slot: slot, with: y), substitute(c, slot: slot, with: y))
        case .select(let c, let a, let b):
            return .select(substitute(c, slot: slot, with: y), substitute(a, slot: slot, with: y),
                           substitute(b, slot: slot, with: y))
        }
    }
}

extension ElementwiseKernel {
    /// The same loop without the operand slots its expression no longer refers to, the slots
    /// it keeps renumbered in order. Inlining a producer substitutes its expression for every
    /// slot that read its result, which is never written any more: left in the list, it would
    /// still count as a read (keeping it live in the memory plan, and naming it in the
    /// printers' prologues and kernel parameters) though nothing reads it.
    func compacted() -> ElementwiseKernel {
        let used = expr.operandIndices
        var newSlot: [Int: Int] = [:]
        var kept: [Operand] = []
        for (i, o) in operands.enumerated() where used.contains(i) {
            newSlot[i] = kept.count
            kept.append(o)
        }
        var k = self
        k.operands = kept
        k.expr = expr.renumbered { newSlot[$0]! }
        return k
    }
}

extension ScalarExpr {
    /// The operand slots the expression reads.
    var operandIndices: Set<Int> {
        switch self {
        case .operand(let i): return [i]
        case .unary(_, let x), .pow(let x, _): return x.operandIndices
        case .binary(_, let x, let y): return x.operandIndices.union(y.operandIndices)
        case .select(let c, let a, let b): return c.operandIndices.union(a.operandIndices).union(b.operandIndices)
        }
    }

    /// The same expression reading slot `slot(i)` wherever it read slot `i`.
    func renumbered(_ slot: (Int) -> Int) -> ScalarExpr {
        switch self {
        case .operand(let i): return .operand(slot(i))
        case .unary(let u, let a): return .unary(u, a.renumbered(slot))
        case .pow(let a, let c): return .pow(a.renumbered(slot), c)
        case .binary(let b, let a, let c): return .binary(b, a.renumbered(slot), c.renumbered(slot))
        case .select(let c, let a, let b): return .select(c.renumbered(slot), a.renumbered(slot), b.renumbered(slot))
        }
    }
}
