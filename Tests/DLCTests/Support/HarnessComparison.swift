import DLCBackendC
import DLCBackendKit
import DLCBackendLLVM
import DLCDiagnostics
import DLCDriver
import DLCIR
import DLCInterpreter
import Foundation
import XCTest

/// A backend against the reference interpreter, kernel by kernel: the model's generated code
/// is linked with Harness/kernel_harness.c, which runs its train, sgd, eval and predict entries
/// once on given params and data; the loss, every gradient, the SGD step and every output must
/// match the interpreter's double-precision values. Shared by the C and LLVM backends' tests.
struct HarnessComparison {
    static let batches = [1, 5, 13]
    /// The backend's name, in failure messages.
    let backend: String
    /// Where the harness's input and output files go.
    let work: URL
    /// The environments each batch is run in (the CUDA emulation runs a block's threads in
    /// forward and in reverse order); one run in this process's environment by default.
    var runs: [[String: String]] = [[:]]
    /// The batch sizes compared (models without data run once, on one row).
    var batches = Self.batches

    struct Result {
        var trainLoss: Double, gradients: [[Double]], state: [[Double]], sgdLoss: Double, updatedParams: [[Double]]
        var evalLoss: Double, outputs: [[Double]], predicted: [[Double]]
    }

    static var compiler: String {
        ProcessInfo.processInfo.environment["CC"] ?? (["/usr/bin/clang", "/opt/swift/usr/bin/clang", "/usr/bin/cc"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "cc")
    }

    static var harnessSource: URL { Golden.root.appendingPathComponent("Tests/DLCTests/Harness/kernel_harness.c") }

    /// The runtime's threads (dlc_sgemm and the generated loops' dlc_parallel_for) that the C and
    /// LLVM harnesses link, with the folders their headers are in.
    static var threadSources: [String] {
        let codegen = Golden.root.appendingPathComponent("codegen").path
        return ["-I", codegen + "/core", "-I", codegen + "/comm", "-I", codegen + "/device",
                codegen + "/core/dlc_parallel.c", codegen + "/device/dlc_host_gemm.c"]
    }

    /// One run in this process's environment, and one on 2 threads with every kernel a printer
    /// splits run split (the harness's DLC_HARNESS_THREADS; the runtime's DLC_PARALLEL_MIN_WORK).
    static let oneAndTwoThreads: [[String: String]] = [[:], ["DLC_HARNESS_THREADS": "2", "DLC_PARALLEL_MIN_WORK": "0"]]

    /// Compiles the model's generated C with the harness into `work`.
    static func buildC(_ p: Pipeline, name: String, work: URL) throws -> URL {
        let source: String
        switch p.emit(EmitStage(named: "c")!, backend: CBackend()) {
        case .success(let s): source = s
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
        let c = work.appendingPathComponent("\(name).c"), exe = work.appendingPathComponent(name)
        try source.write(to: c, atomically: true, encoding: .utf8)
        let r = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
            compiler, "-O1", "-std=c11", "-Wall", "-Werror", "-Wno-unused-variable",
            "-Wno-unused-but-set-variable", "-I", Golden.root.appendingPathComponent("codegen").path,
            c.path, harnessSource.path] + threadSources + ["-lopenblas", "-lm", "-o", exe.path,
        ])
        guard r.status == 0 else { throw DataFailure(message: "\(name).c does not compile:\n\(r.stderr)") }
        return exe
    }

    /// The clang the tests compile with, asked for its target as the driver asks it.
    static let llvmRunner: Swift.Result<CachedToolRunner, Error> = Swift.Result {
        let cache = BuildCache(root: FileManager.default.temporaryDirectory
            .appendingPathComponent("dlc-llvm-backend-cache-\(getpid())").path)
        return CachedToolRunner(tools: [.cc: try Toolchain(compiler: compiler)], cache: cache,
                                environment: ProcessInfo.processInfo.environment)
    }

    static func removeLLVMRunnerCache() {
        if case .success(let r) = llvmRunner { try? FileManager.default.removeItem(atPath: r.cache.root) }
    }

    /// Compiles the model's LLVM module and its C descriptor with the harness into `work`.
    static func buildLLVM(_ p: Pipeline, name: String, work: URL) throws -> URL {
        let files: [GeneratedFile]
        switch p.generatedFiles(LLVMBackend(), for: .toolchain(try llvmRunner.get())) {
        case .success(let f): files = f
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
        let ll = work.appendingPathComponent("\(name).ll"), object = work.appendingPathComponent("\(name).o")
        let c = work.appendingPathComponent("\(name)_descriptor.c"), exe = work.appendingPathComponent(name)
        try files.first { $0.name == "model.ll" }!.contents.write(to: ll, atomically: true, encoding: .utf8)
        try files.first { $0.name == "descriptor.c" }!.contents.write(to: c, atomically: true, encoding: .utf8)
        let compiled = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
            compiler, "-O2", "-march=native", "-Werror", "-c", ll.path, "-o", object.path,
        ])
        guard compiled.status == 0 else { throw DataFailure(message: "\(name).ll does not compile:\n\(compiled.stderr)") }
        let linked = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
            compiler, "-O1", "-std=c11", "-Wall", "-Werror", "-I", Golden.root.appendingPathComponent("codegen").path,
            c.path, harnessSource.path, object.path] + threadSources + ["-lopenblas", "-lm", "-o", exe.path,
        ])
        guard linked.status == 0 else { throw DataFailure(message: "\(name): the descriptor does not build:\n\(linked.stderr)") }
        return exe
    }

    /// Runs the harness (the file formats of Harness/kernel_harness.c).
    func run(_ exe: URL, _ g: Graph, params: [String: Tensor], feeds: [String: Tensor], batch: Int,
             dropout: DropoutDraw, environment: [String: String] = [:]) throws -> Result {
        var input = Data()
        func append<T>(_ v: T) { withUnsafeBytes(of: v) { input.append(contentsOf: $0) } }
        append(Int64(batch))
        append(dropout.epochKey)
        append(Int64(dropout.firstRow))
        for p in g.params { for x in params[p.name]!.scalars { append(Float(x)) } }
        for d in g.data {
            for x in feeds[d.name]!.scalars { d.type.dtype == .f32 ? append(Float(x)) : append(Int32(x)) }
        }
        let inURL = work.appendingPathComponent("in.bin"), outURL = work.appendingPathComponent("out.bin")
        try input.write(to: inURL)
        let r = try Run.run(exe, [inURL.path, outURL.path], environment: environment)
        guard r.status == 0 else { throw DataFailure(message: "harness failed (\(r.status)): \(r.stderr)") }
        let out = try Data(contentsOf: outURL)
        var offset = 0
        /// The next `k` values of the file, as f32 or i32.
        func take(_ k: Int, _ dtype: DType = .f32) throws -> [Double] {
            guard offset + 4 * k <= out.count else {
                throw DataFailure(message: "the harness wrote \(out.count) bytes, fewer than the results take")
            }
            defer { offset += 4 * k }
            return (0..<k).map { i in
                let bytes = out.subdata(in: (offset + 4 * i)..<(offset + 4 * i + 4))
                return bytes.withUnsafeBytes { dtype == .f32 ? Double($0.load(as: Float.self)) : Double($0.load(as: Int32.self)) }
            }
        }
        let trainLoss = try take(1)[0]
        let grads = try g.params.map { try take($0.type.shape.fixedElementCount) }
        let state = try g.state.map { try take($0.type.shape.fixedElementCount, $0.type.dtype) }
        let sgdLoss = try take(1)[0]
        let updated = try g.params.map { try take($0.type.shape.fixedElementCount) }
        let evalLoss = try take(1)[0]
        let types = g.outputs.map { g.type(of: $0.value) }
        let outputs = try types.map { try take($0.shape.elementCount(batch: batch), $0.dtype) }
        let predicted = offset >= out.count ? [] : try types.map { try take($0.shape.elementCount(batch: batch), $0.dtype) }
        return Result(trainLoss: trainLoss, gradients: grads, state: state, sgdLoss: sgdLoss, updatedParams: updated,
                      evalLoss: evalLoss, outputs: outputs, predicted: predicted)
    }

    /// Float32 results against double-precision ones: relative 1e-4, with an absolute floor
    /// scaled to the tensor's largest value (gradients near zero cancel in float).
    /// `slack[i]`, when given, is added to element i's tolerance (a resolution the float result
    /// cannot beat).
    func assertClose(_ actual: [Double], _ expected: [Double], _ what: String, slack: [Double]? = nil) {
        XCTAssertEqual(actual.count, expected.count, what)
        let scale = max(1e-3, expected.map(abs).max() ?? 0)
        for (i, (a, e)) in zip(actual, expected).enumerated()
        where !(abs(a - e) <= 1e-4 * abs(e) + 2e-5 * scale + 1e-7 + (slack?[i] ?? 0)) {
            XCTFail("\(what)[\(i)]: \(backend) \(a), interpreter \(e)")
            return
        }
    }

    /// Builds the harness for one program with `build`, then compares at each batch size.
    func check(_ url: URL, build: (Pipeline, String) throws -> URL,
               feeds: (Graph, Int) throws -> [String: Tensor]) throws {
        let p = Pipeline(source: SourceFile(path: url.path, bytes: try [UInt8](Data(contentsOf: url))))
        guard case .success(let g) = p.trainingGraph() else { return XCTFail("\(url.lastPathComponent) does not compile") }
        let exe = try build(p, url.deletingPathExtension().lastPathComponent)
        let params = ParamInitializer.initialValues(g.params, seed: g.train.seed)
        // A batch of one row is refused by the trainers when batch normalization needs two.
        let sizes = (g.data.isEmpty ? [1] : batches).filter { $0 > 1 || g.nodeNeedingTwoRows() == nil }
        let cases = sizes.flatMap { batch in runs.map { (batch, $0) } }
        for (batch, environment) in cases {
            // Data as the generated code sees it: rounded to f32.
            let f = try feeds(g, batch).mapValues { Tensor(shape: $0.shape, scalars: $0.scalars.map { Double(Float($0)) }) }
            // A batch in the middle of an epoch, so that row positions start past 0.
            let dropout = DropoutDraw(seed: g.train.seed, epoch: 2, firstRow: 3 * batch)
            let c = try run(exe, g, params: params, feeds: f, batch: batch, dropout: dropout, environment: environment)
            let name = "\(url.lastPathComponent) batch \(batch)"
                + environment.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            let interpreter = Interpreter(graph: g)
            let train = try interpreter.run(feeds: f, params: params, mode: .training, dropout: dropout)
            assertClose([c.trainLoss], [train[g.loss!].scalars[0]], "\(name): train loss")
            for (i, grad) in g.gradients.enumerated() {
                assertClose(c.gradients[i], train[grad.value].scalars, "\(name): grad \(grad.name)")
                // The fused SGD step: p - 0.125·grad, compared as the change it makes. The f32
                // param moves in steps of its ulp, so a step smaller than that reads as 0 or 1 ulp.
                let p = params[grad.name]!.scalars
                let step = zip(c.updatedParams[i], p).map { $0 - $1 }
                assertClose(step, train[grad.value].scalars.map { -0.125 * $0 }, "\(name): sgd step of \(grad.name)",
                            slack: p.map { Double(Float($0).ulp) })
            }
            // The state after the training step: its update, or its initial value when it has none.
            let initial = Interpreter.initialState(g)
            for (i, st) in g.state.enumerated() {
                let expected = g.stateUpdates.first { $0.name == st.name }.map { train[$0.value].scalars } ?? initial[st.name]!.scalars
                assertClose(c.state[i], expected, "\(name): state \(st.name) after the train step")
            }
            assertClose([c.sgdLoss], [train[g.loss!].scalars[0]], "\(name): sgd loss")
            let eval = try interpreter.run(feeds: f, params: params)
            assertClose([c.evalLoss], [eval[g.loss!].scalars[0]], "\(name): eval loss")
            for (i, o) in g.outputs.enumerated() {
                assertClose(c.outputs[i], eval[o.value].scalars, "\(name): output \(o.name)")
                if !c.predicted.isEmpty { assertClose(c.predicted[i], eval[o.value].scalars, "\(name): predicted \(o.name)") }
            }
        }
    }

    /// Every model in models/ (on its own data, or synthetic data when it ships none).
    func checkModels(build: (Pipeline, String) throws -> URL) throws -> Int {
        var checked = 0
        for url in Golden.programs(in: Golden.root.appendingPathComponent("models")) {
            try check(url, build: build) { g, batch in
                if g.train.data == nil {
                    var rng = SplitMix64(seed: 3, stream: .initialization)
                    return SyntheticData.feeds(g, batch: batch, rng: &rng)
                }
                var run = GradCheckRun()
                run.rows = batch
                return try run.batchFeeds(g, modelDirectory: url.deletingLastPathComponent().path)
            }
            checked += 1
        }
        return checked
    }

    /// Every test program (on seeded synthetic data).
    func checkPrograms(build: (Pipeline, String) throws -> URL) throws -> Int {
        var checked = 0
        for url in Golden.programs(in: Golden.directory.appendingPathComponent("programs")) {
            try check(url, build: build) { g, batch in
                var rng = SplitMix64(seed: 11, stream: .initialization)
                return SyntheticData.feeds(g, batch: batch, rng: &rng)
            }
            checked += 1
        }
        return checked
    }
}
