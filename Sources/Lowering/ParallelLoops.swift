/// How one kernel's loops are split across the trainer's threads (`dlc_parallel_for` in
/// codegen/core/dlc_parallel.c): the printers outline the kernel into a chunk function that
/// runs one contiguous range of `axis`, and call it through the runtime when
/// `dlc_parallel_parts(work)` says the work pays on more than one thread (the trainer has
/// several and the work reaches the runtime's minimum, `ParallelLoops.minimumWork` unless
/// $DLC_PARALLEL_MIN_WORK sets another); otherwise the kernel runs whole on the calling thread.
///
/// Results are the same at every thread count: an elementwise kernel computes each element
/// as one thread would, and a kernel that sums over the rows is split along its columns, so
/// each column's sum is still taken in row order by one thread.
public struct ParallelSplit: Hashable, Sendable {
    /// The axis of the kernel's collapsed loop nest (`LoopShapes.elementwiseLoops`,
    /// `LoopShapes.reduceLoops`; the row loop of a row-wise kernel) whose range is split.
    public var axis: Int
    /// That axis's trip count: the range [0, extent) split into chunks.
    public var extent: Affine
    /// The elements the kernel computes: it is split when this reaches `minimumWork`.
    public var work: Affine
}

public enum ParallelLoops {
    /// Elements below which a kernel stays on one thread by default: waking a worker and
    /// moving the data the other core wrote last cost about what a second core saves on tens
    /// of microseconds of loop (codegen/core/dlc_parallel.c: measured on the examples). A
    /// kernel whose work is constant and below it is printed unsplit. The runtime's
    /// PARALLEL_DEFAULT_MIN_WORK is the same.
    public static let minimumWork = 1 << 17
    /// Columns below which a sum over the rows stays on one thread: the threads' chunks of the
    /// output would share cache lines (16 floats each), and each would run a short inner loop.
    public static let minimumColumns = 64

    /// The split of kernel `body`, or nil when it always runs on one thread: a kind not split
    /// (gathers, pooling, copies, losses that sum into one value), a sum whose output does not
    /// run along the columns, or work that stays below `minimumWork` at any batch size.
    public static func split(_ body: KernelBody) -> ParallelSplit? {
        switch body {
        case .elementwise(let e):
            let (shape, strides) = LoopShapes.elementwiseLoops(e)
            if e.reductions.isEmpty { return make(axis: 0, shape) }
            // Sums over the rows of a [rows, columns] nest (bias gradients): split the columns.
            let columnSums = strides[1...e.reductions.count].allSatisfy { $0 == [.zero, .one] }
            return shape.count == 2 && columnSums ? make(axis: 1, shape) : nil
        case .reduce(let r):
            let (shape, strides) = LoopShapes.reduceLoops(r)
            return shape.count == 2 && strides[1] == [.zero, .one] && r.op != .mean ? make(axis: 1, shape) : nil
        case .softmaxCrossEntropyGrad(_, _, _, _, _, let rows, let classes):
            return make(axis: 0, [rows, .fixed(classes)])
        default:
            return nil
        }
    }

    /// Splits `axis` of `shape` when the work can reach `minimumWork`.
    static func make(axis: Int, _ shape: [Affine]) -> ParallelSplit? {
        guard axis < shape.count, shape.filter({ !$0.isConstant }).count <= 1 else { return nil }
        let work = shape.reduce(Affine.one) { $0 * $1 }
        let extent = shape[axis]
        if work.isConstant && work.constant < minimumWork { return nil }
        if extent.isConstant && extent.constant < (axis == 0 ? 2 : minimumColumns) { return nil }
        return ParallelSplit(axis: axis, extent: extent, work: work)
    }
}
