import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reference training loop: the specification the generated trainers are checked against.
///
/// It trains a graph that already has gradients (`graph.gradients`, from the AD pass) as the
/// `train` block says (spec section 6), in double precision:
///
/// 1. Params start from `ParamInitializer` (init stream of the seed), or from given values.
/// 2. With data: `DataSplit` holds out `validation` of the rows (split stream); the inputs
///    listed in `normalize` are z-scored, every row, with statistics of the training rows
///    (`FeatureStats`).
/// 3. Each epoch: the training rows (in file order) are put in the order of
///    `EpochShuffler.nextOrder` when `shuffle` is on (shuffle stream), then cut into
///    consecutive batches of `batch` rows (`batch full`: all of them); the last batch may be
///    partial, and is skipped with `drop_last`.
/// 4. Each batch is a step: the whole graph runs in training mode (dropout masks drawn for the
///    epoch and the batch's rows' positions in it, `DropoutDraw`); the step's loss is the graph's loss (the mean
///    over the batch's rows); its gradients, divided by `accumulate` = k, are added up; the
///    state (batch normalization's running statistics) takes the step's `stateUpdates`. After k
///    batches, and after the last batch of an epoch however many came before it, the optimizer
///    updates the params (`OptimizerState`) at the epoch's learning rate and the sum restarts.
/// 5. After each epoch: the epoch loss is the example-weighted mean of its steps' losses; the
///    validation loss (if any rows are held out) is evaluated in batches of `batch` rows in
///    evaluation mode (with the state as it stands), weighted by example; then the schedule steps once
///    (`LearningRateSchedule`), watching the validation loss if there is one, else the epoch
///    loss.
///
/// A model with no data makes `steps` updates instead; each update is one epoch of k steps
/// with no feeds (so `accumulate` averages k identical gradients, up to dropout: step c of the
/// update draws its masks as row c of that epoch), with the epoch's loss, schedule step and
/// learning rate as above.
public struct Trainer: Sendable {
    public let graph: Graph
    /// How to train; `seed` seeds every random stream.
    public var config: TrainConfig

    /// A trainer of `graph` with `config` (by default the graph's own `train` block).
    public init(graph: Graph, config: TrainConfig? = nil) {
        self.graph = graph
        self.config = config ?? graph.train
    }

    /// The z-score statistics of one input: per feature (element of a row), over training rows,
    /// computed in double and rounded once to f32 (as the checkpoint stores them).
    public struct FeatureStats: Hashable, Sendable {
        public var mean: [Double]
        /// Population standard deviations; a feature with 0 is only centred.
        public var std: [Double]

        public init(mean: [Double], std: [Double]) {
            self.mean = mean
            self.std = std
        }
    }

    /// One epoch of training (or one update of a model with no data).
    public struct EpochRecord: Hashable, Sendable {
        /// The example-weighted mean of the epoch's step losses (NaN if it had no steps).
        public var loss: Double
        /// The loss on the validation rows after the epoch, if rows are held out.
        public var validationLoss: Double?
        /// The learning rate the epoch's updates used.
        public var learningRate: Double
        /// Training rows seen in the epoch.
        public var rows: Int
    }

    /// What a training run produced.
    public struct Result: Sendable {
        /// The params after the last update.
        public var params: [String: Tensor]
        /// The state after the last step (batch normalization's running statistics).
        public var state: [String: Tensor]
        /// The loss of every step (one forward and backward pass) in order.
        public var stepLosses: [Double]
        /// One record per epoch.
        public var epochs: [EpochRecord]
        /// Optimizer updates made.
        public var updates: Int
        /// Which rows trained and which validated (empty for a model with no data).
        public var split: DataSplit
        /// Statistics of the `normalize` inputs, by input name.
        public var normalization: [String: FeatureStats]
        /// The optimizer state after the last update.
        public var optimizer: OptimizerState
    }

    /// Trains and returns the final params and the losses.
    ///
    /// - Parameters:
    ///   - data: every `input` and `target` of the graph, by name, its rows along axis 0 (shape
    ///     `[rows] + the declared fixed dims`); ignored (and may be empty) for a model with no data.
    ///   - initialParams: starting values by param name; default: `ParamInitializer`'s.
    ///   - initialState: starting values by state name; default: each state's initializer.
    ///   - maxUpdates: stop after this many updates (the trainer's `--steps N`).
    ///   - onUpdate: called after every update with the update count (from 1) and the params.
    /// - Throws: `InterpreterError` for missing or misshapen data or params, for a graph with no
    ///   loss or with gradients that do not match the params, for a training batch of one row
    ///   that batch normalization cannot normalise, and for a run-time error of an op.
    public func train(data: [String: Tensor] = [:], initialParams: [String: Tensor]? = nil,
                      initialState: [String: Tensor]? = nil, maxUpdates: Int? = nil,
                      onUpdate: ((_ update: Int, _ params: [String: Tensor]) -> Void)? = nil) throws -> Result {
        let lossValue = try checkedLoss()
        let interpreter = Interpreter(graph: graph)
        let seed = config.seed
        let k = max(config.accumulate, 1)

        var params = initialParams ?? ParamInitializer.initialValues(graph.params, seed: seed)
        try checkParams(params)
        var state = initialState ?? Interpreter.initialState(graph)
        let gradients = try gradientValues()

        var optimizer = OptimizerState(optimizer: config.optimizer)
        var schedule = LearningRateSchedule(config.schedule, baseLR: config.optimizer.lr)
        var result = Result(params: [:], state: [:], stepLosses: [], epochs: [], updates: 0,
                            split: DataSplit(training: [], validation: []), normalization: [:],
                            optimizer: optimizer)

        /// One forward and backward pass: adds gradient / k into `sum`, returns the loss.
        func step(_ feeds: [String: Tensor], _ dropout: DropoutDraw, into sum: inout [String: Tensor]) throws -> Double {
            let values = try interpreter.run(feeds: feeds, params: params, state: state, mode: .training, dropout: dropout)
            for u in graph.stateUpdates { state[u.name] = values[u.value] }
            for (name, value) in gradients {
                let g = values[value]
                var acc = sum[name] ?? Tensor.zeros(g.shape)
                for i in 0..<g.count { acc.scalars[i] += g.scalars[i] / Double(k) }
                sum[name] = acc
            }
            let loss = values[lossValue].scalars[0]
            result.stepLosses.append(loss)
            return loss
        }

        /// Applies the summed gradients; false once `maxUpdates` is reached.
        func update(_ sum: inout [String: Tensor]) -> Bool {
            optimizer.update(params: &params, gradients: sum, lr: schedule.lr)
            sum = [:]
            result.updates += 1
            onUpdate?(result.updates, params)
            return result.updates < (maxUpdates ?? Int.max)
        }

        if let limit = maxUpdates, limit <= 0 {
            // No update allowed: the params stay as they start.
        } else if graph.data.isEmpty {
            // A model with no data: `steps` updates, each one epoch of k steps.
            for u in 0..<max(0, maxUpdates ?? config.steps) {
                let lr = schedule.lr
                var sum = [String: Tensor]()
                var total = 0.0
                for c in 0..<k { total += try step([:], DropoutDraw(seed: seed, epoch: u, firstRow: c), into: &sum) }
                let loss = total / Double(k)
                _ = update(&sum)
                result.epochs.append(EpochRecord(loss: loss, validationLoss: nil, learningRate: lr, rows: 0))
                schedule.step(metric: loss)
            }
        } else {
            var rows = try checkData(data)
            let split = DataSplit(rows: rows.count, validationFraction: config.validation, seed: seed)
            guard !split.training.isEmpty else {
                throw InterpreterError("no training rows: \(rows.count) rows, \(split.validation.count) held out for validation")
            }
            result.split = split
            for name in config.normalize {
                let stats = try featureStats(rows.data[name], name: name, over: split.training)
                rows.data[name] = normalized(rows.data[name]!, stats)
                result.normalization[name] = stats
            }
            let n = split.training.count
            let batchSize = max(config.batch ?? n, 1)
            var shuffler = EpochShuffler(seed: seed)
            // `--steps N` (maxUpdates) replaces the epoch count: it trains across as many
            // epochs as N updates take, as the C runtime does.
            var epoch = 0
            while epoch < (maxUpdates == nil ? config.epochs : Int.max) {
                epoch += 1
                let lr = schedule.lr
                let order = config.shuffle ? shuffler.nextOrder(count: n) : Array(0..<n)
                var batches = stride(from: 0, to: n, by: batchSize).map { Array(order[$0..<min($0 + batchSize, n)]) }
                if config.dropLast, let last = batches.last, last.count < batchSize { batches.removeLast() }
                if epoch == 1, batches.contains(where: { $0.count == 1 }), let node = graph.nodeNeedingTwoRows() {
                    throw InterpreterError(
                        "a training batch of 1 row leaves batch normalization a single value per channel "
                            + "(\(n) training rows in batches of \(batchSize)); use drop_last true or another batch size",
                        value: node.id, location: node.location)
                }

                var sum = [String: Tensor]()
                var (weighted, seen) = (0.0, 0)
                var stop = false, stoppedMidEpoch = false
                for (b, batch) in batches.enumerated() {
                    let dropout = DropoutDraw(seed: seed, epoch: epoch - 1, firstRow: b * batchSize)
                    let loss = try step(rows.feeds(batch.map { split.training[$0] }), dropout, into: &sum)
                    weighted += loss * Double(batch.count)
                    seen += batch.count
                    if (b + 1) % k == 0 || b == batches.count - 1 {
                        if !update(&sum) {
                            stop = true
                            stoppedMidEpoch = b < batches.count - 1
                            break
                        }
                    }
                }
                let loss = seen > 0 ? weighted / Double(seen) : .nan
                var validationLoss: Double?
                if !split.validation.isEmpty {
                    validationLoss = try evaluateLoss(rows, split.validation, params: params, state: state, batch: batchSize)
                }
                result.epochs.append(EpochRecord(loss: loss, validationLoss: validationLoss, learningRate: lr, rows: seen))
                // An epoch that ran to its end is complete, and steps the schedule, even when
                // the last update allowed ended it (as the C runtime counts it).
                if !stoppedMidEpoch { schedule.step(metric: validationLoss ?? loss) }
                if stop || batches.isEmpty && maxUpdates != nil { break }
            }
        }
        result.params = params
        result.state = state
        result.optimizer = optimizer
        return result
    }

    /// The example-weighted mean loss over `rows` of `data` (default: all), evaluated in
    /// evaluation mode in batches of `batch` rows (default: all at once), as `eval` reports it.
    public func evaluateLoss(data: [String: Tensor], params: [String: Tensor], state: [String: Tensor]? = nil,
                             rows: [Int]? = nil, batch: Int? = nil) throws -> Double {
        let table = try checkData(data)
        let selected = rows ?? Array(0..<table.count)
        return try evaluateLoss(table, selected, params: params, state: state ?? Interpreter.initialState(graph),
                                batch: batch ?? max(selected.count, 1))
    }

    // MARK: - Helpers

    /// The data tensors, checked, with their common row count.
    struct Rows {
        var data: [String: Tensor]
        let count: Int
        /// The feeds of one batch: the given rows of every data tensor.
        func feeds(_ rows: [Int]) -> [String: Tensor] { data.mapValues { $0.rows(rows) } }
    }

    private func checkData(_ data: [String: Tensor]) throws -> Rows {
        var count: Int?
        var table = [String: Tensor]()
        for decl in graph.data {
            guard decl.type.shape.dims.first == .batch else {
                throw InterpreterError("'\(decl.name)' is \(decl.type): training data needs the batch as its first axis")
            }
            guard let t = data[decl.name] else { throw InterpreterError("no data for '\(decl.name)'") }
            let sizes = decl.type.shape.dims.dropFirst().map { $0.fixedSize ?? -1 }
            guard t.rank == decl.type.rank, Array(t.shape.dropFirst()) == sizes else {
                throw InterpreterError("'\(decl.name)' is \(decl.type) but its data has shape \(t.shape)")
            }
            if let c = count, c != t.shape[0] {
                throw InterpreterError("'\(decl.name)' has \(t.shape[0]) rows, but other data has \(c)")
            }
            count = t.shape[0]
            table[decl.name] = t
        }
        return Rows(data: table, count: count ?? 0)
    }

    private func checkParams(_ params: [String: Tensor]) throws {
        for p in graph.params {
            let sizes = p.type.shape.dims.map { $0.fixedSize ?? 1 }
            guard let t = params[p.name] else { throw InterpreterError("no value for param '\(p.name)'") }
            guard t.shape == sizes else {
                throw InterpreterError("param '\(p.name)' is \(p.type) but its value has shape \(t.shape)")
            }
        }
    }

    /// The gradient value of each param, checked against the param's type.
    private func gradientValues() throws -> [(String, ValueID)] {
        guard !graph.gradients.isEmpty || graph.params.isEmpty else {
            throw InterpreterError("the graph has no gradients; run the AD pass first")
        }
        return try graph.gradients.map { g in
            guard let p = graph.param(named: g.name) else {
                throw InterpreterError("a gradient is listed for '\(g.name)', which is not a param")
            }
            guard g.value.index >= 0, g.value.index < graph.nodes.count, graph.type(of: g.value) == p.type else {
                throw InterpreterError("the gradient of '\(g.name)' is not a value of type \(p.type)")
            }
            return (g.name, g.value)
        }
    }

    /// The loss value, checked to be a scalar of the graph.
    private func checkedLoss() throws -> ValueID {
        guard let loss = graph.loss, loss.index >= 0, loss.index < graph.nodes.count,
              graph.type(of: loss) == .f32Scalar else {
            throw InterpreterError("the graph has no f32 scalar loss")
        }
        return loss
    }

    private func evaluateLoss(_ table: Rows, _ rows: [Int], params: [String: Tensor], state: [String: Tensor],
                              batch: Int) throws -> Double {
        let lossValue = try checkedLoss()
        let interpreter = Interpreter(graph: graph)
        var (weighted, seen) = (0.0, 0)
        for start in stride(from: 0, to: rows.count, by: batch) {
            let chunk = Array(rows[start..<min(start + batch, rows.count)])
            let values = try interpreter.run(feeds: table.feeds(chunk), params: params, state: state)
            weighted += values[lossValue].scalars[0] * Double(chunk.count)
            seen += chunk.count
        }
        return seen > 0 ? weighted / Double(seen) : .nan
    }

    /// Per-feature mean and population standard deviation over `rows`.
    private func featureStats(_ t: Tensor?, name: String, over rows: [Int]) throws -> FeatureStats {
        guard let t, let decl = graph.dataDecl(named: name) else {
            throw InterpreterError("cannot normalize '\(name)': it is not an input")
        }
        guard decl.type.dtype == .f32 else { throw InterpreterError("cannot normalize the i32 input '\(name)'") }
        let width = t.count / max(t.shape[0], 1)
        var mean = [Double](repeating: 0, count: width)
        var std = [Double](repeating: 0, count: width)
        for r in rows { for f in 0..<width { mean[f] += t.scalars[r * width + f] } }
        for f in 0..<width { mean[f] /= Double(rows.count) }
        for r in rows {
            for f in 0..<width {
                let d = t.scalars[r * width + f] - mean[f]
                std[f] += d * d
            }
        }
        for f in 0..<width { std[f] = sqrt(std[f] / Double(rows.count)) }
        // Rounded once to f32: the values the checkpoint stores and every command applies.
        return FeatureStats(mean: mean.map { Double(Float($0)) }, std: std.map { Double(Float($0)) })
    }

    /// `(x - mean) / std` per feature, or only `x - mean` where std is 0.
    private func normalized(_ t: Tensor, _ stats: FeatureStats) -> Tensor {
        let width = stats.mean.count
        var out = t
        for i in 0..<t.count {
            let f = i % width
            let centred = t.scalars[i] - stats.mean[f]
            out.scalars[i] = stats.std[f] == 0 ? centred : centred / stats.std[f]
        }
        return out
    }
}
