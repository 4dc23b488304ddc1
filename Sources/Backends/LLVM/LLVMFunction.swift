import DLCLowering

/// What the functions of one module share: string constants, and the helpers, intrinsics and
/// library functions they call (each printed once, only when used).
final class IRModule {
    private(set) var strings: [(name: String, text: String, count: Int)] = []
    private var stringNames: [String: String] = [:]
    private(set) var helpers: Set<Helper> = []
    private(set) var declarations: [String: String] = [:]
    /// Scalar helpers of codegen/dlc_kernels.h called through the descriptor's external copies.
    private(set) var externalHelpers: [ExternalHelper] = []

    /// A private constant holding `s` as the C backend's string literal would: its global's name.
    func string(_ s: String) -> String {
        if let name = stringNames[s] { return name }
        let name = "@.str.\(strings.count)"
        let (text, count) = LL.cString(s)
        strings.append((name, text, count))
        stringNames[s] = name
        return name
    }

    /// Marks a helper of codegen/dlc_kernels.h (or dlc_rng.h) as used; its IR name.
    func use(_ h: Helper) -> String {
        helpers.insert(h)
        for d in h.needs { declare(d) }
        return "@" + h.rawValue
    }

    /// Declares the external copy of a scalar helper (defined by the descriptor); its IR name.
    func useExternal(_ h: ExternalHelper) -> String {
        if !externalHelpers.contains(h) { externalHelpers.append(h) }
        return declare(Declaration(name: h.copyName, line: "declare \(h.type) @\(h.copyName)(\(Array(repeating: h.type.text, count: h.arity).joined(separator: ", "))) #1"))
    }

    /// Declares an external function or intrinsic; its IR name.
    @discardableResult
    func declare(_ d: Declaration) -> String {
        declarations[d.name] = d.line
        return "@" + d.name
    }
}

/// A scalar helper of codegen/dlc_kernels.h (`dlc_NAME`) that the module calls through an
/// external copy (`dlc_llvm_NAME`), which the C descriptor defines from the header's one
/// definition.
struct ExternalHelper: Hashable {
    let name: String
    /// Its arguments' and result's type (float or i32).
    let type: IRType
    let arity: Int

    var copyName: String { "dlc_llvm_" + name.dropFirst("dlc_".count) }

    /// The copy's definition, in C.
    var definition: String {
        let c = type == .i32 ? "int32_t" : "float"
        let parameters = (0..<arity).map { "\(c) a\($0)" }.joined(separator: ", ")
        let arguments = (0..<arity).map { "a\($0)" }.joined(separator: ", ")
        return "\(c) \(copyName)(\(parameters)) { return \(name)(\(arguments)); }"
    }
}

/// Functions the module calls but does not define.
struct Declaration {
    let name: String
    let line: String

    /// `llvm.NAME.f32(float)` and friends: a math intrinsic of one or two arguments.
    static func intrinsic(_ base: String, _ t: IRType, arity: Int = 1) -> Declaration {
        let suffix = t == .float ? "f32" : t == .double ? "f64" : t.text
        let name = "llvm.\(base).\(suffix)"
        return Declaration(name: name, line: "declare \(t) @\(name)(\(Array(repeating: t.text, count: arity).joined(separator: ", ")))")
    }

    static func fmuladd(_ t: IRType, width: Int) -> Declaration {
        let v = IRType.vector(width, t)
        let name = "llvm.fmuladd.v\(width)f32"
        return Declaration(name: name, line: "declare \(v) @\(name)(\(v), \(v), \(v))")
    }

    static let memcpy = Declaration(name: "llvm.memcpy.p0.p0.i64", line: "declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1 immarg)")
    static let memset = Declaration(name: "llvm.memset.p0.i64", line: "declare void @llvm.memset.p0.i64(ptr, i8, i64, i1 immarg)")
    static let toI32 = Declaration(name: "llvm.fptosi.sat.i32.f32", line: "declare i32 @llvm.fptosi.sat.i32.f32(float)")
    static let tanhf = Declaration(name: "tanhf", line: "declare float @tanhf(float) #1")
    static let log1p = Declaration(name: "log1p", line: "declare double @log1p(double) #1")
    /// codegen/dlc_model.h: `void dlc_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb,
    /// beta, C, ldc)`, cblas_sgemm's arguments (OpenBLAS's 32-bit `blasint`, C enums as i32) run
    /// on the trainer's threads.
    static let sgemm = Declaration(
        name: "dlc_sgemm",
        line: "declare void @dlc_sgemm(i32, i32, i32, i32, i32, i32, float, ptr, i32, ptr, i32, float, ptr, i32)")
    /// codegen/dlc_model.h: `void dlc_parallel_for(int64_t n, int parts, dlc_chunk_fn fn, void *ctx)`.
    static let parallelFor = Declaration(name: "dlc_parallel_for", line: "declare void @dlc_parallel_for(i64, i32, ptr, ptr)")
    /// codegen/dlc_model.h: `int dlc_parallel_parts(int64_t work)`.
    static let parallelParts = Declaration(name: "dlc_parallel_parts", line: "declare i32 @dlc_parallel_parts(i64)")
    /// codegen/dlc_model.h: `_Noreturn void dlc_index_error(const char *where, long idx, long size)`.
    static let indexError = Declaration(name: "dlc_index_error", line: "declare void @dlc_index_error(ptr, i64, i64) #2")
    /// codegen/dlc_model.h: `void dlc_sum_across_processes(float *buf, int64_t n)`.
    static let sumAcrossProcesses = Declaration(name: "dlc_sum_across_processes",
                                                line: "declare void @dlc_sum_across_processes(ptr, i64)")
    static let write = Declaration(name: "write", line: "declare i64 @write(i32, ptr, i64)")
    static let exit = Declaration(name: "exit", line: "declare void @exit(i32) #2")
}

/// Builds one function's text: an entry block (the step's fields, the sizes that depend on
/// n, one pointer per buffer), then the kernels' blocks. Every local name is unique: buffers
/// keep theirs (they hold no '.'), everything else is `PREFIX.WHAT`, numbered on a clash.
final class IRFunction {
    let module: IRModule
    private var names: Set<String> = []
    private var prologue: [String] = []
    private var sizeLines: [String] = []
    private(set) var declLines: [String] = []
    private(set) var body: [String] = []
    /// The block instructions are appended to (for phi nodes' incoming edges).
    private(set) var current = "entry"
    /// What new local names start with: the buffer the current kernel writes.
    var prefix = "t"
    private var sizes: [Affine: Value] = [:]
    private var fields: [Int: Value] = [:]
    /// Per-function scratch arrays of the small GEMMs, sized to the largest use.
    var tileFloats = 0, rowFloats = 0

    /// The entry block's label ("entry" unless a buffer has that name).
    let entryLabel: String

    init(module: IRModule, reserved: [String]) {
        self.module = module
        names.formUnion(reserved)
        var label = "entry", k = 2
        while names.contains(label) { label = "entry.\(k)"; k += 1 }
        names.insert(label)
        entryLabel = label
        current = label
    }

    /// A local name not used yet: `base`, else `base.2`, `base.3`, ...
    func fresh(_ base: String) -> String {
        var name = base, k = 2
        while names.contains(name) { name = "\(base).\(k)"; k += 1 }
        names.insert(name)
        return name
    }

    func reserve(_ name: String) { names.insert(name) }

    /// `PREFIX.what`, fresh.
    func local(_ what: String) -> String { fresh(prefix + "." + what) }

    // MARK: - Instructions

    func emit(_ line: String) { body.append("  " + line) }
    func comment(_ text: String) { body.append("  " + LL.comment(text)) }
    func blank() { body.append("") }

    /// `%PREFIX.what = rhs`, of type `type`.
    @discardableResult
    func value(_ what: String, _ type: IRType, _ rhs: String) -> Value {
        let n = local(what)
        emit("%\(n) = \(rhs)")
        return Value("%" + n, type)
    }

    /// Ends the current block with a branch to a new one, named `label` (fresh), and continues there.
    func newBlock(_ label: String) {
        let l = fresh(label)
        emit("br label %\(l)")
        start(l)
    }

    /// Starts block `label` (already fresh): the previous one must have ended.
    func start(_ label: String) {
        body.append("\(label):")
        current = label
    }

    // MARK: - The entry block

    /// A field of `dlc_step` (see the `%dlc_step` type), loaded once in the entry block.
    func field(_ f: StepField) -> Value {
        if let v = fields[f.rawValue] { return v }
        let name = f.name
        reserve(name + ".at")
        if f.name != "n" && f.name != "arena" { reserve(name) }
        prologue.append("  %\(name).at = getelementptr inbounds %dlc_step, ptr %s, i32 0, i32 \(f.rawValue)")
        prologue.append("  %\(name) = load \(f.type), ptr %\(name).at, align \(f.type == .i64 || f.type == .ptr ? 8 : 4)"
                        + "  " + LL.comment("s->\(f.cName)"))
        let v = Value("%" + name, f.type)
        fields[f.rawValue] = v
        return v
    }

    /// An affine size as an i64: a constant, or computed from n once in the entry block.
    func size(_ a: Affine) -> Value {
        if a.isConstant { return .i64(a.constant) }
        if let v = sizes[a] { return v }
        var v = field(.n)
        if a.constant != 0 {
            v = size(Affine(perBatch: a.perBatch))
        } else if a.perBatch != 1 {
            let name = fresh(LL.sizeName(a))
            sizeLines.append("  %\(name) = mul nsw i64 %n, \(a.perBatch)")
            v = Value("%" + name, .i64)
        }
        if a.constant != 0 {
            let name = fresh(LL.sizeName(a))
            sizeLines.append("  %\(name) = add nsw i64 \(v.ref), \(a.constant)")
            v = Value("%" + name, .i64)
        }
        sizes[a] = v
        return v
    }

    /// An affine size over the global batch (`Operand.globalCount`): from `s->global_n`, at
    /// its use (only a few scalars read it).
    func globalSize(_ a: Affine) -> Value {
        if a.isConstant { return .i64(a.constant) }
        var v = field(.globalN)
        if a.perBatch != 1 { v = value("global.rows", .i64, "mul nsw i64 \(v.ref), \(a.perBatch)") }
        if a.constant != 0 { v = value("global.count", .i64, "add nsw i64 \(v.ref), \(a.constant)") }
        return v
    }

    /// A line of the entry block after the sizes: a buffer's pointer.
    func declare(_ line: String) { declLines.append("  " + line) }

    /// The function's text, from `define` to `}`.
    func text(signature: String) -> String {
        var lines = [signature + " {", "\(entryLabel):"]
        lines += prologue + sizeLines
        if tileFloats > 0 { lines.append("  %gemm.tile = alloca [\(tileFloats) x float], align 64  ; a transposed B, k x n") }
        if rowFloats > 0 { lines.append("  %gemm.row = alloca [\(rowFloats) x float], align 64  ; a row of C before its epilogue") }
        lines += declLines + body
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Arithmetic on i64 indices

    func mul(_ a: Value, _ b: Value, _ what: String = "off") -> Value {
        if a.constant == 0 || b.constant == 0 { return .i64(0) }
        if a.constant == 1 { return b }
        if b.constant == 1 { return a }
        if let x = a.constant, let y = b.constant { return .i64(x * y) }
        return value(what, .i64, "mul nsw i64 \(a.ref), \(b.ref)")
    }

    func add(_ a: Value, _ b: Value, _ what: String = "idx") -> Value {
        if a.constant == 0 { return b }
        if b.constant == 0 { return a }
        if let x = a.constant, let y = b.constant { return .i64(x + y) }
        return value(what, .i64, "add nsw i64 \(a.ref), \(b.ref)")
    }

    /// `i0 * s0 + i1 * s1 + offset` over the loop counters (zero strides dropped).
    func index(_ counters: [Value], _ strides: [Affine], offset: Affine = .zero) -> Value {
        var sum: Value = .i64(0)
        for (i, s) in strides.enumerated() where s != .zero {
            sum = add(sum, mul(counters[i], size(s)))
        }
        return add(sum, size(offset))
    }

    /// The address of element `index` of `base` (elements of `type`).
    func element(_ base: Value, _ index: Value, _ type: IRType) -> Value {
        if index.constant == 0 { return base }
        return value("at", .ptr, "getelementptr inbounds \(type), ptr \(base.ref), i64 \(index.ref)")
    }

    func load(_ type: IRType, _ address: Value, _ what: String = "x") -> Value {
        value(what, type, "load \(type), ptr \(address.ref), align 4")
    }

    func store(_ v: Value, _ address: Value) {
        emit("store \(v.typed), ptr \(address.ref), align 4")
    }

    // MARK: - Control flow

    /// A counted loop `for (i = from; i < to; i++)` as blocks: a header with phi nodes for the
    /// counter and for `carried` values (name and initial value), the body `body` writes
    /// (given the counter and the carried values, returning their next values), and a latch.
    /// Returns the carried values after the loop.
    @discardableResult
    func loop(_ counterName: String, from first: Value = .i64(0), to end: Value, carrying carried: [(String, Value)] = [],
              _ body: (Value, [Value]) -> [Value]) -> [Value] {
        let i = local(counterName)
        let head = fresh(i + ".head"), loopBody = fresh(i + ".body"), latch = fresh(i + ".latch"), exit = fresh(i + ".end")
        let next = fresh(i + ".next"), more = fresh(i + ".more")
        let phiNames = carried.map { fresh(prefix + "." + $0.0) }
        let preheader = current
        emit("br label %\(head)")
        start(head)
        let phiAt = self.body.count
        emit("%\(more) = icmp slt i64 %\(i), \(end.ref)")
        emit("br i1 %\(more), label %\(loopBody), label %\(exit)")
        start(loopBody)
        let phis = zip(phiNames, carried).map { Value("%" + $0.0, $0.1.1.type) }
        let updated = body(Value("%" + i, .i64), phis)
        precondition(updated.count == carried.count, "a loop must give every carried value")
        emit("br label %\(latch)")
        start(latch)
        emit("%\(next) = add nuw nsw i64 %\(i), 1")
        emit("br label %\(head)")
        var phiLines = ["  %\(i) = phi i64 [ \(first.ref), %\(preheader) ], [ %\(next), %\(latch) ]"]
        for (k, p) in phis.enumerated() {
            phiLines.append("  \(p.ref) = phi \(p.type) [ \(carried[k].1.ref), %\(preheader) ], [ \(updated[k].ref), %\(latch) ]")
        }
        self.body.insert(contentsOf: phiLines, at: phiAt)
        self.start(exit)
        return phis
    }

    /// Nested loops over `extents`, counters i0, i1, ...; `body` runs innermost. `starts` gives
    /// the first value of the counters it has a key for (0 for the others).
    func loops(_ extents: [Value], starts: [Int: Value] = [:], _ body: ([Value]) -> Void) {
        func nest(_ depth: Int, _ counters: [Value]) {
            guard depth < extents.count else { return body(counters) }
            loop("i\(depth)", from: starts[depth] ?? .i64(0), to: extents[depth]) { i, _ in
                nest(depth + 1, counters + [i])
                return []
            }
        }
        nest(0, [])
    }

    /// `if (condition) then() else otherwise()`, joining after.
    func ifElse(_ condition: Value, _ what: String, then: () -> Void, otherwise: () -> Void) {
        let yes = fresh(prefix + "." + what), no = fresh(prefix + ".not_" + what), join = fresh(prefix + "." + what + ".done")
        emit("br i1 \(condition.ref), label %\(yes), label %\(no)")
        start(yes)
        then()
        emit("br label %\(join)")
        start(no)
        otherwise()
        emit("br label %\(join)")
        start(join)
    }

    /// `if (r < 0 || r >= size) dlc_index_error(where, (long)r, size)` for an i32 index,
    /// one unsigned comparison on the sign-extended value.
    func boundsCheck(_ r: Value, size: Value, where place: String) {
        let wide = value("r.long", .i64, "sext i32 \(r.ref) to i64")
        let bad = value("out_of_range", .i1, "icmp uge i64 \(wide.ref), \(size.ref)")
        let fail = fresh(prefix + ".index_error"), ok = fresh(prefix + ".in_range")
        emit("br i1 \(bad.ref), label %\(fail), label %\(ok)")
        start(fail)
        let f = module.declare(.indexError)
        emit("call void \(f)(ptr \(module.string(place)), i64 \(wide.ref), i64 \(size.ref))")
        emit("unreachable")
        start(ok)
    }

    // MARK: - Memory

    func memset0(_ p: Value, bytes: Value) {
        let f = module.declare(.memset)
        emit("call void \(f)(ptr align 4 \(p.ref), i8 0, i64 \(bytes.ref), i1 false)")
    }

    func memcpy(_ to: Value, _ from: Value, bytes: Value) {
        let f = module.declare(.memcpy)
        emit("call void \(f)(ptr align 4 \(to.ref), ptr align 4 \(from.ref), i64 \(bytes.ref), i1 false)")
    }
}

/// The fields of codegen/dlc_model.h's `dlc_step`, by index in `%dlc_step`.
enum StepField: Int {
    case n = 0, data, hasTargets, params, grads, arena, dropout, training, lr, state, globalN

    var name: String {
        switch self {
        case .n: return "n"
        case .arena: return "arena"
        case .hasTargets: return "s.has_targets"
        default: return "s.\(cName)"
        }
    }

    var cName: String {
        switch self {
        case .n: return "n"
        case .data: return "data"
        case .hasTargets: return "has_targets"
        case .params: return "params"
        case .grads: return "grads"
        case .arena: return "arena"
        case .dropout: return "dropout"
        case .training: return "training"
        case .lr: return "lr"
        case .state: return "state"
        case .globalN: return "global_n"
        }
    }

    var type: IRType {
        switch self {
        case .n, .globalN: return .i64
        case .hasTargets, .training: return .i32
        case .lr: return .float
        default: return .ptr
        }
    }
}
