import DLCDiagnostics
@testable import DLCIR

/// The batch dim in the type helpers below: `f32(N, 4)` is `f32[N,4]`.
let N = -1

func dims(_ ds: [Int]) -> Shape { Shape(ds.map { $0 == N ? Dim.batch : Dim.fixed($0) }) }
func f32(_ ds: Int...) -> TensorType { TensorType(.f32, dims(ds)) }
func i32(_ ds: Int...) -> TensorType { TensorType(.i32, dims(ds)) }

/// Graphs built with `Graph.add` / `Graph.emit` for the printer, parser and verifier tests.
enum Fixtures {
    /// A well-typed graph that holds every `Op` case, every attribute (each matmul flag
    /// combination, keepdim both ways), every initializer, every loss, names with dots, names
    /// and no names, locations and no locations, outputs, a loss and gradients.
    static func everyOp() -> Graph {
        var g = Graph(name: "every_op")
        g.data = [
            DataDecl(name: "x", role: .input, type: f32(N, 4)),
            DataDecl(name: "y", role: .target, type: i32(N)),
            DataDecl(name: "t", role: .target, type: f32(N, 3)),
            DataDecl(name: "img", role: .input, type: f32(N, 2, 5, 5)),
        ]
        g.params = [
            ParamDecl(name: "fc1.weight", type: f32(3, 4), initializer: .kaimingUniform),
            ParamDecl(name: "fc1.bias", type: f32(3), initializer: .uniform(low: -0.5, high: 0.5)),
            ParamDecl(name: "emb", type: f32(5, 3), initializer: .normal(mean: 0, std: 1)),
            ParamDecl(name: "s", type: f32(), initializer: .constant(1.5)),
            ParamDecl(name: "z", type: f32(3), initializer: .zeros),
            ParamDecl(name: "o", type: f32(3), initializer: .ones),
            ParamDecl(name: "xv", type: f32(4, 3), initializer: .xavierUniform),
            ParamDecl(name: "conv.weight", type: f32(3, 2, 3, 3), initializer: .kaimingUniform),
        ]
        g.state = [
            StateDecl(name: "bn.running_var", type: f32(3), initializer: .ones),
            StateDecl(name: "bn.num_batches_tracked", type: i32(), initializer: .zeros),
        ]
        let x = g.emit(.input("x"), [], declared: f32(N, 4), name: "x")
        g[x].location = SourceLocation(line: 3, column: 9)
        let y = g.emit(.input("y"), [], declared: i32(N), name: "y")
        let t = g.emit(.input("t"), [], declared: f32(N, 3), name: "t")
        let w = g.emit(.param("fc1.weight"), [], declared: f32(3, 4), name: "fc1.weight")
        let b = g.emit(.param("fc1.bias"), [], declared: f32(3))
        let emb = g.emit(.param("emb"), [], declared: f32(5, 3), name: "emb")
        let s = g.emit(.param("s"), [], declared: f32())
        let xv = g.emit(.param("xv"), [], declared: f32(4, 3))
        let two = g.emit(.constant(2), [], declared: f32())
        let three = g.emit(.constant(3), [], declared: i32())
        g.emit(.constant(-1e-08), [], declared: f32())
        g.emit(.constant(-.infinity), [], declared: f32())

        for u in UnaryOp.allCases { g.emit(.unary(u), [u == .toFloat ? y : x]) }
        g.emit(.unary(.neg), [y])
        g.emit(.pow(0.5), [x])
        var eq = x
        for op in BinaryOp.allCases {
            let v = op == .floorDiv || op == .mod ? g.emit(.binary(op), [y, three]) : g.emit(.binary(op), [x, two])
            if op == .eq { eq = v }
        }
        g.emit(.select, [eq, x, s])
        g.emit(.reduce(.sum, axes: [1], keepdim: false), [x])
        g.emit(.reduce(.mean, axes: [0, 1], keepdim: true), [x])
        g.emit(.reduce(.max, axes: [0], keepdim: false), [x])
        g.emit(.count(axes: [0, 1]), [x])
        g.emit(.reshape, [x], declared: f32(N, 2, 2))
        g.emit(.transpose, [w])
        let bb = g.emit(.broadcast, [b], declared: f32(N, 3))
        let db = g.emit(.sumTo, [bb], declared: f32(3), name: "d.fc1.bias")
        g.emit(.concat(axis: 1), [x, x, x])
        g.emit(.slice(axis: 1, start: 1, length: 2), [x])
        g.emit(.matmul(transposeA: false, transposeB: false), [x, xv])
        let h = g.emit(.matmul(transposeA: false, transposeB: true), [x, w], name: "h")
        g[h].location = SourceLocation(line: 7, column: 23)
        g.emit(.matmul(transposeA: true, transposeB: false), [w, w])
        g.emit(.matmul(transposeA: true, transposeB: true), [w, xv])
        let rows = g.emit(.gather, [emb, y])
        let demb = g.emit(.scatterAdd, [y, rows], declared: f32(5, 3))
        let probs = g.emit(.softmax(axis: 1), [h])
        let logp = g.emit(.logSoftmax(axis: 1), [h], name: "logp")
        g.emit(.dropoutMask(p: 0.25, site: 0), [h])
        g.emit(.argmax(axis: 1), [h])
        g.emit(.maxMask(axis: 0), [h])
        g.emit(.oneHot(classes: 3), [y])
        var loss = x
        for l in LossKind.allCases {
            let v = l == .nll ? g.emit(.loss(l), [logp, y]) : g.emit(.loss(l), [h, t])
            if l == .nll { loss = v }
        }
        g[loss].location = SourceLocation(line: 12, column: 5)
        // The fused ops of the optimisation passes.
        let lin = g.emit(.linear(relu: true), [x, w, b])
        g.emit(.linear(relu: false), [x, w])
        g.emit(.reluGrad, [lin, lin])
        let sce = g.emit(.softmaxCrossEntropy, [h, y])
        g.emit(.softmaxCrossEntropyGrad, [h, y, sce])
        // Convolutions, pooling and state.
        let img = g.emit(.input("img"), [], declared: f32(N, 2, 5, 5))
        let cw = g.emit(.param("conv.weight"), [], declared: f32(3, 2, 3, 3))
        let conv = g.emit(.conv2d(stride: 2, padding: 1, relu: true), [img, cw, b])
        g.emit(.conv2d(stride: 1, padding: 0, relu: false), [img, cw])
        g.emit(.conv2dInputGrad(stride: 2, padding: 1), [conv, cw], declared: f32(N, 2, 5, 5))
        g.emit(.conv2dWeightGrad(stride: 2, padding: 1), [img, conv], declared: f32(3, 2, 3, 3))
        let window = Window2d(kernel: 3, stride: 2, padding: 1)
        let pooled = g.emit(.maxPool2d(window), [img])
        g.emit(.maxPool2dGrad(window), [img, pooled])
        let avg = g.emit(.avgPool2d(window), [img])
        g.emit(.avgPool2dGrad(window), [avg], declared: f32(N, 2, 5, 5))
        let runningVar = g.emit(.state("bn.running_var"), [], declared: f32(3), name: "bn.running_var")
        let tracked = g.emit(.state("bn.num_batches_tracked"), [], declared: i32())
        let varUsed = g.emit(.ifTraining, [b, runningVar])
        let newTracked = g.emit(.binary(.add), [tracked, three])
        let dw = g.emit(.binary(.mul), [w, two], name: "d.fc1.weight")
        g.outputs = [NamedValue("logits", h), NamedValue("probs", probs)]
        g.loss = loss
        g.gradients = [NamedValue("fc1.weight", dw), NamedValue("fc1.bias", db), NamedValue("emb", demb)]
        g.stateUpdates = [NamedValue("bn.running_var", varUsed), NamedValue("bn.num_batches_tracked", newTracked)]
        g.train = trainConfig(.adamw, .reduceOnPlateau(factor: 0.5, patience: 3, threshold: 0.001), .accuracy, batch: 32)
        return g
    }

    /// Every field away from its default.
    static func trainConfig(_ kind: Optimizer.Kind, _ schedule: Schedule, _ metric: Metric?,
                            batch: Int?) -> TrainConfig {
        var t = TrainConfig()
        var o = Optimizer.defaults(kind)
        o.lr = 0.125
        switch kind {
        case .sgd:
            o.momentum = 0.9
            o.weightDecay = 5e-4
            o.nesterov = true
        case .adam, .adamw:
            o.beta1 = 0.8
            o.beta2 = 0.99
            o.eps = 1e-07
            o.weightDecay = 0.05
        case .adagrad:
            o.eps = 1e-09
            o.weightDecay = 0.001
        }
        t.optimizer = o
        t.batch = batch
        t.dropLast = true
        t.epochs = 7
        t.steps = 3
        t.shuffle = false
        t.schedule = schedule
        t.accumulate = 4
        t.metric = metric
        t.seed = 42
        t.normalize = ["x", "t"]
        t.data = "data/train set \"v2\".csv"
        t.columns = [ColumnBinding(name: "x", columns: "0-3"), ColumnBinding(name: "y", columns: "label"),
                     ColumnBinding(name: "t", columns: "4,5,6")]
        t.validation = 0.2
        return t
    }

    static let schedules: [Schedule] = [
        .none, .stepLR(every: 10, gamma: 0.5), .cosine(epochs: 50),
        .reduceOnPlateau(factor: 0.1, patience: 10, threshold: 0.0001),
    ]

    /// A small model: y = relu(x @ w^T + b), an MSE loss, gradients.
    static func small() -> Graph {
        var g = Graph(name: "tiny")
        g.data = [DataDecl(name: "x", role: .input, type: f32(N, 2)), DataDecl(name: "t", role: .target, type: f32(N, 1))]
        g.params = [ParamDecl(name: "fc.weight", type: f32(1, 2), initializer: .uniform(low: -0.7071067811865475, high: 0.7071067811865475)),
                    ParamDecl(name: "fc.bias", type: f32(1), initializer: .zeros)]
        let x = g.emit(.input("x"), [], declared: f32(N, 2), name: "x")
        let t = g.emit(.input("t"), [], declared: f32(N, 1), name: "t")
        let w = g.emit(.param("fc.weight"), [], declared: f32(1, 2), name: "fc.weight")
        let b = g.emit(.param("fc.bias"), [], declared: f32(1), name: "fc.bias")
        let mm = g.emit(.matmul(transposeA: false, transposeB: true), [x, w])
        g[mm].location = SourceLocation(line: 6, column: 13)
        let z = g.emit(.binary(.add), [mm, b])
        g[z].location = SourceLocation(line: 6, column: 13)
        let y = g.emit(.unary(.relu), [z], name: "y")
        g[y].location = SourceLocation(line: 6, column: 8)
        let l = g.emit(.loss(.mse), [y, t])
        g[l].location = SourceLocation(line: 7, column: 5)
        let half = g.emit(.constant(0.5), [], declared: f32())
        let dw = g.emit(.binary(.mul), [w, half])
        g.outputs = [NamedValue("y", y)]
        g.loss = l
        g.gradients = [NamedValue("fc.weight", dw), NamedValue("fc.bias", b)]
        return g
    }

    /// Names that need quoting, and one that looks like a number.
    static func oddNames() -> Graph {
        var g = Graph(name: "odd graph")
        g.data = [DataDecl(name: "x-1", role: .input, type: f32(N, 2))]
        g.params = [ParamDecl(name: "w\"q", type: f32(2), initializer: .ones)]
        let x = g.emit(.input("x-1"), [], declared: f32(N, 2), name: "3")
        let w = g.emit(.param("w\"q"), [], declared: f32(2), name: "a b\\c")
        let a = g.emit(.binary(.add), [x, w], name: "new\nline\ttab\u{1}")
        let m = g.emit(.binary(.mul), [a, a], name: "ünïcödé")
        g.emit(.reduce(.sum, axes: [0, 1], keepdim: false), [m], name: "")
        g.outputs = [NamedValue("out put", m), NamedValue("7", a)]
        g.train.normalize = ["x-1"]
        g.train.columns = [ColumnBinding(name: "x-1", columns: "a\"b")]
        return g
    }
}
