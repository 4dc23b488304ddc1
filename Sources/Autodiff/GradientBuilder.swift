import DLCIR

/// Emits the backward nodes into the training graph.
///
/// Every helper types its node with `Graph.emit` and applies the trivial simplifications the
/// dumps rely on: nothing is emitted to multiply or divide by a constant 1, to sum or broadcast
/// a value to the shape it already has, or to reshape or slice it to itself, and arithmetic on
/// two constants is folded. Each node is tagged with the location of the forward node whose
/// rule produced it, so that generated code can cite the model line it comes from.
struct GradientBuilder {
    var graph: Graph
    /// The forward node whose rule is being applied; its location tags the nodes emitted.
    var origin: ValueID?

    init(_ forward: Graph) { graph = forward }

    func type(_ v: ValueID) -> TensorType { graph.type(of: v) }
    func shape(_ v: ValueID) -> Shape { graph.type(of: v).shape }

    /// The value of a constant node, if `v` is one.
    func constantValue(_ v: ValueID) -> Double? {
        if case .constant(let c) = graph[v].op { return c }
        return nil
    }

    /// Appends one node, tagged with the origin's location.
    mutating func op(_ op: Op, _ operands: [ValueID], declared: TensorType? = nil) -> ValueID {
        let v = graph.emit(op, operands, declared: declared)
        if let origin { graph[v].location = graph[origin].location }
        return v
    }

    /// A fresh f32 scalar constant. Constants are not shared between rules, so that naming one
    /// (`d.x` for a gradient that folded to a constant) never renames another use.
    mutating func constant(_ c: Double) -> ValueID {
        graph.add(.constant(c), type: .f32Scalar)
    }

    /// Zeros of an f32 shape.
    mutating func zeros(_ shape: Shape) -> ValueID {
        broadcast(constant(0), to: shape)
    }

    // MARK: - Elementwise, with folding

    mutating func unary(_ u: UnaryOp, _ x: ValueID) -> ValueID {
        if u == .neg, let c = constantValue(x) { return constant(-c) }
        return op(.unary(u), [x])
    }

    mutating func neg(_ x: ValueID) -> ValueID { unary(.neg, x) }

    mutating func binary(_ b: BinaryOp, _ x: ValueID, _ y: ValueID) -> ValueID {
        op(.binary(b), [x, y])
    }

    mutating func add(_ x: ValueID, _ y: ValueID) -> ValueID {
        if let a = constantValue(x), let b = constantValue(y) { return constant(a + b) }
        return binary(.add, x, y)
    }

    mutating func sub(_ x: ValueID, _ y: ValueID) -> ValueID {
        if let a = constantValue(x), let b = constantValue(y) { return constant(a - b) }
        return binary(.sub, x, y)
    }

    /// x·y; a factor 1 (the seed among others) is dropped and a factor -1 is a `neg`. A
    /// constant is a scalar, so the other factor already has the product's shape.
    mutating func mul(_ x: ValueID, _ y: ValueID) -> ValueID {
        switch (constantValue(x), constantValue(y)) {
        case let (a?, b?): return constant(a * b)
        case (1?, _): return y
        case (_, 1?): return x
        case (.some(-1), _): return neg(y)
        case (_, .some(-1)): return neg(x)
        default: return binary(.mul, x, y)
        }
    }

    mutating func div(_ x: ValueID, _ y: ValueID) -> ValueID {
        switch (constantValue(x), constantValue(y)) {
        case let (a?, b?): return constant(a / b)
        case (_, 1?): return x
        default: return binary(.div, x, y)
        }
    }

    /// x·c for a literal c.
    mutating func scale(_ x: ValueID, by c: Double) -> ValueID {
        if let a = constantValue(x) { return constant(a * c) }
        return c == 1 ? x : mul(x, constant(c))
    }

    // MARK: - Movement, emitting nothing when the shape already matches

    /// `x` summed down to `shape`: undoes a broadcast.
    mutating func sumTo(_ x: ValueID, _ shape: Shape) -> ValueID {
        shape == self.shape(x) ? x : op(.sumTo, [x], declared: type(x).with(shape: shape))
    }

    /// `x` summed down to the shape of `operand`: the gradient of an operand that was broadcast.
    mutating func unbroadcast(_ x: ValueID, like operand: ValueID) -> ValueID {
        sumTo(x, shape(operand))
    }

    mutating func broadcast(_ x: ValueID, to shape: Shape) -> ValueID {
        shape == self.shape(x) ? x : op(.broadcast, [x], declared: type(x).with(shape: shape))
    }

    mutating func reshape(_ x: ValueID, to shape: Shape) -> ValueID {
        shape == self.shape(x) ? x : op(.reshape, [x], declared: type(x).with(shape: shape))
    }

    /// The gradient `g` of a reduction of `x` over `axes`, given back its reduced axes as
    /// size 1 so that it broadcasts against `x`. Axes reduced away at the front need no
    /// reshape: broadcasting aligns shapes at the right.
    mutating func keepdims(_ g: ValueID, reducing x: ValueID, over axes: [Int]) -> ValueID {
        if axes == Array(0..<axes.count) { return g }
        return reshape(g, to: TypeRules.reducedShape(shape(x), axes: axes, keepdim: true))
    }

    /// The number of elements of `x` over `axes`: a constant when every such axis is fixed,
    /// otherwise a `count` node (the batch size is known only at run time).
    mutating func elementCount(_ x: ValueID, axes: [Int]) -> ValueID {
        let dims = axes.map { shape(x).dims[$0] }
        if dims.allSatisfy({ $0.fixedSize != nil }) {
            return constant(Double(dims.reduce(1) { $0 * $1.fixedSize! }))
        }
        return op(.count(axes: axes), [x])
    }

    /// g·k/n as an f32 scalar, n the number of elements of `x` over `axes`: the factor of
    /// every loss gradient. Folds to a constant when g is the seed and n is fixed.
    mutating func lossFactor(_ g: ValueID, _ k: Double, count x: ValueID, axes: [Int]) -> ValueID {
        let n = elementCount(x, axes: axes)
        if let c = constantValue(n) { return scale(g, by: k / c) }
        return div(scale(g, by: k), n)
    }

    /// The `length` entries of `x` from `start` along `axis`; nothing when that is all of `x`.
    mutating func slice(_ x: ValueID, axis: Int, start: Int, length: Int) -> ValueID {
        if start == 0, shape(x).dims[axis] == .fixed(length) { return x }
        return op(.slice(axis: axis, start: start, length: length), [x])
    }

    /// `g` placed at `start` along `axis` in zeros of `shape`: the gradient of a slice, as a
    /// concat of zero blocks around `g` (the IR has no pad op; this is one).
    mutating func pad(_ g: ValueID, to shape: Shape, axis: Int, start: Int) -> ValueID {
        guard let total = shape.dims[axis].fixedSize, let length = self.shape(g).dims[axis].fixedSize else {
            fatalError("internal error: slice of a batch axis")
        }
        func block(_ n: Int) -> Shape {
            var dims = shape.dims
            dims[axis] = .fixed(n)
            return Shape(dims)
        }
        var parts = [ValueID]()
        if start > 0 { parts.append(zeros(block(start))) }
        parts.append(g)
        if start + length < total { parts.append(zeros(block(total - start - length))) }
        return parts.count == 1 ? g : op(.concat(axis: axis), parts)
    }

    // MARK: - Sums of gradient contributions and clean-up

    /// The sum of a value's gradient contributions, as a chain of adds; nil when there are none.
    mutating func sum(_ terms: [ValueID]) -> ValueID? {
        guard var total = terms.first else { return nil }
        for t in terms.dropFirst() { total = add(total, t) }
        return total
    }

    /// Removes the backward nodes that no gradient uses (left by folding, e.g. a seed whose
    /// only use was negated into a constant), renumbering the others. Returns the new value
    /// of each old one (nil for a removed node).
    mutating func removeUnusedBackwardNodes(keeping roots: [ValueID], forwardCount: Int) -> [ValueID?] {
        var live = [Bool](repeating: false, count: graph.nodes.count)
        for r in roots { live[r.index] = true }
        for node in graph.nodes[forwardCount...].reversed() where live[node.id.index] {
            for x in node.operands { live[x.index] = true }
        }
        var newID = [ValueID?](repeating: nil, count: graph.nodes.count)
        var kept = [Node]()
        for node in graph.nodes where node.id.index < forwardCount || live[node.id.index] {
            let id = ValueID(kept.count)
            newID[node.id.index] = id
            kept.append(Node(id: id, op: node.op, operands: node.operands.map { newID[$0.index]! },
                             type: node.type, name: node.name, location: node.location))
        }
        graph.replaceNodes(kept)
        return newID
    }
}
