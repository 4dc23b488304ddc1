import DLCIR

/// The static memory plan of one entry: every arena buffer gets a byte offset, affine in the
/// batch size, and buffers whose lifetimes do not overlap share memory.
///
/// Lifetimes are kernel intervals: a buffer is live from the first kernel that writes it to the
/// last kernel that reads it (reads through an alias count for its root). Allocation walks the
/// kernels in order, first-fit over the freed slots: a slot can hold a buffer when it is at
/// least as large for every batch size (both coefficients). A buffer's memory is freed only
/// after its last reader has run, so no kernel ever writes over one of its own inputs.
/// Offsets and sizes are rounded up to 64 bytes (times N too), so every buffer is aligned for
/// any batch.
public enum MemoryPlanner {
    public static let alignment = 64

    static func plan(_ entry: inout Entry, liveToEnd: [BufferID]) {
        let count = entry.buffers.count
        var firstWrite = [Int?](repeating: nil, count: count)
        var lastUse = [Int](repeating: -1, count: count)
        for (k, kernel) in entry.kernels.enumerated() {
            let (writes, reads) = kernel.body.access
            for w in writes {
                let r = entry.root(w).index
                if firstWrite[r] == nil { firstWrite[r] = k }
                lastUse[r] = max(lastUse[r], k)
            }
            for x in reads { lastUse[entry.root(x).index] = max(lastUse[entry.root(x).index], k) }
        }
        for b in liveToEnd { lastUse[entry.root(b).index] = entry.kernels.count }

        struct Slot { var offset: Affine; var size: Affine }
        var free: [Slot] = []
        var top = Affine.zero
        var releaseAt: [Int: [Slot]] = [:]
        for k in 0..<entry.kernels.count {
            // Buffers whose last reader ran before kernel k give their memory back.
            for released in releaseAt.removeValue(forKey: k - 1) ?? [] { free.append(released) }
            let (writes, _) = entry.kernels[k].body.access
            for w in writes {
                let r = entry.root(w).index
                guard firstWrite[r] == k, case .arena = entry.buffers[r].storage else { continue }
                let size = entry.buffers[r].byteCount.roundedUp(to: alignment)
                let slot: Slot
                if let i = bestFit(size, in: free) {
                    slot = Slot(offset: free[i].offset, size: free[i].size)
                    free.remove(at: i)
                } else {
                    slot = Slot(offset: top, size: size)
                    top = top + size
                }
                entry.buffers[r].storage = .arena(offset: slot.offset)
                releaseAt[lastUse[r], default: []].append(slot)
            }
        }
        entry.arenaBytes = top

        /// The smallest free slot that holds `size` for every batch size.
        func bestFit(_ size: Affine, in slots: [Slot]) -> Int? {
            slots.indices.filter { size.fits(in: slots[$0].size) }
                .min { (slots[$0].size.perBatch, slots[$0].size.constant) < (slots[$1].size.perBatch, slots[$1].size.constant) }
        }
    }
}

extension KernelBody {
    /// The buffers a kernel writes and reads: exactly those its code touches, since the memory
    /// plan keeps a buffer live by them and the printers pass a kernel its buffers by them.
    public var access: (writes: [BufferID], reads: [BufferID]) {
        switch self {
        case .elementwise(let e):
            return ([e.output] + e.reductions.map(\.output),
                    e.operands.compactMap { if case .buffer(let b, _) = $0 { return b }; return nil })
        case .reduce(let r): return ([r.output], [r.input])
        case .gemm(let g):
            let epilogueReads = g.epilogue.map { KernelBody.elementwise($0).access.reads } ?? []
            return ([g.c], (g.beta == 0 ? [g.a, g.b] : [g.a, g.b, g.c]) + epilogueReads)
        case .gather(let out, let table, let index, _, _, _, _): return ([out], [table, index])
        case .scatterAdd(let out, let index, let updates, _, _, _, _): return ([out], [index, updates])
        case .axis(_, let out, let input, _): return ([out], [input])
        case .oneHot(let out, let labels, _, _, _): return ([out], [labels])
        case .dropoutMask(let out, _, _, _, _, _, _): return ([out], [])
        case .loss(_, let out, let p, let y, _, _): return ([out], [p, y])
        case .copy(let out, let input, _): return ([out], [input])
        case .fill(let out, let value, _):
            if case .buffer(let b, _) = value { return ([out], [b]) }
            return ([out], [])
        case .stridedCopy(let out, _, _, let input, _, _, _): return ([out], [input])
        // The accumulation reads what it adds to; the buffer was written (zeroed) before.
        case .stridedAccumulate(let out, _, let input, _, _, _): return ([out], [input, out])
        case .pool2d(_, let out, let input, let argmax, _): return ([out] + (argmax.map { [$0] } ?? []), [input])
        case .pool2dGrad(_, let out, let g, let argmax, _): return ([out], [g] + (argmax.map { [$0] } ?? []))
        case .softmaxCrossEntropy(let loss, let z, let y, let p, _, _): return ([loss] + (p.map { [$0] } ?? []), [z, y])
        case .softmaxCrossEntropyGrad(let out, let z, let y, let p, let g, _, _):
            // From the kept probabilities when there are some, else from the logits.
            var reads = [y, p ?? z]
            if case .buffer(let b, _) = g { reads.append(b) }
            return ([out], reads)
        case .sumAcrossProcesses(let buffer, _): return ([buffer], [buffer])
        }
    }
}
