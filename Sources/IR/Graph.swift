import DLCDiagnostics

/// Identifies a value (the result of one node) in a graph. Values are in SSA form: each is
/// defined once, by the node at `graph.nodes[id.index]`.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }
    public var description: String { "%\(index)" }
}

/// One operation and the value it defines.
public struct Node: Hashable, Sendable {
    public let id: ValueID
    public var op: Op
    public var operands: [ValueID]
    public var type: TensorType
    /// The user's name for the value (`h`, `logits`, `fc1.weight`), printed instead of its number.
    public var name: String?
    /// Where in the model the value comes from, for diagnostics and generated-code comments.
    public var location: SourceLocation?

    public init(id: ValueID, op: Op, operands: [ValueID], type: TensorType,
                name: String? = nil, location: SourceLocation? = nil) {
        self.id = id
        self.op = op
        self.operands = operands
        self.type = type
        self.name = name
        self.location = location
    }
}

/// Whether a data tensor is an `input` (needed by `predict`) or a `target` (loss and metrics).
public enum DataRole: String, Hashable, Sendable {
    case input, target
}

/// A tensor fed from data: `input x: f32[N, 784]`.
public struct DataDecl: Hashable, Sendable {
    public var name: String
    public var role: DataRole
    public var type: TensorType
    public init(name: String, role: DataRole, type: TensorType) {
        self.name = name
        self.role = role
        self.type = type
    }
}

/// How a param is initialised. `fan_in` is the product of all axes but the first.
public enum Initializer: Hashable, Sendable {
    case zeros, ones
    case constant(Double)
    case normal(mean: Double, std: Double)
    case uniform(low: Double, high: Double)
    /// PyTorch's default for Linear weights: uniform(±1/sqrt(fan_in)).
    case kaimingUniform
    /// Gain 1: uniform(±sqrt(6 / (fan_in + fan_out))).
    case xavierUniform
    /// `param w: f32[2] = [1.0, 0.5]`: every element given, row-major; draws nothing.
    case values([Double])
}

/// A trainable tensor: `param grid: f32[21, 2] = normal(0, 1)`.
public struct ParamDecl: Hashable, Sendable {
    public var name: String
    public var type: TensorType
    public var initializer: Initializer
    public init(name: String, type: TensorType, initializer: Initializer) {
        self.name = name
        self.type = type
        self.initializer = initializer
    }
}

/// A tensor carried from training step to training step without being trained: batch
/// normalization's `bn.running_mean`, `bn.running_var` (f32) and `bn.num_batches_tracked`
/// (i32 here, I64 in a checkpoint). Its value starts at `initializer` (zeros, ones or a
/// number), is read by `state` leaves, replaced after each training step by its entry in
/// `Graph.stateUpdates`, never differentiated, and saved with the params.
public struct StateDecl: Hashable, Sendable {
    public var name: String
    public var type: TensorType
    public var initializer: Initializer
    public init(name: String, type: TensorType, initializer: Initializer) {
        self.name = name
        self.type = type
        self.initializer = initializer
    }
}

/// A whole program: declarations, the computation as a list of nodes in execution order,
/// what it outputs and minimises, and (after AD) the gradient of the loss for each param.
public struct Graph: Hashable, Sendable {
    public var name: String
    public var data: [DataDecl] = []
    public var params: [ParamDecl] = []
    /// Tensors carried between steps that are not trained (batch normalization's statistics).
    public var state: [StateDecl] = []
    /// Topologically ordered; `nodes[i].id.index == i`.
    public private(set) var nodes: [Node] = []
    /// `output` names in order, and the values they denote.
    public var outputs: [NamedValue] = []
    /// The scalar that training minimises.
    public var loss: ValueID?
    /// d(loss)/d(param), one entry per param in declaration order; empty before AD.
    public var gradients: [NamedValue] = []
    /// The value each state takes after a training step, by state name (a state a step does
    /// not change has no entry). Evaluation and prediction change no state.
    public var stateUpdates: [NamedValue] = []
    /// How the trainer trains by default.
    public var train: TrainConfig = TrainConfig()

    public init(name: String) { self.name = name }

    public subscript(id: ValueID) -> Node {
        get { nodes[id.index] }
        set {
            precondition(newValue.id == id)
            nodes[id.index] = newValue
        }
    }

    /// Appends a node and returns its value.
    @discardableResult
    public mutating func add(_ op: Op, _ operands: [ValueID] = [], type: TensorType,
                             name: String? = nil, location: SourceLocation? = nil) -> ValueID {
        let id = ValueID(nodes.count)
        nodes.append(Node(id: id, op: op, operands: operands, type: type, name: name, location: location))
        return id
    }

    /// Replaces all nodes at once (used by passes that rebuild the graph); the caller keeps
    /// `outputs`, `loss` and `gradients` consistent.
    public mutating func replaceNodes(_ newNodes: [Node]) { nodes = newNodes }

    public func type(of v: ValueID) -> TensorType { nodes[v.index].type }

    /// The value of a param's leaf node, if the graph has one.
    public func paramValue(_ name: String) -> ValueID? {
        nodes.first { $0.op == .param(name) }?.id
    }

    /// The value of an input's or target's leaf node, if the graph has one.
    public func dataValue(_ name: String) -> ValueID? {
        nodes.first { $0.op == .input(name) }?.id
    }

    public func param(named name: String) -> ParamDecl? { params.first { $0.name == name } }

    public func stateDecl(named name: String) -> StateDecl? { state.first { $0.name == name } }

    /// The value of a state's leaf node, if the graph has one.
    public func stateValue(_ name: String) -> ValueID? {
        nodes.first { $0.op == .state(name) }?.id
    }

    /// Targets used as class labels (of `nll`, `cross_entropy`, fused or not), with their
    /// class count: the data loaders check every label is in range.
    public func labelClasses() -> [String: Int] {
        var out: [String: Int] = [:]
        for n in nodes {
            guard n.op == .loss(.nll) || n.op == .softmaxCrossEntropy, case .input(let name) = self[n.operands[1]].op,
                  case .fixed(let c)? = type(of: n.operands[0]).shape.dims.last else { continue }
            out[name] = c
        }
        return out
    }
    public func dataDecl(named name: String) -> DataDecl? { data.first { $0.name == name } }

    /// A node that needs training batches of at least two rows, if there is one: a `count`
    /// over the batch and axes of size 1 whose value reaches a state update, which divides by
    /// count − 1 (batch normalization's unbiased running variance over [N, C]: a batch of one
    /// row has a single value per channel). Its location is the layer's call.
    public func nodeNeedingTwoRows() -> Node? {
        var reachesUpdate = [Bool](repeating: false, count: nodes.count)
        for u in stateUpdates { reachesUpdate[u.value.index] = true }
        for n in nodes.reversed() where reachesUpdate[n.id.index] {
            for o in n.operands { reachesUpdate[o.index] = true }
        }
        return nodes.first { n in
            guard reachesUpdate[n.id.index], case .count(let axes) = n.op else { return false }
            let dims = type(of: n.operands[0]).shape.dims
            return axes.contains { dims[$0] == .batch } && axes.allSatisfy { dims[$0] == .batch || dims[$0] == .fixed(1) }
        }
    }
}

/// A value with a name attached: an output, or a param's gradient.
public struct NamedValue: Hashable, Sendable {
    public var name: String
    public var value: ValueID
    public init(_ name: String, _ value: ValueID) {
        self.name = name
        self.value = value
    }
}
