import DLCBackendKit
import DLCRuntimeSources
import Foundation

/// What one trainer build did, for logs and tests.
public struct TrainerBuildReport: Sendable {
    /// The trainer binary's path, as given.
    public let output: String
    /// The compiler that built the runtime and linked the trainer.
    public let toolchain: Toolchain
    /// The cache directory holding the runtime's sources and objects.
    public let runtimeDirectory: String
    /// Runtime parts (objects) this build compiled: 0 when every one came from the cache.
    public let runtimeObjectsCompiled: Int
    /// Whether this build compile-tested the toolchain (false when a cached verdict held).
    public let probedToolchain: Bool
}

/// Turns a backend's generated files into a trainer binary: each file compiled by the tool and
/// flags its backend gives, the objects linked with the C runtime against OpenBLAS.
///
/// The runtime is compiled once per runtime version, build variant and toolchain, into the
/// build cache; a build after that compiles only the generated files and links. The output
/// appears atomically: it is linked under a temporary name beside it and renamed, so a failed
/// build leaves whatever was at the output path (a previous trainer, or nothing) untouched.
public struct TrainerBuilder: Sendable {
    /// The environment the tools are looked up in ($CC, $PATH) and run with.
    public var environment: [String: String]
    /// Where runtime objects and toolchain verdicts are kept.
    public var cache: BuildCache
    /// The C compiler to use; nil finds one (see `Toolchain.find`) at each build.
    public var toolchain: Toolchain?
    /// The runtime's files; the embedded copy of codegen/ unless a test swaps it.
    public var runtimeFiles: [RuntimeFile] = EmbeddedRuntime.files
    /// Receives a line per step (the tools found, the commands run), for `--verbose`.
    public var log: (@Sendable (String) -> Void)?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                cache: BuildCache? = nil, toolchain: Toolchain? = nil) {
        self.environment = environment
        self.cache = cache ?? BuildCache(root: BuildCache.defaultRoot(environment: environment))
        self.toolchain = toolchain
    }

    /// Builds the trainer of `source` at `output`: the backend's tools are found, its files
    /// generated for them, compiled and linked.
    ///
    /// - Throws: `TrainerBuildError`. When a generated file does not compile or link (a bug in
    ///   dlc), the error names a kept copy of it; otherwise nothing is left behind.
    @discardableResult
    public func build(_ source: TrainerSource, output: String) throws -> TrainerBuildReport {
        try checkWritable(output)
        var tools = try findTools(source.backend.tools(source.options) + [source.backend.runtime(source.options).compiler])
        let files = try generate(source, tools: tools)
        // A file built by a tool its backend did not state is not a crash: the tool is looked for now.
        tools.merge(try findTools(files.map(\.compile.tool).filter { tools[$0] == nil })) { found, _ in found }
        return try build(files: files, runtime: source.backend.runtime(source.options), tools: tools,
                         modelName: source.name, output: output)
    }

    /// Builds a trainer from one C model file (C that includes "dlc_model.h" and defines
    /// `dlc_generated_model`), compiled as the C backend compiles its own.
    @discardableResult
    public func build(modelSource: String, modelName: String, output: String) throws -> TrainerBuildReport {
        try checkWritable(output)
        let runtime = RuntimeBuild.standard(BuildOptions())
        let tools = try findTools([runtime.compiler])
        let file = GeneratedFile(name: "model.c", contents: modelSource, stage: nil, compile: .c)
        return try build(files: [file], runtime: runtime, tools: tools, modelName: modelName, output: output)
    }

    /// Every tool in `needed`, found once each (the C compiler is `toolchain` when set).
    func findTools(_ needed: [Tool]) throws -> [Tool: Toolchain] {
        var found: [Tool: Toolchain] = [:]
        for tool in needed where found[tool] == nil {
            let toolchain = tool == .cc && self.toolchain != nil ? self.toolchain! : try Toolchain.find(tool, environment: environment)
            log?("\(tool.role): \(shellQuoted(toolchain.command([])))")
            found[tool] = toolchain
        }
        return found
    }

    /// The backend's files, generated for the machine `tools` compile for.
    func generate(_ source: TrainerSource, tools: [Tool: Toolchain]) throws -> [GeneratedFile] {
        let runner = CachedToolRunner(tools: tools, cache: cache, environment: environment, log: log)
        do {
            return try source.files(for: .toolchain(runner))
        } catch let error as BackendError {
            throw TrainerBuildError.backendUnsupported(error.message)
        }
    }

    /// Compiles `files` (each with its step's tool and flags) and links them with the runtime.
    /// The runtime's missing parts and the files compile side by side (`CompileQueue`), and so
    /// does the toolchain's probe when no verdict is cached. A failure names what failed: the
    /// probe's diagnosis first (a missing library fails the compiles too), then a runtime
    /// part's file (a broken runtime header breaks the generated files too, and is the cause),
    /// then the first generated file.
    func build(files: [GeneratedFile], runtime build: RuntimeBuild, tools: [Tool: Toolchain], modelName: String,
               output: String) throws -> TrainerBuildReport {
        let say: @Sendable (String) -> Void = { [log] line in log?(line) }
        let compiler = tools[build.compiler]!
        let probe = ToolchainProbe(toolchain: compiler, cache: cache, environment: environment)
        let work = try makeScratchDirectory(modelName)
        var keepWork = false
        defer { if !keepWork { try? FileManager.default.removeItem(atPath: work) } }
        let compile = { (blas: BlasFlags, beside: CompileQueue.Job?) throws -> CompiledFiles in
            try self.compile(files, runtime: build, tools: tools, blas: blas, work: work, beside: beside, log: say)
        }

        let blas: BlasFlags, probed: Bool
        var compiled: CompiledFiles
        if let cached = try probe.cachedVerdict() {
            (blas, probed) = (cached, false)
            compiled = try compile(blas, nil)
        } else {
            // The probe (about 0.1 s: a compile, a link and a run) goes beside the compiles, which
            // take the first candidate's flags (none: OpenBLAS on the default paths, as on Debian
            // and Ubuntu) and are done again under the probe's when they differ.
            let guess = ToolchainProbe.candidates()[0]
            let verdict = VerdictBox()
            compiled = try compile(guess, CompileQueue.Job(cost: .infinity) { verdict.set(Result { try probe.freshVerdict() }) })
            (blas, probed) = (try verdict.get(), true)
            if blas != guess { compiled = try compile(blas, nil) }
        }
        if let failure = compiled.runtimeFailures.first { throw failure as? TrainerBuildError ?? .io("\(failure)") }
        if let failure = compiled.generatedFailures.first {
            guard let generated = failure as? GeneratedFileFailure else { throw failure } // a tool that cannot start
            // Blamed on the generated file only once the toolchain passes a fresh probe: a package
            // removed since the cached verdict must read as "install X".
            if !probed { try probe.recheck() }
            keepWork = true
            throw TrainerBuildError.modelCompileFailed(model: modelName, generatedFile: generated.sourcePath, output: generated.output)
        }
        let modelFile = (work as NSString).appendingPathComponent(files[0].name)

        let temporary = AtomicFiles.temporaryPath(beside: output)
        let link = compiled.objects + compiled.runtime.objects + ["-o", temporary] + files.flatMap(\.linkFlags) + blas.link
            + build.libraries
        say(shellQuoted(compiler.command(link)))
        let linked = try compiler.run(link, environment: environment)
        if !linked.succeeded {
            unlink(temporary)
            try probe.recheck()
            keepWork = true
            throw TrainerBuildError.linkFailed(model: modelName, generatedFile: modelFile, output: linked.output)
        }
        try AtomicFiles.replace(output, with: temporary)
        return TrainerBuildReport(output: output, toolchain: compiler, runtimeDirectory: compiled.runtime.directory,
                                  runtimeObjectsCompiled: compiled.runtime.missing.count, probedToolchain: probed)
    }

    /// Compiles the runtime's missing parts and `files` (written into `work`) side by side,
    /// with `beside` (the probe) first, under the BLAS flags `blas`. Throws when a file cannot
    /// be written; the compiles' failures are in the result.
    private func compile(_ files: [GeneratedFile], runtime build: RuntimeBuild, tools: [Tool: Toolchain], blas: BlasFlags,
                         work: String, beside: CompileQueue.Job?, log say: @escaping @Sendable (String) -> Void) throws -> CompiledFiles {
        let runtime = try RuntimeObjects.prepare(
            files: runtimeFiles, toolchain: tools[build.compiler]!, blas: blas, defines: build.defines, cache: cache)
        if !runtime.missing.isEmpty {
            say("compiling the C runtime (\(runtime.missing.count) parts) into \(runtime.directory)")
        }
        var jobs: [CompileQueue.Job] = []
        let environment = self.environment, runtimeFiles = self.runtimeFiles
        for part in runtime.missing {
            jobs.append(CompileQueue.Job(cost: RuntimeObjects.cost(part, files: runtimeFiles)) {
                try runtime.compile(part, runtime: runtimeFiles, environment: environment, log: say)
            })
        }
        var objects: [String] = []
        for file in files {
            let sourcePath = (work as NSString).appendingPathComponent(file.name)
            let object = (work as NSString).appendingPathComponent((file.name as NSString).deletingPathExtension + ".o")
            try AtomicFiles.write(file.contents, to: sourcePath)
            let step = file.compile
            let flags = step.flags + (step.includesRuntime ? build.defines + blas.compile + ["-I", runtime.directory] : [])
            let compile = flags + ["-c", sourcePath, "-o", object]
            let tool = tools[step.tool]!
            jobs.append(CompileQueue.Job(cost: Double(file.contents.utf8.count) * file.costPerByte) {
                say(shellQuoted(tool.command(compile)))
                let compiled = try tool.run(compile, environment: environment)
                if !compiled.succeeded { throw GeneratedFileFailure(sourcePath: sourcePath, output: compiled.output) }
            })
            objects.append(object)
        }
        let failures = CompileQueue.run((beside.map { [$0] } ?? []) + jobs, width: RuntimeParts.cores).dropFirst(beside == nil ? 0 : 1)
        return CompiledFiles(runtime: runtime, objects: objects,
                             runtimeFailures: failures.prefix(runtime.missing.count).compactMap { $0 },
                             generatedFailures: failures.dropFirst(runtime.missing.count).compactMap { $0 })
    }

    /// Fails early, before any compiling, on an output path that cannot become a file.
    func checkWritable(_ output: String) throws {
        let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainerBuildError.io("cannot write '\(output)': the directory '\(directory)' does not exist")
        }
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
            throw TrainerBuildError.io("cannot write '\(output)': it is a directory")
        }
    }
}

/// A generated file that did not compile: where it is and what the compiler said.
private struct GeneratedFileFailure: Error {
    let sourcePath: String
    let output: String
}

/// What one round of compiles made: the runtime's objects, the generated files' objects, and
/// the failures of each kind, in part and file order.
private struct CompiledFiles {
    let runtime: RuntimeObjects
    let objects: [String]
    let runtimeFailures: [Error]
    let generatedFailures: [Error]
}

/// The probe's verdict, set by the queue's worker that ran it.
private final class VerdictBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<BlasFlags, Error> = .failure(TrainerBuildError.io("the toolchain probe did not run"))

    func set(_ result: Result<BlasFlags, Error>) {
        lock.lock()
        self.result = result
        lock.unlock()
    }

    func get() throws -> BlasFlags {
        lock.lock()
        defer { lock.unlock() }
        return try result.get()
    }
}
