import DLCDiagnostics
import DLCIR

/// The backend-neutral program a training graph lowers to: buffers with a static memory plan,
/// and for each entry point (train step, evaluation, prediction) a list of kernels in execution
/// order. Backends (C, LLVM IR, CUDA) only print it.
public struct KernelProgram: Sendable {
    /// The training graph it was lowered from (declarations, outputs, train config).
    public var graph: Graph
    public var entries: [Entry]

    public func entry(_ kind: EntryKind) -> Entry { entries.first { $0.kind == kind }! }

    /// Whether the training step sums batch statistics across processes (`BatchPartition`):
    /// it then computes its process's share of the loss and gradients itself.
    public var sumsAcrossProcesses: Bool {
        entry(.train).kernels.contains { if case .sumAcrossProcesses = $0.body { return true }; return false }
    }

    /// The arena any entry needs for a batch of `n` rows.
    public var arenaBytes: Affine { entries.map(\.arenaBytes).reduce(.zero, Affine.max) }
}

public struct BufferID: Hashable, Sendable, Comparable {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: BufferID, b: BufferID) -> Bool { a.index < b.index }
}

/// Where a tensor lives during a step.
public enum Storage: Hashable, Sendable {
    /// The i-th param (in declaration order), owned by the runtime.
    case param(Int)
    /// The i-th param's gradient, owned by the runtime: computed straight into it.
    case grad(Int)
    /// The batch's rows of the i-th input or target (in declaration order).
    case data(Int)
    /// `s->state[i]`, owned by the runtime: a state (running statistics), read by every entry,
    /// written at the end of a training entry.
    case state(Int)
    /// Bytes from the start of the arena, planned per entry (see `MemoryPlanner`).
    case arena(offset: Affine)
    /// Another buffer's memory, seen with a different shape (`reshape` copies nothing).
    case alias(BufferID)
}

/// One tensor of the program, named after the IR value it holds.
public struct Buffer: Hashable, Sendable {
    public let id: BufferID
    /// Unique in its entry, and an identifier in every language a backend prints (ASCII
    /// letters, digits and `_`, not first a digit); a printer renames the words its language
    /// or its own code reserves (`Entry.renamed(avoiding:)`).
    public var name: String
    public var type: TensorType
    public var storage: Storage
    /// The IR value it holds (for comments and dumps).
    public var value: ValueID

    public init(id: BufferID, name: String, type: TensorType, storage: Storage, value: ValueID) {
        self.id = id
        self.name = name
        self.type = type
        self.storage = storage
        self.value = value
    }

    public var elementCount: Affine { type.shape.affineCount }
    public var byteCount: Affine { elementCount * 4 }
}

public enum EntryKind: String, Hashable, Sendable, CaseIterable {
    /// Forward and backward: gradients into the runtime's grads, returns the loss.
    case train
    /// The train step fused with plain SGD: each param updated in place as soon as nothing
    /// else reads it (see `SGDUpdates`).
    case sgd
    /// Forward with targets, dropout off: outputs and the loss.
    case eval
    /// Forward without targets: outputs only.
    case predict

    /// Entries that take a training step: dropout on, gradients computed.
    public var isTraining: Bool { self == .train || self == .sgd }
    /// Entries that return the loss (all but predict, which runs without targets).
    public var returnsLoss: Bool { self != .predict }
}

/// One entry point: its buffers, its kernels in order, and the arena it needs. Entries never
/// run at the same time, so each plans the whole arena for itself.
public struct Entry: Sendable {
    public var kind: EntryKind
    public var buffers: [Buffer]
    public var kernels: [Kernel]
    /// Set when the entry cannot run (predict of an output that needs a target): the message
    /// the trainer prints instead.
    public var unavailable: String?
    public var arenaBytes: Affine
    /// The buffer holding the loss (nil for predict).
    public var loss: BufferID?
    /// Training entries: the node that mixes the batch's rows in a way a data-parallel step
    /// cannot split across processes (a max or softmax along the batch axis), if any.
    public var mixesRows: ValueID?
    /// Output i is copied from this buffer at the end (eval and predict).
    public var outputs: [BufferID]

    public init(kind: EntryKind, buffers: [Buffer], kernels: [Kernel], unavailable: String?, arenaBytes: Affine,
                loss: BufferID?, outputs: [BufferID]) {
        self.kind = kind
        self.buffers = buffers
        self.kernels = kernels
        self.unavailable = unavailable
        self.arenaBytes = arenaBytes
        self.loss = loss
        self.outputs = outputs
    }

    public func buffer(_ id: BufferID) -> Buffer { buffers[id.index] }

    /// The buffer whose memory `id` uses (itself unless it is an alias).
    public func root(_ id: BufferID) -> BufferID {
        if case .alias(let r) = buffers[id.index].storage { return root(r) }
        return id
    }
}

// MARK: - Kernels

/// An operand of a per-element expression: a buffer read with broadcast strides, or a number.
public enum Operand: Hashable, Sendable {
    case buffer(BufferID, strides: [Affine])
    case immediate(Double)
    /// The step's learning rate (`sgd` entry only).
    case learningRate
    /// A count known up to the batch (`count` nodes): the value `perBatch * n + constant`.
    case count(Affine)
    /// The same over the global batch, every process's rows (`s->global_n`, which is `n` in
    /// one process): counts of a training step that sums batch statistics (`BatchPartition`).
    case globalCount(Affine)
}

/// A per-element computation: a small expression tree over operands, so that elementwise
/// chains can later fuse into one loop.
public indirect enum ScalarExpr: Hashable, Sendable {
    case operand(Int)
    case unary(UnaryOp, ScalarExpr)
    case pow(ScalarExpr, Double)
    case binary(BinaryOp, ScalarExpr, ScalarExpr)
    case select(ScalarExpr, ScalarExpr, ScalarExpr)
}

/// A loop nest over `shape`: `out[i] = expr(operands at i)`, every operand read through its
/// strides (0 on broadcast axes). The output is contiguous.
public struct ElementwiseKernel: Hashable, Sendable {
    public var output: BufferID
    public var shape: [Affine]
    public var operands: [Operand]
    public var expr: ScalarExpr
    /// The dtype the expression computes in (i32 arithmetic, or f32).
    public var computeType: DType
    /// Sums of the output taken in the same pass (a bias gradient beside the gradient it
    /// reduces): each iterates the same shape, reading the value just computed.
    public var reductions: [ReduceKernel] = []
}

/// Iterates over `shape` (the input's), combining `input` into `output` through output
/// strides that are 0 on the reduced axes: sum, mean (sum then scale) or max.
public struct ReduceKernel: Hashable, Sendable {
    public var output: BufferID
    public var input: BufferID
    public var shape: [Affine]
    public var inputStrides: [Affine]
    public var outputStrides: [Affine]
    public var op: ReduceOp
    /// For mean: the number of elements summed into each output.
    public var count: Affine
}

/// C = alpha · op(A) @ op(B) + beta · C, row-major, possibly repeated over a batch axis with
/// element strides between the matrices (0 for an operand without the batch axis).
public struct GemmKernel: Hashable, Sendable {
    public var a: BufferID, b: BufferID, c: BufferID
    public var transposeA: Bool, transposeB: Bool
    public var m: Affine, n: Affine, k: Affine
    public var lda: Affine, ldb: Affine, ldc: Affine
    public var alpha: Double, beta: Double
    /// When set, alpha is minus the step's learning rate: the product is an SGD update.
    public var alphaIsNegativeLearningRate = false
    public var batch: Affine
    public var strideA: Affine, strideB: Affine, strideC: Affine
    /// The in-place pass over C that follows the product (a `linear`'s bias and activation),
    /// fused into it by `GemmEpilogues`: when the product runs as loops, each element is
    /// computed as its row is stored; when it calls BLAS, the pass runs after the call. It
    /// reads C only at the element it writes.
    public var epilogue: ElementwiseKernel?
}

/// A tensor seen as [outer, length, inner] around one axis: softmax, argmax and friends.
public struct AxisView: Hashable, Sendable {
    public var outer: Affine, length: Affine, inner: Affine
}

public enum AxisOp: String, Hashable, Sendable {
    case softmax, logSoftmax = "log_softmax", argmax, maxMask = "max_mask"
}

public enum PoolOp: String, Hashable, Sendable {
    case max, avg
}

/// Pooling over `planes` images of height × width (an [N, C, H, W] tensor is N·C planes) into
/// planes of outHeight × outWidth, each output cell reducing its window (kernel, stride,
/// padding on each side, as `Window2d`): cell (i, j) covers rows i·stride − padding ..< + kernel
/// and the columns likewise, clipped to the plane.
public struct PoolGeometry: Hashable, Sendable {
    public var planes: Affine
    public var height: Int, width: Int
    public var outHeight: Int, outWidth: Int
    public var window: Window2d
}

public struct Kernel: Sendable {
    public var body: KernelBody
    /// The IR node it computes, printed as a comment beside the code.
    public var node: ValueID?
    public init(_ body: KernelBody, node: ValueID?) {
        self.body = body
        self.node = node
    }
}

public enum KernelBody: Sendable {
    case elementwise(ElementwiseKernel)
    case reduce(ReduceKernel)
    case gemm(GemmKernel)
    /// out[i, :] = table[idx[i], :] with a bounds check naming `location`.
    case gather(output: BufferID, table: BufferID, index: BufferID, rows: Affine, rowSize: Affine, count: Affine,
                location: SourceLocation?)
    /// out = 0; out[idx[i], :] += updates[i, :], bounds-checked.
    case scatterAdd(output: BufferID, index: BufferID, updates: BufferID, rows: Affine, rowSize: Affine,
                    count: Affine, location: SourceLocation?)
    case axis(AxisOp, output: BufferID, input: BufferID, view: AxisView)
    /// out = one-hot rows of `labels` with `classes` columns.
    case oneHot(output: BufferID, labels: BufferID, classes: Int, count: Affine, location: SourceLocation?)
    /// Inverted-dropout mask of dropout site `site`: in training each element's own draw
    /// (docs/rng.md, "Dropout"; kept when >= p, scaled by 1/(1-p)); otherwise all ones. The mask
    /// is `outer` blocks of `rows` rows of `inner` elements: `rows` is the batch when the mask
    /// holds it (row r is at position first_row + r of the epoch), else 1 (its one row is at
    /// first_row); an element's index within its row is `o * inner + i`.
    case dropoutMask(output: BufferID, p: Double, site: Int, outer: Int, rows: Affine, inner: Int, training: Bool)
    /// A scalar loss of (prediction, target), reduced as PyTorch's default.
    case loss(LossKind, output: BufferID, prediction: BufferID, target: BufferID, count: Affine, classes: Int)
    /// Copies `count` elements.
    case copy(output: BufferID, input: BufferID, count: Affine)
    /// Fills with one value.
    case fill(output: BufferID, value: Operand, count: Affine)
    /// One pass per row of logits [rows, classes]: the mean over rows of logsumexp − z[label]
    /// into `loss`, and (in the train entry) the softmax probabilities into `probabilities`,
    /// kept for the backward kernel.
    case softmaxCrossEntropy(loss: BufferID, logits: BufferID, labels: BufferID, probabilities: BufferID?,
                             rows: Affine, classes: Int)
    /// (softmax(z) − onehot(y))·g/rows, from the kept probabilities when there are some.
    case softmaxCrossEntropyGrad(output: BufferID, logits: BufferID, labels: BufferID, probabilities: BufferID?,
                                 scale: Operand, rows: Affine, classes: Int)
    /// Writes `output`'s elements from the strided view of `input` placed at `offset` of the
    /// output's strided view: concat and slice, padding, im2col.
    case stridedCopy(output: BufferID, outputOffset: Affine, outputStrides: [Affine], input: BufferID,
                     inputOffset: Affine, inputStrides: [Affine], shape: [Affine])
    /// Adds strided views of `input` into strided views of `output`, one for each of `terms`
    /// in order, each at its own offsets (col2im: a term per kernel offset). The output
    /// positions of one term are distinct, so its adds may run in any order or in parallel;
    /// the terms add to the same positions in their order.
    case stridedAccumulate(output: BufferID, outputStrides: [Affine], input: BufferID, inputStrides: [Affine],
                           shape: [Affine], terms: [StridedTerm])
    /// Max or average pooling of `input` into `output`. A max pool scans each window row by row
    /// from its first real cell and −inf, a cell taking over when it is greater or NaN (PyTorch's
    /// rule); with `argmax` it also stores the winner's offset in its plane (i32), for the
    /// backward kernel. An average divides by kernel² (padding counted).
    case pool2d(PoolOp, output: BufferID, input: BufferID, argmax: BufferID?, PoolGeometry)
    /// The gradient of pooling: `output` (the input's gradient) zeroed, then each window's
    /// `gradient` added to its winner, at the offset `argmax` holds (max), or, divided by
    /// kernel², to each of its real cells (avg: no argmax).
    case pool2dGrad(PoolOp, output: BufferID, gradient: BufferID, argmax: BufferID?, PoolGeometry)
    /// In place: `buffer` becomes its element-wise sum over the processes of a data-parallel
    /// run (each holds its share: `BatchPartition`). Printed as a call into the runtime's
    /// communicator (`dlc_sum_across_processes`, codegen/dlc_model.h), which does nothing in
    /// one process.
    case sumAcrossProcesses(buffer: BufferID, count: Affine)
}

/// One term of a strided accumulation: where its views of the output and the input begin.
public struct StridedTerm: Hashable, Sendable {
    public var outputOffset: Affine
    public var inputOffset: Affine

    public init(outputOffset: Affine, inputOffset: Affine) {
        self.outputOffset = outputOffset
        self.inputOffset = inputOffset
    }
}
