import DLCDiagnostics
import DLCIR

/// The reference interpreter of the graph IR: every node evaluated in double precision, in
/// execution order, with exactly the semantics that generated code must have. It is the oracle
/// that every backend is tested against, so each op is written for clarity, not speed; the
/// kernels live in the `Kernels+*.swift` files beside this one.
///
/// Conventions every backend shares:
/// - f32 math is done in double; i32 values are integers, and i32 `+ - *`, unary `-` and sums
///   wrap around modulo 2^32 (two's complement).
/// - NaN propagates as in PyTorch: through `maximum`, `minimum`, `max`, `relu` and the losses;
///   `argmax` and `max_mask` take a NaN as the maximum.
/// - Run-time errors (an index or label out of range, an integer division by zero, `int()` of a
///   value outside i32) are thrown as `InterpreterError`s naming the node's source location;
///   nothing traps.
public struct Interpreter: Sendable {
    /// The graph being interpreted.
    public let graph: Graph

    /// Whether dropout is active and batch statistics are used.
    public enum Mode: Hashable, Sendable {
        /// `dropout_mask` draws its mask (`DropoutDraw`); `if_training` takes its first operand.
        case training
        /// `dropout_mask` is all ones and nothing is drawn; `if_training` takes its second.
        case evaluation
    }

    /// The value of every node of one run.
    public struct Values: Sendable {
        /// One tensor per node, by node index.
        public let tensors: [Tensor]
        /// The batch size of the run (1 when no value holds the batch).
        public let batch: Int

        /// The value of a node.
        public subscript(_ value: ValueID) -> Tensor { tensors[value.index] }
    }

    public init(graph: Graph) { self.graph = graph }

    /// Evaluates every node of the graph.
    ///
    /// - Parameters:
    ///   - feeds: a tensor for each `input` node of the graph, by data name, with the
    ///     declared sizes; the batch size is read from them (the batch axis must agree).
    ///     i32 feeds must hold integers in the range of `Int32`. Feeds the graph does not use
    ///     are ignored.
    ///   - params: a tensor for each `param` node, by checkpoint name, with the declared sizes.
    ///   - state: a tensor for each `state` node, by checkpoint name, with the declared sizes; a
    ///     state not given starts at its declared initial value.
    ///   - mode: `.training` draws dropout masks from `dropout`; `.evaluation` draws nothing.
    ///   - dropout: where this step's masks come from (the epoch and the batch's first row);
    ///     two runs with the same value draw the same masks (as a gradient check needs).
    /// - Returns: the value of every node.
    /// - Throws: `InterpreterError` for a missing or misshapen feed or param and for a run-time
    ///   error of an op.
    public func run(feeds: [String: Tensor], params: [String: Tensor], state: [String: Tensor] = [:], mode: Mode,
                    dropout: DropoutDraw) throws -> Values {
        try verify()
        let batch = try batchSize(feeds: feeds)
        var values = [Tensor]()
        values.reserveCapacity(graph.nodes.count)
        for node in graph.nodes {
            let expected = node.type.shape.sizes(batch: batch)
            let value: Tensor
            do {
                let operands = node.operands.map { values[$0.index] }
                value = try evaluate(node, operands, expected: expected, feeds: feeds, params: params,
                                     state: state, mode: mode, dropout: dropout)
            } catch let failure as KernelFailure {
                throw InterpreterError(failure.message, at: node)
            }
            guard value.shape == expected else {
                throw InterpreterError(
                    "internal error: \(node.op.mnemonic) computed shape \(value.shape), "
                        + "but the node's type \(node.type) means \(expected)", at: node)
            }
            values.append(value)
        }
        return Values(tensors: values, batch: batch)
    }

    /// Evaluates every node in evaluation mode (dropout off, nothing drawn).
    public func run(feeds: [String: Tensor], params: [String: Tensor], state: [String: Tensor] = [:]) throws -> Values {
        try run(feeds: feeds, params: params, state: state, mode: .evaluation, dropout: DropoutDraw(epochKey: 0, firstRow: 0))
    }

    /// The initial value of every state of the graph, by name.
    public static func initialState(_ graph: Graph) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: graph.state.map { st -> (String, Tensor) in
            let value: Double
            switch st.initializer {
            case .ones: value = 1
            case .constant(let c): value = c
            default: value = 0
            }
            return (st.name, Tensor(shape: st.type.shape.sizes(batch: 1), repeating: value))
        })
    }

    /// The batch size the feeds bind: the size of the batch axis of every fed `input` node
    /// whose type holds the batch (they must agree and be at least 1), or 1 when none does.
    public func batchSize(feeds: [String: Tensor]) throws -> Int {
        var batch: Int?
        for node in graph.nodes {
            guard case .input(let name) = node.op else { continue }
            guard let feed = feeds[name] else {
                throw InterpreterError("no data fed for '\(name)'", at: node)
            }
            guard let axis = node.type.shape.dims.firstIndex(of: .batch) else { continue }
            guard feed.rank == node.type.rank else {
                throw InterpreterError("'\(name)' is \(node.type) but was fed a tensor of shape \(feed.shape)", at: node)
            }
            let n = feed.shape[axis]
            if let b = batch, b != n {
                throw InterpreterError("'\(name)' has \(n) rows, but other data has \(b)", at: node)
            }
            batch = n
        }
        guard let b = batch else { return 1 }
        guard b >= 1 else { throw InterpreterError("a batch needs at least one row", at: nil) }
        return b
    }

    /// Checks that every node is well typed (`TypeRules`) and uses only earlier values, so
    /// that the kernels may rely on their operands' shapes.
    public func verify() throws {
        for (i, node) in graph.nodes.enumerated() {
            guard node.id.index == i, node.operands.allSatisfy({ $0.index >= 0 && $0.index < i }) else {
                throw InterpreterError("internal error: node \(i) uses a value not defined before it", at: node)
            }
            let type: TensorType
            do {
                type = try TypeRules.resultType(of: node.op, operands: node.operands.map(graph.type(of:)),
                                                declared: node.type)
            } catch let failure as TypeRules.Failure {
                throw InterpreterError("internal error: ill-typed node: \(failure.message)", at: node)
            }
            guard type == node.type else {
                throw InterpreterError("internal error: the node is typed \(node.type), but its operands give \(type)",
                                       at: node)
            }
        }
    }

    // MARK: - Dispatch

    private func evaluate(_ node: Node, _ x: [Tensor], expected: [Int], feeds: [String: Tensor],
                          params: [String: Tensor], state: [String: Tensor], mode: Mode,
                          dropout: DropoutDraw) throws -> Tensor {
        let dtype = node.type.dtype
        // The operands' dtype (ops that take several operands take them all of one dtype).
        let operandType = node.operands.first.map { graph.type(of: $0).dtype } ?? dtype
        switch node.op {
        case .input(let name):
            let feed = feeds[name]!  // checked by batchSize(feeds:)
            guard feed.shape == expected else {
                throw KernelFailure("'\(name)' is \(node.type) but was fed a tensor of shape \(feed.shape)")
            }
            if dtype == .i32, let bad = feed.scalars.first(where: { !Kernels.isInt32($0) }) {
                throw KernelFailure("'\(name)' is \(node.type) but holds \(bad), which is not an i32")
            }
            return feed
        case .param(let name):
            guard let value = params[name] else { throw KernelFailure("no value given for param '\(name)'") }
            guard value.shape == expected else {
                throw KernelFailure("param '\(name)' is \(node.type) but was given a tensor of shape \(value.shape)")
            }
            return value
        case .state(let name):
            let value = state[name] ?? Interpreter.initialState(graph)[name]
            guard let value else { throw KernelFailure("no state is declared as '\(name)'") }
            guard value.shape == expected else {
                throw KernelFailure("state '\(name)' is \(node.type) but was given a tensor of shape \(value.shape)")
            }
            return value
        case .constant(let c):
            if dtype == .i32, !Kernels.isInt32(c) {
                throw KernelFailure("the i32 constant \(c) is not an i32")
            }
            return Tensor(c)

        case .unary(let u): return try Kernels.unary(u, x[0], dtype: operandType)
        case .pow(let c): return Kernels.power(x[0], c)
        case .binary(let b): return try Kernels.binary(b, x[0], x[1], dtype: operandType)
        case .select: return Kernels.select(x[0], x[1], x[2])

        case .reduce(let r, let axes, let keepdim): return Kernels.reduce(r, x[0], axes: axes, keepdim: keepdim, dtype: dtype)
        case .count(let axes): return Kernels.count(x[0], axes: axes)

        case .reshape: return x[0].reshaped(expected)
        case .transpose: return Kernels.transpose(x[0])
        case .broadcast: return x[0].broadcast(to: expected)
        case .sumTo: return Kernels.sum(x[0], to: expected, dtype: dtype)
        case .concat(let axis): return Kernels.concat(x, axis: axis)
        case .slice(let axis, let start, let length): return Kernels.slice(x[0], axis: axis, start: start, length: length)

        case .matmul(let ta, let tb): return Kernels.matmul(x[0], x[1], transposeA: ta, transposeB: tb)
        case .gather: return try Kernels.gather(x[0], x[1])
        case .scatterAdd: return try Kernels.scatterAdd(x[0], x[1], shape: expected, dtype: dtype)

        case .softmax(let axis): return Kernels.softmax(x[0], axis: axis)
        case .logSoftmax(let axis): return Kernels.logSoftmax(x[0], axis: axis)
        case .dropoutMask(let p, let site):
            switch mode {
            case .training:
                return Kernels.dropoutMask(shape: x[0].shape, batchAxis: node.type.shape.dims.firstIndex(of: .batch),
                                           p: p, siteKey: dropout.siteKey(site), firstRow: dropout.firstRow)
            case .evaluation: return Tensor(shape: x[0].shape, repeating: 1)
            }
        case .argmax(let axis): return Kernels.argmax(x[0], axis: axis)
        case .maxMask(let axis): return Kernels.maxMask(x[0], axis: axis)
        case .oneHot(let classes): return try Kernels.oneHot(x[0], classes: classes)

        case .ifTraining: return mode == .training ? x[0] : x[1]

        case .conv2d(let stride, let padding, let relu):
            return try Kernels.conv2d(x, stride: stride, padding: padding, relu: relu)
        case .conv2dInputGrad(let stride, let padding):
            return Kernels.conv2dInputGrad(x[0], x[1], inputShape: expected, stride: stride, padding: padding)
        case .conv2dWeightGrad(let stride, let padding):
            return Kernels.conv2dWeightGrad(x[0], x[1], weightShape: expected, stride: stride, padding: padding)
        case .maxPool2d(let w): return Kernels.maxPool2d(x[0], w)
        case .maxPool2dGrad(let w): return Kernels.maxPool2dGrad(x[0], x[1], w)
        case .avgPool2d(let w): return Kernels.avgPool2d(x[0], w)
        case .avgPool2dGrad(let w): return Kernels.avgPool2dGrad(x[0], inputShape: expected, w)

        case .loss(let kind): return try Kernels.loss(kind, x[0], x[1])

        case .linear(let relu): return try Kernels.linear(x, relu: relu)
        case .reluGrad: return Kernels.reluGrad(x[0], x[1])
        case .softmaxCrossEntropy: return try Kernels.softmaxCrossEntropy(x[0], x[1])
        case .softmaxCrossEntropyGrad: return try Kernels.softmaxCrossEntropyGrad(x[0], x[1], x[2])
        }
    }
}

/// A run-time error of the interpreter: what went wrong and at which node.
public struct InterpreterError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, e.g. "gather: index 21 is out of range for a table of 21 rows".
    public var message: String
    /// The node that failed, if the error belongs to one.
    public var value: ValueID?
    /// Where in the model the failing node comes from, if known.
    public var location: SourceLocation?

    public init(_ message: String, value: ValueID? = nil, location: SourceLocation? = nil) {
        self.message = message
        self.value = value
        self.location = location
    }

    init(_ message: String, at node: Node?) {
        guard let node else {
            self.init(message)
            return
        }
        let what = node.name.map { "'\($0)' (\(node.op.mnemonic))" } ?? node.op.mnemonic
        self.init("\(what): \(message)", value: node.id, location: node.location)
    }

    /// `LINE:COL: MESSAGE` when the location is known, else the message and the node.
    public var description: String {
        if let location { return "\(location): \(message)" }
        if let value { return "\(message) (at \(value))" }
        return message
    }
}

/// A kernel's complaint, turned into an `InterpreterError` at the failing node.
struct KernelFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
