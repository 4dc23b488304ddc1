/// One broken invariant of a graph: what it concerns and what is wrong.
public struct VerifierProblem: Hashable, Sendable, CustomStringConvertible {
    /// The part of the graph at fault, by index into its array.
    public enum Subject: Hashable, Sendable {
        case graph
        case data(Int)
        case param(Int)
        case node(Int)
        case output(Int)
        case loss
        case gradient(Int)
        case state(Int)
        case stateUpdate(Int)
        case train
    }

    public let subject: Subject
    public let message: String
    /// The subject as the text form spells it (`%h`, `output 'logits'`), for `description`.
    public let context: String

    public init(_ subject: Subject, context: String, _ message: String) {
        self.subject = subject
        self.context = context
        self.message = message
    }

    /// `%3 (add): ...`, `param 'w': ...`.
    public var description: String { "\(context): \(message)" }
}

/// Thrown by `verifyOrThrow`: every problem found.
public struct VerificationError: Error, CustomStringConvertible, Sendable {
    public let problems: [VerifierProblem]
    public var description: String {
        "invalid IR:\n" + problems.map { "  " + $0.description }.joined(separator: "\n")
    }
}

/// Checks every invariant of the IR, so that each pass can assert it was given, and leaves,
/// a well-formed graph:
///
/// - declarations: names unique (inputs, targets and params share one namespace); types
///   well-formed (fixed dims >= 1, the batch at most once); the batch only as the first axis of
///   an input or target; params f32 with no batch and a sane initializer; state with no batch,
///   starting at zeros, ones or a number;
/// - nodes: node i has id i; operands refer to earlier nodes; value names unique; constants
///   scalar, and i32 constants 32-bit integers; axes normalized (sorted, distinct, in range); `input`/`param` leaves name a
///   declaration of exactly their type, each at most once; the node's type is exactly what
///   `TypeRules.resultType(of:operands:declared:)` gives (with the node's own type as declared);
/// - outputs, loss and gradients refer to existing values; output names unique; the loss is an
///   f32 scalar; each gradient names a param (at most once) and has that param's type; each
///   state update names a state (at most once) and has that state's type;
/// - train: batch and accumulate >= 1, validation in [0, 1), `normalize` and `columns` name
///   inputs or targets, each once.
public enum Verifier {
    /// Every problem, in graph order; empty when the graph is well-formed.
    public static func problems(in g: Graph) -> [VerifierProblem] {
        var c = VerifierRun(graph: g)
        c.checkDeclarations()
        c.checkNodes()
        c.checkResults()
        c.checkTrain()
        return c.problems
    }
}

/// Every broken invariant of `g`, one readable line each; empty when the graph is well-formed.
public func verify(_ g: Graph) -> [String] {
    Verifier.problems(in: g).map(\.description)
}

/// Throws a `VerificationError` listing every problem unless `g` is well-formed.
public func verifyOrThrow(_ g: Graph) throws {
    let problems = Verifier.problems(in: g)
    if !problems.isEmpty { throw VerificationError(problems: problems) }
}

/// One verification: the graph, and the problems found so far.
private struct VerifierRun {
    let graph: Graph
    var problems: [VerifierProblem] = []

    mutating func report(_ subject: VerifierProblem.Subject, _ message: String) {
        problems.append(VerifierProblem(subject, context: context(subject), message))
    }

    func context(_ s: VerifierProblem.Subject) -> String {
        switch s {
        case .graph: return "graph \(IRText.name(graph.name))"
        case .data(let i): return "\(graph.data[i].role.rawValue) \(IRText.name(graph.data[i].name))"
        case .param(let i): return "param \(IRText.name(graph.params[i].name))"
        case .node(let i): return "\(IRText.value(ValueID(i), in: graph)) (\(graph.nodes[i].op.mnemonic))"
        case .output(let i): return "output \(IRText.name(graph.outputs[i].name))"
        case .loss: return "loss"
        case .gradient(let i): return "grad \(IRText.name(graph.gradients[i].name))"
        case .state(let i): return "state \(IRText.name(graph.state[i].name))"
        case .stateUpdate(let i): return "update \(IRText.name(graph.stateUpdates[i].name))"
        case .train: return "train"
        }
    }

    /// The largest dimension, as in the language (1 <= d < 2^31).
    static let maxDim = Int(Int32.max)

    /// Why a type cannot be a value's type, if it cannot. Sizes are bounded so that the type
    /// rules' size arithmetic cannot overflow.
    static func typeProblem(_ t: TensorType) -> String? {
        if let bad = t.shape.dims.first(where: { ($0.fixedSize ?? 1) < 1 || ($0.fixedSize ?? 1) > maxDim }) {
            return "type \(t) has the dimension \(bad); dimensions are in 1...\(maxDim)"
        }
        if t.shape.dims.filter({ $0 == .batch }).count > 1 {
            return "type \(t) holds the batch N more than once"
        }
        var count = 1
        for d in t.shape.dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d.fixedSize ?? 1)
            if overflow { return "type \(t) has too many elements" }
            count = product
        }
        return nil
    }

    // MARK: - Declarations

    mutating func checkDeclarations() {
        var declared = Set<String>()
        for (i, d) in graph.data.enumerated() {
            if !declared.insert(d.name).inserted { report(.data(i), "the name '\(d.name)' is declared twice") }
            if let p = Self.typeProblem(d.type) {
                report(.data(i), p)
            } else if d.type.shape.dims.dropFirst().contains(.batch) {
                report(.data(i), "type \(d.type) holds the batch N after the first axis")
            }
        }
        for (i, p) in graph.params.enumerated() {
            if !declared.insert(p.name).inserted { report(.param(i), "the name '\(p.name)' is declared twice") }
            if let problem = Self.typeProblem(p.type) { report(.param(i), problem) }
            if p.type.dtype != .f32 { report(.param(i), "a param is f32, not \(p.type)") }
            if p.type.shape.hasBatch { report(.param(i), "a param's type \(p.type) cannot hold the batch N") }
            if let problem = Self.initializerProblem(p.initializer) { report(.param(i), problem) }
            if case .values(let v) = p.initializer, !p.type.shape.hasBatch, v.count != p.type.shape.fixedElementCount {
                report(.param(i), "\(v.count) initial values for a param of type \(p.type)")
            }
        }
        for (i, st) in graph.state.enumerated() {
            if !declared.insert(st.name).inserted { report(.state(i), "the name '\(st.name)' is declared twice") }
            if let problem = Self.typeProblem(st.type) { report(.state(i), problem) }
            if st.type.shape.hasBatch { report(.state(i), "a state's type \(st.type) cannot hold the batch N") }
            switch st.initializer {
            case .zeros, .ones: break
            case .constant(let v) where v.isFinite && (st.type.dtype == .f32 || v.rounded() == v && abs(v) < 2147483648): break
            default: report(.state(i), "a state starts at zeros, ones or a number of its dtype")
            }
        }
    }

    static func initializerProblem(_ i: Initializer) -> String? {
        switch i {
        case .constant(let v) where !v.isFinite:
            return "initial value \(v) is not finite"
        case .normal(let mean, let std) where !mean.isFinite || !std.isFinite || std < 0:
            return "normal(\(mean), \(std)) needs a finite mean and a finite std >= 0"
        case .uniform(let low, let high) where !low.isFinite || !high.isFinite || low > high:
            return "uniform(\(low), \(high)) needs finite bounds with low <= high"
        case .values(let v) where v.contains { !$0.isFinite || abs($0) > Double(Float.greatestFiniteMagnitude) }:
            return "an initial value is not a finite f32"
        default:
            return nil
        }
    }

    // MARK: - Nodes

    mutating func checkNodes() {
        var names = Set<String>()
        var leaves = Set<Op>()
        var dropoutSites = Set<Int>()
        // Nodes whose type is malformed (already reported): the type rules are not run on them
        // or their users, whose messages would only echo the first problem.
        var malformed = Set<Int>()
        for (i, n) in graph.nodes.enumerated() {
            if n.id.index != i { report(.node(i), "node \(i) has the id \(n.id)") }
            if let name = n.name, !names.insert(name).inserted {
                report(.node(i), "the value name '\(name)' is used twice")
            }
            if let p = Self.typeProblem(n.type) {
                report(.node(i), p)
                malformed.insert(i)
            }
            let badOperands = n.operands.filter { $0.index < 0 || $0.index >= i }
            for v in badOperands { report(.node(i), "operand \(v) is not an earlier node") }
            switch n.op {
            case .input, .param, .state:
                if !leaves.insert(n.op).inserted { report(.node(i), "a second leaf for the same \(n.op.mnemonic)") }
                checkLeaf(i, n)
            case .dropoutMask(_, let site):
                if !dropoutSites.insert(site).inserted {
                    report(.node(i), "a second dropout_mask with site \(site): each site draws its own masks")
                }
            case .constant(let v):
                if !n.type.isScalar {
                    report(.node(i), "a constant is a scalar, not \(n.type)")
                    continue  // the type rule would only say it again
                }
                if n.type.dtype == .i32, !(v.rounded() == v && abs(v) <= 2147483648 && v < 2147483648) {
                    report(.node(i), "an i32 constant is a 32-bit integer, not \(v)")
                }
            default:
                break
            }
            guard badOperands.isEmpty, !malformed.contains(i) else { continue }
            guard n.operands.allSatisfy({ !malformed.contains($0.index) }) else {
                malformed.insert(i)
                continue
            }
            let operandTypes = n.operands.map { graph.nodes[$0.index].type }
            if let p = Self.attributeProblem(n.op, operandTypes) {
                report(.node(i), p)
                continue
            }
            do {
                let expected = try TypeRules.resultType(of: n.op, operands: operandTypes, declared: n.type)
                if expected != n.type { report(.node(i), "has type \(n.type), but its operands give \(expected)") }
            } catch let f as TypeRules.Failure {
                let types = operandTypes.map(\.description).joined(separator: ", ")
                report(.node(i), "ill-typed on (\(types)) -> \(n.type): \(f.message)")
            } catch {
                report(.node(i), "\(error)")
            }
        }
    }

    /// An `input` or `param` leaf names a declaration of exactly its type.
    mutating func checkLeaf(_ i: Int, _ n: Node) {
        switch n.op {
        case .input(let name):
            guard let d = graph.dataDecl(named: name) else {
                report(.node(i), "no input or target is declared as '\(name)'")
                return
            }
            if d.type != n.type { report(.node(i), "has type \(n.type), but \(d.role.rawValue) '\(name)' is \(d.type)") }
        case .param(let name):
            guard let p = graph.param(named: name) else {
                report(.node(i), "no param is declared as '\(name)'")
                return
            }
            if p.type != n.type { report(.node(i), "has type \(n.type), but param '\(name)' is \(p.type)") }
        case .state(let name):
            guard let st = graph.stateDecl(named: name) else {
                report(.node(i), "no state is declared as '\(name)'")
                return
            }
            if st.type != n.type { report(.node(i), "has type \(n.type), but state '\(name)' is \(st.type)") }
        default:
            break
        }
    }

    /// Axes are normalized: non-negative, below the operand's rank, sorted and distinct; and
    /// sizes in attributes are bounded like dimensions, so that the type rules cannot overflow.
    static func attributeProblem(_ op: Op, _ operands: [TensorType]) -> String? {
        if case .slice(_, let start, let length) = op, start < 0 || start > maxDim || length < 1 || length > maxDim {
            return "slice start \(start) and length \(length) are out of range"
        }
        if case .oneHot(let classes) = op, classes > maxDim {
            return "one_hot with \(classes) classes is out of range"
        }
        switch op {
        case .conv2d(let s, let p, _), .conv2dInputGrad(let s, let p), .conv2dWeightGrad(let s, let p):
            if s > maxDim || p > maxDim { return "stride \(s) and padding \(p) are out of range" }
        case .maxPool2d(let w), .maxPool2dGrad(let w), .avgPool2d(let w), .avgPool2dGrad(let w):
            if w.kernel > maxDim || w.stride > maxDim || w.padding > maxDim {
                return "kernel \(w.kernel), stride \(w.stride) and padding \(w.padding) are out of range"
            }
        default: break
        }
        let axes: [Int]
        switch op {
        case .reduce(_, let a, _), .count(let a): axes = a
        case .concat(let a), .slice(let a, _, _), .softmax(let a), .logSoftmax(let a), .argmax(let a),
             .maxMask(let a):
            axes = [a]
        default: return nil
        }
        guard let rank = operands.first?.rank else { return nil }  // the type rule reports it
        if let bad = axes.first(where: { $0 < 0 || $0 >= rank }) {
            return "axis \(bad) is not normalized: it must be in 0..<\(rank) for \(operands[0])"
        }
        if axes != axes.sorted() || Set(axes).count != axes.count {
            return "axes \(axes) are not normalized: they must be sorted and distinct"
        }
        return nil
    }

    // MARK: - Outputs, loss, gradients

    func exists(_ v: ValueID) -> Bool { v.index >= 0 && v.index < graph.nodes.count }

    mutating func checkResults() {
        var outputNames = Set<String>()
        for (i, o) in graph.outputs.enumerated() {
            if !exists(o.value) { report(.output(i), "\(o.value) is not a value of the graph") }
            if !outputNames.insert(o.name).inserted { report(.output(i), "the output '\(o.name)' is given twice") }
            if exists(o.value), let axis = graph.type(of: o.value).shape.dims.firstIndex(of: .batch), axis != 0 {
                report(.output(i), "the output '\(o.name)' has the batch on axis \(axis); an output holds it first")
            }
        }
        if let l = graph.loss {
            if !exists(l) {
                report(.loss, "\(l) is not a value of the graph")
            } else if graph.type(of: l) != .f32Scalar {
                report(.loss, "the loss must be an f32 scalar, not \(graph.type(of: l))")
            }
        }
        var gradientNames = Set<String>()
        for (i, gr) in graph.gradients.enumerated() {
            if !gradientNames.insert(gr.name).inserted { report(.gradient(i), "param '\(gr.name)' has two gradients") }
            guard exists(gr.value) else {
                report(.gradient(i), "\(gr.value) is not a value of the graph")
                continue
            }
            guard let p = graph.param(named: gr.name) else {
                report(.gradient(i), "no param is declared as '\(gr.name)'")
                continue
            }
            if graph.type(of: gr.value) != p.type {
                report(.gradient(i), "the gradient has type \(graph.type(of: gr.value)), but the param is \(p.type)")
            }
        }
        var updated = Set<String>()
        for (i, u) in graph.stateUpdates.enumerated() {
            if !updated.insert(u.name).inserted { report(.stateUpdate(i), "state '\(u.name)' is updated twice") }
            guard exists(u.value) else {
                report(.stateUpdate(i), "\(u.value) is not a value of the graph")
                continue
            }
            guard let st = graph.stateDecl(named: u.name) else {
                report(.stateUpdate(i), "no state is declared as '\(u.name)'")
                continue
            }
            if graph.type(of: u.value) != st.type {
                report(.stateUpdate(i), "the new value has type \(graph.type(of: u.value)), but the state is \(st.type)")
            }
        }
    }

    // MARK: - Train

    mutating func checkTrain() {
        let t = graph.train
        if let b = t.batch, b < 1 { report(.train, "batch \(b) is not a positive size") }
        if t.accumulate < 1 { report(.train, "accumulate \(t.accumulate) is not a positive count") }
        if !(t.validation >= 0 && t.validation < 1) {
            report(.train, "validation \(t.validation) is not a fraction in [0, 1)")
        }
        var seen = Set<String>()
        for name in t.normalize {
            if graph.dataDecl(named: name) == nil { report(.train, "normalize names '\(name)', which is not an input") }
            if !seen.insert(name).inserted { report(.train, "normalize names '\(name)' twice") }
        }
        seen = []
        for c in t.columns {
            if graph.dataDecl(named: c.name) == nil {
                report(.train, "columns names '\(c.name)', which is not an input or target")
            }
            if !seen.insert(c.name).inserted { report(.train, "columns names '\(c.name)' twice") }
        }
    }
}
