import DLCInterpreter

/// Small random valid models (.dl source), seeded and deterministic, for differential tests of
/// the backends against the interpreter (`GeneratedModelTests`).
///
/// A model is a few declarations and a forward block of 3 to 8 bindings, each one random op on
/// earlier values, so later bindings share earlier subexpressions. It mixes scalars, params-only
/// models, inputs with a batch axis (first, or second after a transpose), broadcasting, the
/// reductions, matrix products (also over the batch axis), layers, gathers with i32 indices
/// computed from i32 or f32 data, comparisons and `where`, shape ops and dropout (masks with the
/// batch first, after other axes, or without it). The loss is a loss
/// function of a target, a hand-written scalar, or a bound name that is also an output.
///
/// Numerics are kept tame so that float32 and double agree to the comparison's tolerance: no
/// raw `exp`, `log`, `sqrt` or division by a value that may be near zero, and no `int` or
/// `floor` of a value computed in floating point from params. i32 indices are always in range:
/// they come from data (`SyntheticData` keeps i32 inputs small and within the tables they index
/// directly) and end in `% rows`, `minimum(…, rows - 1)` or are non-negative by construction.
struct ModelGenerator {
    /// A tensor type; `-1` stands for the batch axis `N`.
    struct TypeShape: Equatable {
        var i32: Bool
        var dims: [Int]
        var rank: Int { dims.count }
        var batched: Bool { dims.contains(-1) }
        var text: String {
            (i32 ? "i32" : "f32") + (dims.isEmpty ? "" : "[" + dims.map { $0 == -1 ? "N" : String($0) }.joined(separator: ", ") + "]")
        }
    }

    /// An expression and what it is.
    struct Expr {
        var text: String
        var type: TypeShape
        /// Whether it depends on a param (a gradient can flow through it).
        var fromParam: Bool
        var rank: Int { type.rank }
    }

    private var rng: SplitMix64
    private var declarations: [String] = []
    private var statements: [String] = []
    /// f32 operands: declared inputs, params (layers' aside) and bound names, in order.
    private var inputs: [Expr] = []
    private var params: [Expr] = []
    private var bound: [Expr] = []
    private var pool: [Expr] { inputs + params + bound }
    /// i32 inputs read as indices: `[N]` or `[N, 2]`.
    private var indexInputs: [(name: String, dims: [Int])] = []
    /// f32 inputs read only as data (for int(...) indices).
    private var dataInputs: [String] = []
    /// i32 inputs used directly to index a batch tensor (`SyntheticData` keeps them below the batch).
    private var partnerInputs: [String] = []
    private var counter = 0
    private let batched: Bool

    /// The model of `seed`: the same seed always gives the same text.
    static func model(seed: Int) -> String {
        var g = ModelGenerator(seed: seed)
        return g.build(name: "generated_\(seed)")
    }

    private init(seed: Int) {
        rng = SplitMix64(seed: seed, stream: .initialization)
        var coin = rng
        batched = coin.below(4) != 0
        rng = coin
    }

    // MARK: - Random choices

    private mutating func below(_ n: Int) -> Int { rng.below(n) }
    private mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    private mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    private mutating func fresh(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)\(counter)"
    }

    private mutating func literal() -> String { pick(["0.5", "2", "1.5", "0.25", "3", "0.1"]) }

    // MARK: - Declarations

    private mutating func param(_ dims: [Int]) -> Expr {
        let name = fresh("w")
        let inits = ["normal(0, 1)", "uniform(-1, 1)", "kaiming_uniform", "xavier_uniform", "0.5", "normal(0.5, 0.2)"]
        let type = TypeShape(i32: false, dims: dims)
        declarations.append("param \(name): \(type.text) = \(dims.isEmpty ? pick(["1.5", "-0.5", "2.0"]) : pick(inits))")
        let e = Expr(text: name, type: type, fromParam: true)
        params.append(e)
        return e
    }

    private mutating func input(_ dims: [Int], i32: Bool = false, prefix: String = "x") -> String {
        let name = fresh(prefix)
        declarations.append("input \(name): \(TypeShape(i32: i32, dims: dims).text)")
        return name
    }

    private mutating func declareInputs() {
        let width = 1 + below(4)
        let x = input([-1, width])
        inputs.append(Expr(text: x, type: TypeShape(i32: false, dims: [-1, width]), fromParam: false))
        dataInputs.append(x)
        if chance(30) {
            let dims = [-1, 2 + below(2), 1 + below(3)]
            let s = input(dims)
            inputs.append(Expr(text: s, type: TypeShape(i32: false, dims: dims), fromParam: false))
        }
        if chance(50) {
            let dims = chance(70) ? [-1] : [-1, 2]
            indexInputs.append((input(dims, i32: true, prefix: "k"), dims))
        }
        if chance(20) { partnerInputs.append(input([-1], i32: true, prefix: "p")) }
    }

    private mutating func declareParams() {
        for _ in 0..<(1 + below(3)) {
            switch below(4) {
            case 0: _ = param([])
            case 1: _ = param([1 + below(4)])
            case 2: _ = param([1 + below(4), 1 + below(4)])
            default: _ = param([1, 1 + below(4)])
            }
        }
    }

    // MARK: - Operands

    /// A random operand: mostly one of the last bound values (so that bindings build on each
    /// other and share subexpressions), else an input or a param.
    private mutating func operand() -> Expr {
        let choice = below(100)
        if choice < 55, !bound.isEmpty { return pick(Array(bound.suffix(3))) }
        if choice < 80, !inputs.isEmpty { return pick(inputs) }
        if !params.isEmpty, choice >= 80 || bound.isEmpty { return pick(params) }
        return pick(pool)
    }

    /// A pool value, a literal, a scalar param or a fresh param that broadcasts with `a`.
    private mutating func partner(for a: Expr) -> Expr {
        let fits = pool.filter { Self.broadcast(a.type.dims, $0.type.dims) != nil }
        let choice = below(6)
        if choice < 3, !fits.isEmpty { return pick(fits) }
        if choice == 3 { return Expr(text: literal(), type: TypeShape(i32: false, dims: []), fromParam: false) }
        if choice == 4, let last = a.type.dims.last, last > 0 { return param([last]) }
        return broadcastParam(for: a)
    }

    /// A fresh param shaped like `a` with size 1 where `a` has the batch (`[N, 3]` meets `[1, 3]`
    /// or `[3]`).
    private mutating func broadcastParam(for a: Expr) -> Expr {
        let dims = a.type.dims.map { $0 == -1 ? 1 : $0 }
        return param(chance(50) ? dims : Array(dims.drop { $0 == 1 }))
    }

    /// NumPy broadcasting, the batch (-1) matching only itself or 1.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        let pa = Array(repeating: 1, count: n - a.count) + a, pb = Array(repeating: 1, count: n - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            if x == y { out.append(x) } else if x == 1 { out.append(y) } else if y == 1 { out.append(x) } else { return nil }
        }
        return out.filter { $0 == -1 }.count <= 1 ? out : nil
    }

    // MARK: - Expressions

    /// A random f32 expression, `depth` ops deep at most.
    private mutating func expression(depth: Int) -> Expr {
        if depth == 0 || chance(25) { return operand() }
        return operation(on: expression(depth: depth - 1))
    }

    /// One random op applied to `a` (and to other operands it picks).
    private mutating func operation(on a: Expr) -> Expr {
        switch below(16) {
        case 0, 1:
            return unary(a)
        case 2, 3, 4:
            return binary(a)
        case 5:
            return reduction(a)
        case 6:
            return product(a) ?? binary(a)
        case 7:
            return gather(a) ?? unary(a)
        case 8:
            // A comparison and `where`: no gradient through the condition.
            let b = partner(for: a)
            guard let dims = Self.broadcast(a.type.dims, b.type.dims) else { return unary(a) }
            let op = pick(["<", ">", "<=", ">=", "!=", "=="])
            let c = pick(["-\(a.text)", "0", "(\(a.text) * \(b.text))"])
            return Expr(text: "where(\(a.text) \(op) \(b.text), \(a.text), \(c))", type: TypeShape(i32: false, dims: dims),
                        fromParam: a.fromParam || b.fromParam)
        case 9:
            return shapeOp(a)
        case 10 where a.rank >= 1 && a.type.dims.last! != -1 && a.type.dims.last! > 1:
            let f = pick(["softmax", "log_softmax"])
            return Expr(text: "\(f)(\(a.text), axis: -1)", type: a.type, fromParam: a.fromParam)
        case 11:
            return concat(a)
        case 12:
            return Expr(text: "\(pick(["maximum", "minimum"]))(\(a.text), \(chance(50) ? a.text : "0"))", type: a.type,
                        fromParam: a.fromParam)
        case 13:
            return dataTerm(a)
        case 14:
            // Masks with the batch first, elsewhere (after a transpose) or absent.
            let p = pick(["", ", p: 0.3", ", 0.6"])
            return Expr(text: "dropout(\(a.text)\(p))", type: a.type, fromParam: a.fromParam)
        default:
            return unary(a)
        }
    }

    private mutating func unary(_ a: Expr) -> Expr {
        let forms = ["relu(A)", "sigmoid(A)", "tanh(A)", "abs(A)", "square(A)", "-A", "exp(-square(A))",
                     "log(1 + square(A))", "sqrt(square(A) + 1)", "A ** 2", "pow(A, 3)", "(A * 0.5 + 1)"]
        let text = pick(forms).replacingOccurrences(of: "A", with: "(\(a.text))")
        return Expr(text: text, type: a.type, fromParam: a.fromParam)
    }

    private mutating func binary(_ a: Expr) -> Expr { binaryWith(a, partner(for: a)) }

    private mutating func binaryWith(_ a: Expr, _ b: Expr) -> Expr {
        guard let dims = Self.broadcast(a.type.dims, b.type.dims) else { return unary(a) }
        let forms = ["(A + B)", "(A - B)", "(A * B)", "(A / (1 + square(B)))", "maximum(A, B)", "minimum(A, B)",
                     "(B - A * B)"]
        let text = pick(forms).replacingOccurrences(of: "A", with: a.text).replacingOccurrences(of: "B", with: b.text)
        return Expr(text: text, type: TypeShape(i32: false, dims: dims), fromParam: a.fromParam || b.fromParam)
    }

    private mutating func reduction(_ a: Expr) -> Expr {
        let f = pick(["sum", "mean", "max"])
        guard a.rank >= 1, chance(70) else {
            return Expr(text: "\(f)(\(a.text))", type: TypeShape(i32: false, dims: []), fromParam: a.fromParam)
        }
        let axis = below(a.rank)
        let keep = chance(40)
        var dims = a.type.dims
        if keep { dims[axis] = 1 } else { dims.remove(at: axis) }
        let written = chance(30) ? String(axis - a.rank) : String(axis)
        let args = keep ? (chance(50) ? ", \(written), true" : ", \(written), keepdim: true") : ", \(written)"
        return Expr(text: "\(f)(\(a.text)\(args))", type: TypeShape(i32: false, dims: dims), fromParam: a.fromParam)
    }

    /// A matrix product or a layer, or nil when `a` has no matrix shape.
    private mutating func product(_ a: Expr) -> Expr? {
        guard (2...3).contains(a.rank), let k = a.type.dims.last, k > 0 else { return nil }
        let m = 1 + below(4)
        switch below(4) {
        case 0:
            let w = param([k, m])
            var dims = a.type.dims
            dims[dims.count - 1] = m
            return Expr(text: "(\(a.text) @ \(w.text))", type: TypeShape(i32: false, dims: dims), fromParam: true)
        case 1:
            let layer = fresh("fc")
            declarations.append("layer \(layer) = Linear(\(k), \(m)\(chance(25) ? ", bias: false" : ""))")
            var dims = a.type.dims
            dims[dims.count - 1] = m
            return Expr(text: "\(layer)(\(a.text))", type: TypeShape(i32: false, dims: dims), fromParam: true)
        case 2 where a.rank == 2 && a.type.dims[0] == -1:
            // The batch contracted: [N, k]ᵀ @ [N, k] is [k, k].
            return Expr(text: "(transpose(\(a.text)) @ \(a.text))", type: TypeShape(i32: false, dims: [k, k]),
                        fromParam: a.fromParam)
        default:
            let w = param([m, k]), b = param([m])
            var dims = a.type.dims
            dims[dims.count - 1] = m
            return Expr(text: "linear(\(a.text), \(w.text), \(b.text))", type: TypeShape(i32: false, dims: dims),
                        fromParam: true)
        }
    }

    /// An i32 index into `rows` rows, from data only, or nil when the model has no such data.
    private mutating func index(rows: Int) -> (text: String, dims: [Int])? {
        var options: [(String, [Int])] = []
        for (k, dims) in indexInputs {
            let c1 = 1 + below(3), c2 = below(5)
            options.append(("((\(k) * \(c1) + \(c2)) % \(rows))", dims))
            options.append(("minimum(\(k), \(rows - 1))", dims))
            options.append(("(maximum(\(k) - \(c1), 0) % \(rows))", dims))
            options.append(("((\(k) // 2) % \(rows))", dims))
        }
        for x in dataInputs { options.append(("(int(abs(\(x)) * 3) % \(rows))", [-1, width(of: x)])) }
        return options.isEmpty ? nil : pick(options)
    }

    private func width(of input: String) -> Int {
        inputs.first { $0.text == input }!.type.dims[1]
    }

    /// `table[index]`: rows of a fixed-size table by an index from data, or rows of a batch tensor
    /// by a partner input.
    private mutating func gather(_ a: Expr) -> Expr? {
        if a.type.dims.first == -1, let p = partnerInputs.first, chance(50) {
            return Expr(text: "\(a.text)[\(p)]", type: a.type, fromParam: a.fromParam)
        }
        // `a` when it has a fixed first axis, else a fresh table param (an embedding).
        let table: Expr
        if let first = a.type.dims.first, first > 0 { table = a } else { table = param([2 + below(4), 1 + below(3)]) }
        guard let (text, dims) = index(rows: table.type.dims[0]) else { return nil }
        return Expr(text: "\(table.text)[\(text)]", type: TypeShape(i32: false, dims: dims + table.type.dims.dropFirst()),
                    fromParam: table.fromParam)
    }

    private mutating func shapeOp(_ a: Expr) -> Expr {
        switch below(5) {
        case 0 where a.rank == 2:
            return Expr(text: "transpose(\(a.text))", type: TypeShape(i32: false, dims: a.type.dims.reversed()),
                        fromParam: a.fromParam)
        case 1 where a.rank <= 2:
            let axis = below(a.rank + 1)
            var dims = a.type.dims
            dims.insert(1, at: axis)
            return Expr(text: "unsqueeze(\(a.text), \(axis))", type: TypeShape(i32: false, dims: dims), fromParam: a.fromParam)
        case 2 where a.rank == 3 && a.type.dims[0] == -1:
            return Expr(text: "flatten(\(a.text))", type: TypeShape(i32: false, dims: [-1, a.type.dims[1] * a.type.dims[2]]),
                        fromParam: a.fromParam)
        case 3 where a.rank == 2 && a.type.dims[0] == -1 && a.type.dims[1] % 2 == 0:
            let half = a.type.dims[1] / 2
            let shape = chance(50) ? "[N, 2, \(half)]" : "[-1, 2, \(half)]"
            return Expr(text: "reshape(\(a.text), \(shape))", type: TypeShape(i32: false, dims: [-1, 2, half]),
                        fromParam: a.fromParam)
        case 4 where !a.type.batched && a.rank >= 1:
            let n = a.type.dims.reduce(1, *)
            return Expr(text: "reshape(\(a.text), [\(n)])", type: TypeShape(i32: false, dims: [n]), fromParam: a.fromParam)
        default:
            return unary(a)
        }
    }

    private mutating func concat(_ a: Expr) -> Expr {
        guard a.rank >= 1 else { return binary(a) }
        let axes = (0..<a.rank).filter { a.type.dims[$0] != -1 }
        guard !axes.isEmpty else { return unary(a) }
        let axis = pick(axes)
        let other = chance(50) ? a : unary(a)
        var dims = a.type.dims
        dims[axis] *= 2
        let written = chance(50) ? "\(axis)" : "axis: \(axis - a.rank)"
        return Expr(text: "concat([\(a.text), \(other.text)], \(written))", type: TypeShape(i32: false, dims: dims),
                    fromParam: a.fromParam)
    }

    /// A term read from data: `float` of an i32 index, or `floor` of an input (exact in both precisions).
    private mutating func dataTerm(_ a: Expr) -> Expr {
        if let k = indexInputs.first(where: { $0.dims == [-1] })?.name, a.type.dims.first == -1 {
            // [N] as [N, 1, ...] to broadcast along a's other axes.
            var f = "float(\(k) + 1)"
            for _ in 1..<max(a.rank, 1) { f = "unsqueeze(\(f), 1)" }
            return Expr(text: "(\(a.text) * \(f))", type: a.type, fromParam: a.fromParam)
        }
        if let x = dataInputs.first, let dims = Self.broadcast(a.type.dims, [-1, width(of: x)]) {
            return Expr(text: "(\(a.text) + floor(\(x) * 2))", type: TypeShape(i32: false, dims: dims), fromParam: a.fromParam)
        }
        return unary(a)
    }

    // MARK: - The model

    @discardableResult
    private mutating func bind(_ e: Expr) -> Expr {
        let name = fresh("v")
        statements.append("\(name) = \(e.text)")
        let named = Expr(text: name, type: e.type, fromParam: e.fromParam)
        bound.append(named)
        return named
    }

    private mutating func build(name: String) -> String {
        if batched { declareInputs() }
        declareParams()
        if batched { bind(operation(on: pick(inputs))) }
        for _ in 0..<(2 + below(6)) { bind(operation(on: expression(depth: below(2)))) }
        var outputs: [String] = []
        // Some bound values as outputs (f32, or i32 labels of one), the loss's name perhaps among them.
        for _ in 0..<below(3) {
            let v = chance(80) && !bound.isEmpty ? pick(bound) : pick(pool)
            // An output holds the batch first (predict writes it row by row).
            if v.type.batched && v.type.dims.first != -1 { continue }
            if v.rank >= 1, v.type.dims.last! > 0, chance(25) {
                let label = fresh("label")
                statements.append("\(label) = argmax(\(v.text))")
                outputs.append(label)
            } else if !outputs.contains(v.text) {
                outputs.append(v.text)
            }
        }
        let loss = lossStatement(&outputs)
        if !outputs.isEmpty { statements.append("output " + outputs.joined(separator: ", ")) }
        statements.append(loss)
        var lines = ["model \(name) {"]
        lines += declarations.map { "    " + $0 }
        lines.append("    forward {")
        lines += statements.map { "        " + $0 }
        lines.append("    }")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `loss` line (declaring a target when it needs one); may add the loss's name to `outputs`.
    private mutating func lossStatement(_ outputs: inout [String]) -> String {
        // The prediction: a late bound value that depends on a param (and holds the batch in a
        // model with data), else the last bound value times a param.
        let candidates = bound.filter { $0.fromParam && (!batched || $0.type.batched) }
        let pred = candidates.isEmpty ? bind(binaryWith(bound.last!, broadcastParam(for: bound.last!)))
                                      : pick(Array(candidates.suffix(2)))
        switch below(4) {
        case 0 where pred.type.dims.first == -1 && pred.type.dims.dropFirst().allSatisfy { $0 > 0 }:
            let y = fresh("y")
            declarations.append("target \(y): \(pred.type.text)")
            return "loss \(pick(["mse", "l1"]))(\(pred.text), \(y))"
        case 1 where pred.rank == 2 && pred.type.dims[0] == -1 && pred.type.dims[1] > 1:
            let y = fresh("y")
            declarations.append("target \(y): i32[N]")
            return "loss cross_entropy(\(pred.text), \(y))"
        case 2:
            // The loss is a bound scalar that is also an output.
            let total = bind(Expr(text: "\(pick(["mean", "sum"]))(square(\(pred.text))) * 0.5",
                                  type: TypeShape(i32: false, dims: []), fromParam: true))
            outputs.append(total.text)
            return "loss \(total.text)"
        default:
            let other = pick(bound)
            return "loss mean(square(\(pred.text))) + \(pick(["sum", "mean", "max"]))(\(pred.text)) * 0.1"
                + (chance(50) ? " + mean(\(other.text)) * 0.25" : "")
        }
    }
}
