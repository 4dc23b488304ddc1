import DLCRuntimeSources
import Foundation

/// What one trainer build did, for logs and tests.
public struct TrainerBuildReport: Sendable {
    /// The trainer binary's path, as given.
    public let output: String
    /// The compiler that built it.
    public let toolchain: Toolchain
    /// The cache directory holding the runtime's sources and objects.
    public let runtimeDirectory: String
    /// Runtime objects this build compiled: 0 when every one came from the cache.
    public let runtimeObjectsCompiled: Int
    /// Whether this build compile-tested the toolchain (false when a cached verdict held).
    public let probedToolchain: Bool
}

/// Turns a generated model file (C that includes "dlc_model.h" and defines
/// `dlc_generated_model`) into a trainer binary: the model file compiled, linked with the C
/// runtime against OpenBLAS.
///
/// The runtime is compiled once per runtime version and toolchain, into the build cache; a build
/// after that compiles only the model file and links. The output appears atomically: it is
/// linked under a temporary name beside it and renamed, so a failed build leaves whatever was
/// at the output path (a previous trainer, or nothing) untouched.
public struct TrainerBuilder: Sendable {
    /// The environment the compiler is looked up in ($CC, $PATH) and runs with.
    public var environment: [String: String]
    /// Where runtime objects and toolchain verdicts are kept.
    public var cache: BuildCache
    /// The compiler to use; nil finds one (see `Toolchain.find`) at each build.
    public var toolchain: Toolchain?
    /// The runtime's files; the embedded copy of codegen/ unless a test swaps it.
    public var runtimeFiles: [RuntimeFile] = EmbeddedRuntime.files
    /// How the trainer's processes talk: one process, or MPI (`dlc compile --mpi`).
    public var communicator: Communicator = .single
    /// Receives a line per step (the commands run), for `--verbose`.
    public var log: (@Sendable (String) -> Void)?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                cache: BuildCache? = nil, toolchain: Toolchain? = nil) {
        self.environment = environment
        self.cache = cache ?? BuildCache(root: BuildCache.defaultRoot(environment: environment))
        self.toolchain = toolchain
    }

    /// Builds the trainer for `modelSource` at `output`.
    ///
    /// - Parameters:
    ///   - modelSource: the generated C of one model.
    ///   - modelName: the model's name, for messages and the kept file's name.
    ///   - output: the binary to write (replaced if it exists).
    /// - Throws: `TrainerBuildError`. When the generated C does not compile or link (a bug in
    ///   dlc), the error names a kept copy of it; otherwise nothing is left behind.
    @discardableResult
    public func build(modelSource: String, modelName: String, output: String) throws -> TrainerBuildReport {
        try build(files: [GeneratedFile(name: "model.c", contents: modelSource)], modelName: modelName, output: output)
    }

    /// Builds a trainer from generated files (C, or LLVM IR beside a C descriptor): each is
    /// compiled, and the objects are linked with the runtime. A failure names the file.
    func build(files: [GeneratedFile], modelName: String, output: String) throws -> TrainerBuildReport {
        let say: (String) -> Void = { line in log?(line) }
        try checkWritable(output)
        let toolchain = try self.toolchain ?? Toolchain.find(environment: environment)
        let probe = ToolchainProbe(toolchain: toolchain, cache: cache, environment: environment)
        let (blasFlags, probed) = try probe.verdict()
        // The communicator's flags join OpenBLAS's on every C compile and on the link.
        let comm = try communicator.flags(environment: environment)
        let blas = BlasFlags(compile: blasFlags.compile + comm.compile, link: blasFlags.link + comm.link)
        let runtime = try RuntimeObjects.prepare(
            files: communicator.runtimeFiles(runtimeFiles), toolchain: toolchain, blas: blas, cache: cache,
            environment: environment, log: say)

        let work = try makeScratchDirectory(modelName)
        var keepWork = false
        defer { if !keepWork { try? FileManager.default.removeItem(atPath: work) } }
        var objects: [String] = []
        for file in files {
            let sourcePath = (work as NSString).appendingPathComponent(file.name)
            let object = (work as NSString).appendingPathComponent((file.name as NSString).deletingPathExtension + ".o")
            try AtomicFiles.write(file.contents, to: sourcePath)

            // A failure from here on is blamed on the generated file only once the toolchain passes
            // a fresh probe: a package removed since the cached verdict must read as "install X".
            let flags = file.isLLVMIR ? Toolchain.irCompileFlags : Toolchain.compileFlags + blas.compile + ["-I", runtime.directory]
            let compile = flags + ["-c", sourcePath, "-o", object]
            say(shellQuoted(toolchain.command(compile)))
            let compiled = try toolchain.run(compile, environment: environment)
            if !compiled.succeeded {
                try probe.recheck()
                keepWork = true
                throw TrainerBuildError.modelCompileFailed(model: modelName, generatedFile: sourcePath, output: compiled.output)
            }
            objects.append(object)
        }
        let modelFile = (work as NSString).appendingPathComponent(files[0].name)

        let temporary = AtomicFiles.temporaryPath(beside: output)
        let link = objects + runtime.objects + ["-o", temporary] + blas.link + Toolchain.libraries
        say(shellQuoted(toolchain.command(link)))
        let linked = try toolchain.run(link, environment: environment)
        if !linked.succeeded {
            unlink(temporary)
            try probe.recheck()
            keepWork = true
            throw TrainerBuildError.linkFailed(model: modelName, generatedFile: modelFile, output: linked.output)
        }
        try AtomicFiles.replace(output, with: temporary)
        return TrainerBuildReport(output: output, toolchain: toolchain, runtimeDirectory: runtime.directory,
                                  runtimeObjectsCompiled: runtime.compiled, probedToolchain: probed)
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

/// One generated file of a trainer: its name in the build's scratch directory, and its text.
struct GeneratedFile {
    var name: String
    var contents: String
    /// LLVM IR (a `.ll` file): compiled by clang with `Toolchain.irCompileFlags`, not as C.
    var isLLVMIR: Bool { name.hasSuffix(".ll") }
}
