/// The `train` block with every default filled in (spec section 6).
public struct TrainConfig: Hashable, Sendable {
    public var optimizer = Optimizer.sgd(lr: 0.01)
    /// nil means `batch full`.
    public var batch: Int? = 64
    public var dropLast = false
    public var epochs = 1
    /// Updates for a model with no data.
    public var steps = 1
    public var shuffle = true
    public var schedule = Schedule.none
    public var accumulate = 1
    public var metric: Metric? = nil
    public var seed = 0
    /// Inputs whose features are z-scored.
    public var normalize: [String] = []
    /// Training data path, relative to the .dl file.
    public var data: String? = nil
    /// Which columns feed which input or target, in the user's order.
    public var columns: [ColumnBinding] = []
    /// Fraction held out (seeded) for validation.
    public var validation = 0.0
    /// `early_stop patience: N, min_delta: D`: stop once the watched loss has not improved by
    /// more than D for N epochs (spec section 11); nil trains every epoch.
    public var earlyStop: EarlyStop? = nil

    public init() {}
}

/// The `early_stop` setting.
public struct EarlyStop: Hashable, Sendable {
    public var patience: Int
    public var minDelta: Double
    public init(patience: Int, minDelta: Double = 0) {
        self.patience = patience
        self.minDelta = minDelta
    }
}

public struct Optimizer: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case sgd, adam, adamw, adagrad
    }
    public var kind: Kind
    public var lr: Double
    public var momentum = 0.0
    public var nesterov = false
    public var weightDecay = 0.0
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var eps = 1e-8

    public init(kind: Kind, lr: Double) {
        self.kind = kind
        self.lr = lr
    }

    /// Each optimizer with PyTorch's defaults.
    public static func defaults(_ kind: Kind) -> Optimizer {
        switch kind {
        case .sgd: return .sgd(lr: 0.01)
        case .adam: return Optimizer(kind: .adam, lr: 0.001)
        case .adamw:
            var o = Optimizer(kind: .adamw, lr: 0.001)
            o.weightDecay = 0.01
            return o
        case .adagrad:
            var o = Optimizer(kind: .adagrad, lr: 0.01)
            o.eps = 1e-10
            return o
        }
    }

    public static func sgd(lr: Double) -> Optimizer { Optimizer(kind: .sgd, lr: lr) }

    /// The named arguments each optimizer accepts, in positional order.
    public static func argumentNames(_ kind: Kind) -> [String] {
        switch kind {
        case .sgd: return ["lr", "momentum", "weight_decay", "nesterov"]
        case .adam, .adamw: return ["lr", "beta1", "beta2", "eps", "weight_decay"]
        case .adagrad: return ["lr", "eps", "weight_decay"]
        }
    }
}

public enum Schedule: Hashable, Sendable {
    case none
    case stepLR(every: Int, gamma: Double)
    case cosine(epochs: Int)
    case reduceOnPlateau(factor: Double, patience: Int, threshold: Double)
}

public enum Metric: String, Hashable, Sendable, CaseIterable {
    case accuracy, mse, mae
}

/// `x: "0-63"` in the `columns` setting.
public struct ColumnBinding: Hashable, Sendable {
    public var name: String
    public var columns: String
    public init(name: String, columns: String) {
        self.name = name
        self.columns = columns
    }
}
