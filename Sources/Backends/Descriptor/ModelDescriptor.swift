import DLCIR
import DLCLowering

/// The `dlc_generated_model` descriptor: params, data, outputs, default train config and the
/// entry points, as `codegen/dlc_model.h` defines them. It is C whatever the backend: the C
/// backend prints it below its entry functions; a backend whose entry functions are another
/// language (LLVM IR) prints it as a file of its own (`standaloneFile`), declaring them `extern`.
public struct ModelDescriptor: Sendable {
    public let program: KernelProgram
    /// The default data path written into the trainer (already resolved against the model's
    /// folder by the driver), or nil.
    public let dataPath: String?
    /// The model file's name, for the place of a run-time message (`digits_cnn.dl:11:30`).
    public let sourceName: String
    /// Set when another file defines the entry functions and `arena_bytes`, `uses_blas`,
    /// `train_flops`: they are declared `extern` here instead of printed.
    public var externalEntries = false
    var graph: Graph { program.graph }

    public init(program: KernelProgram, dataPath: String?, sourceName: String, externalEntries: Bool = false) {
        self.program = program
        self.dataPath = dataPath
        self.sourceName = sourceName
        self.externalEntries = externalEntries
    }

    /// Writes the descriptor (and, unless the entries are external, `arena_bytes`, `uses_blas`
    /// and `train_flops`) after whatever `w` holds: the entry functions must come first.
    public func print(_ w: inout CWriter) {
        let g = graph
        if externalEntries {
            w.line("extern float train_step(const dlc_step *s);")
            w.line("extern float sgd_step(const dlc_step *s);")
            w.line("extern float eval_with_targets(const dlc_step *s, void *const *outputs);")
            w.line("extern void predict(const dlc_step *s, void *const *outputs);")
            w.line("extern size_t arena_bytes(int64_t n);")
            w.line("extern int uses_blas(int64_t n);")
            w.line("extern double train_flops(int64_t n);")
            w.line()
        } else {
            w.line("static size_t arena_bytes(int64_t n) {")
            let sizes = program.entries.map { "(size_t)\(C.size($0.arenaBytes))" }
            w.line("    size_t bytes = 64;")
            for s in sizes { w.line("    if (\(s) > bytes) bytes = \(s);") }
            w.line("    (void)n;")
            w.line("    return bytes;")
            w.line("}")
            w.line()
        }
        w.block("static float eval_step(const dlc_step *s, void *const *outputs)") { w in
            w.line("if (!s->has_targets) { predict(s, outputs); return NAN; }")
            w.line("return eval_with_targets(s, outputs);")
        }
        w.line()
        if !externalEntries {
            usesBLAS(&w)
            w.line()
            w.block("static double train_flops(int64_t n)") { w in
                w.line("return \(flops());")
            }
            w.line()
        }
        // Listed initial values (`param w: f32[2] = [1.0, 0.5]`) as arrays the descriptor points to.
        for (i, p) in g.params.enumerated() {
            guard case .values(let v) = p.initializer else { continue }
            // Doubles, converted to float by the C compiler: rounded once, as the interpreter does.
            w.line("static const float init_values_\(i)[] = {\(v.map { "\($0)" }.joined(separator: ", "))};")
        }
        w.line("static const dlc_param_desc params[] = {")
        for (i, p) in g.params.enumerated() {
            let dims = p.type.shape.dims.map { String($0.fixedSize ?? 0) }
            w.line("    {\(C.string(p.name)), \(p.type.rank), {\(dims.isEmpty ? "0" : dims.joined(separator: ", "))}, \(p.type.shape.fixedElementCount), \(initializer(p.initializer, index: i))},")
        }
        if g.params.isEmpty { w.line("    {0}") }
        w.line("};")
        w.line("static const dlc_state_desc state[] = {")
        for st in g.state {
            let dims = st.type.shape.dims.map { String($0.fixedSize ?? 0) }
            let initial: Double
            switch st.initializer {
            case .ones: initial = 1
            case .constant(let c): initial = c
            default: initial = 0
            }
            w.line("    {\(C.string(st.name)), \(st.type.dtype == .f32 ? "DLC_F32" : "DLC_I32"), \(st.type.rank), {\(dims.isEmpty ? "0" : dims.joined(separator: ", "))}, \(st.type.shape.fixedElementCount), \(initial)},")
        }
        if g.state.isEmpty { w.line("    {0}") }
        w.line("};")
        let classes = graph.labelClasses()
        w.line("static const dlc_data_desc data[] = {")
        for d in g.data {
            let dims = d.type.shape.dims.dropFirst().map { String($0.fixedSize ?? 0) }
            let per = d.type.shape.dims.dropFirst().reduce(1) { $0 * ($1.fixedSize ?? 1) }
            w.line("    {\(C.string(d.name)), \(d.role == .target ? 1 : 0), \(d.type.dtype == .f32 ? "DLC_F32" : "DLC_I32"), \(dims.count), {\(dims.isEmpty ? "0" : dims.joined(separator: ", "))}, \(per), \(classes[d.name] ?? 0)},")
        }
        if g.data.isEmpty { w.line("    {0}") }
        w.line("};")
        w.line("static const dlc_output_desc outputs[] = {")
        for o in g.outputs {
            let t = g.type(of: o.value)
            let batched = t.shape.dims.first == .batch
            let dims = (batched ? Array(t.shape.dims.dropFirst()) : t.shape.dims).map { String($0.fixedSize ?? 0) }
            let size = (batched ? Array(t.shape.dims.dropFirst()) : t.shape.dims).reduce(1) { $0 * ($1.fixedSize ?? 1) }
            w.line("    {\(C.string(o.name)), \(t.dtype == .f32 ? "DLC_F32" : "DLC_I32"), \(batched ? 1 : 0), \(dims.count), {\(dims.isEmpty ? "0" : dims.joined(separator: ", "))}, \(size)},")
        }
        if g.outputs.isEmpty { w.line("    {0}") }
        w.line("};")
        config(&w)
        let (lossKind, target) = lossInfo()
        let metricTarget = metricTargetDescriptor(&w)
        w.line()
        w.block("const dlc_model dlc_generated_model =") { w in
            w.line(".name = \(C.string(g.name)),")
            w.line(".n_params = \(g.params.count), .params = params,")
            w.line(".n_data = \(g.data.count), .data = data,")
            w.line(".n_outputs = \(g.outputs.count), .outputs = outputs,")
            w.line(".loss = \(lossKind),")
            w.line(".metric_output = \(g.outputs.isEmpty ? -1 : 0), .metric_target = \(target.map(String.init) ?? "-1"),")
            w.line(".metric_target_output = \(metricTarget),")
            w.line(".config = config_defaults,")
            w.line(".arena_bytes = arena_bytes, .train_step = train_step, .eval_step = eval_step, .train_flops = train_flops,")
            w.line(".sgd_step = sgd_step, .uses_blas = uses_blas,")
            w.line(".n_state = \(g.state.count), .state = state,")
            let twoRows = g.nodeNeedingTwoRows().map { n in
                C.string(sourceName + (n.location.map { ":\($0.line):\($0.column)" } ?? ""))
            }
            w.line(".needs_two_rows = \(twoRows ?? "NULL"),")
            // Only when set (both default to 0 and NULL): data parallelism's needs.
            if program.sumsAcrossProcesses { w.line(".sums_batch_statistics = 1,") }
            if let v = program.entry(.train).mixesRows {
                let n = g[v]
                w.line(".mixes_rows = \(C.string(sourceName + (n.location.map { ":\($0.line):\($0.column)" } ?? "") + ": '\(n.op.mnemonic)'")),")
            }
        }
        w.line(";")
    }

    func initializer(_ i: Initializer, index: Int) -> String {
        switch i {
        case .zeros: return "{DLC_INIT_ZEROS, 0, 0, NULL}"
        case .ones: return "{DLC_INIT_ONES, 0, 0, NULL}"
        case .constant(let c): return "{DLC_INIT_CONSTANT, \(c), 0, NULL}"
        case .normal(let m, let s): return "{DLC_INIT_NORMAL, \(m), \(s), NULL}"
        case .uniform(let lo, let hi): return "{DLC_INIT_UNIFORM, \(lo), \(hi), NULL}"
        case .kaimingUniform: return "{DLC_INIT_KAIMING_UNIFORM, 0, 0, NULL}"
        case .xavierUniform: return "{DLC_INIT_XAVIER_UNIFORM, 0, 0, NULL}"
        case .values: return "{DLC_INIT_VALUES, 0, 0, init_values_\(index)}"
        }
    }

    /// The loss op the accuracy rule follows, and the data index of the metric's target
    /// (-1 when the metric reads a computed target or nothing).
    func lossInfo() -> (String, Int?) {
        let rule = graph.metricTarget()
        let name: String
        switch rule.lossKind {
        case .bce?: name = "DLC_LOSS_BCE"
        case .bceLogits?: name = "DLC_LOSS_BCE_LOGITS"
        case .hinge?: name = "DLC_LOSS_HINGE"
        default: name = "DLC_LOSS_OTHER"
        }
        if case .data(let i) = rule.source { return (name, i) }
        return (name, nil)
    }

    /// `metric_target_desc`: the loss's target computed by eval_step into outputs[n_outputs]
    /// (`MetricTarget`), described like an output; nothing when the metric reads the data.
    func metricTargetDescriptor(_ w: inout CWriter) -> String {
        guard case .computed(let v) = graph.metricTarget().source else { return "NULL" }
        let t = graph.type(of: v)
        let dims = t.shape.dims.dropFirst().map { String($0.fixedSize ?? 0) }
        let size = t.shape.dims.dropFirst().reduce(1) { $0 * ($1.fixedSize ?? 1) }
        let name = graph[v].name ?? "the loss's target"
        w.line("static const dlc_output_desc metric_target_desc = {\(C.string(name)), \(t.dtype == .f32 ? "DLC_F32" : "DLC_I32"), 1, \(dims.count), {\(dims.isEmpty ? "0" : dims.joined(separator: ", "))}, \(size)};")
        return "&metric_target_desc"
    }

    func config(_ w: inout CWriter) {
        let t = graph.train
        if !t.normalize.isEmpty {
            w.line("static const char *const normalize_names[] = {\(t.normalize.map(C.string).joined(separator: ", "))};")
        }
        if !t.columns.isEmpty {
            w.line("static const dlc_column_binding column_bindings[] = {")
            for c in t.columns { w.line("    {\(C.string(c.name)), \(C.string(c.columns))},") }
            w.line("};")
        }
        let o = t.optimizer
        let kinds: [Optimizer.Kind: String] = [.sgd: "DLC_OPT_SGD", .adam: "DLC_OPT_ADAM", .adamw: "DLC_OPT_ADAMW", .adagrad: "DLC_OPT_ADAGRAD"]
        var schedule = ".kind = DLC_SCHED_NONE"
        switch t.schedule {
        case .none: break
        case .stepLR(let every, let gamma): schedule = ".kind = DLC_SCHED_STEP_LR, .every = \(every), .gamma = \(gamma)"
        case .cosine(let epochs): schedule = ".kind = DLC_SCHED_COSINE, .t_max = \(epochs)"
        case .reduceOnPlateau(let f, let p, let th):
            schedule = ".kind = DLC_SCHED_PLATEAU, .factor = \(f), .patience = \(p), .threshold = \(th)"
        }
        let metric: String
        switch t.metric {
        case .accuracy?: metric = "DLC_METRIC_ACCURACY"
        case .mse?: metric = "DLC_METRIC_MSE"
        case .mae?: metric = "DLC_METRIC_MAE"
        case nil: metric = "DLC_METRIC_NONE"
        }
        w.block("static const dlc_train_config config_defaults =") { w in
            w.line(".optimizer = {.kind = \(kinds[o.kind]!), .lr = \(o.lr), .momentum = \(o.momentum), .weight_decay = \(o.weightDecay), .nesterov = \(o.nesterov ? 1 : 0), .beta1 = \(o.beta1), .beta2 = \(o.beta2), .eps = \(o.eps)},")
            w.line(".batch = \(t.batch ?? 0), .drop_last = \(t.dropLast ? 1 : 0), .epochs = \(t.epochs), .steps = \(t.steps), .shuffle = \(t.shuffle ? 1 : 0),")
            w.line(".schedule = {\(schedule)},")
            w.line(".accumulate = \(t.accumulate), .metric = \(metric), .seed = \(t.seed),")
            w.line(".n_normalize = \(t.normalize.count), .normalize = \(t.normalize.isEmpty ? "NULL" : "normalize_names"),")
            w.line(".data = \(dataPath.map(C.string) ?? "NULL"),")
            w.line(".n_columns = \(t.columns.count), .columns = \(t.columns.isEmpty ? "NULL" : "column_bindings"),")
            w.line(".validation = \(t.validation),")
            w.line(".early_stop_patience = \(t.earlyStop?.patience ?? 0), .early_stop_min_delta = \(t.earlyStop?.minDelta ?? 0),")
        }
        w.line(";")
    }

    /// `uses_blas(n)`: whether some GEMM of a step on n rows is above the small-product size.
    func usesBLAS(_ w: inout CWriter) {
        var conditions: Set<String> = []
        for e in program.entries {
            for case .gemm(let g) in e.kernels.map(\.body) {
                if !GemmPolicy.canInline(g) { conditions.insert("1"); continue }
                conditions.insert("(int64_t)\(C.size(g.m)) * \(C.size(g.n)) * \(C.size(g.k)) > \(GemmPolicy.smallGemm)")
            }
        }
        w.block("static int uses_blas(int64_t n)") { w in
            w.line("(void)n;")
            w.line("return " + (conditions.isEmpty ? "0" : conditions.sorted().joined(separator: " || ")) + ";")
        }
    }

    /// Floating-point operations of one train step (`KernelProgram.trainFlops`), as C.
    func flops() -> String {
        let total = program.trainFlops
        return "(double)\(total.perBatch) * (double)n + \(total.constant).0"
    }
}
