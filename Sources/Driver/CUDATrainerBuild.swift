import DLCBackendCUDA
import Foundation

/// How a CUDA backend model is compiled: by nvcc for the GPU, or, for tests, by the host C++
/// compiler against the CPU emulation of CUDA and cuBLAS (codegen/dlc_cuda_emulation.h).
struct CUDACompiler {
    /// The compiler's absolute path (nvcc, or a C++ compiler when emulating).
    let path: String
    let emulate: Bool
    /// Flags of every .cu compilation.
    let flags: [String]
    /// What the link adds: cuBLAS (found beside nvcc) or OpenBLAS under the emulation.
    let libraries: [String]
    /// The runtime's CUDA sources compiled beside the model (the emulation's own file too).
    var runtimeSources: [String] { emulate ? ["dlc_cuda_context.cu", "dlc_cuda_emulation.cpp"] : ["dlc_cuda_context.cu"] }

    /// The GPU architectures built by default: machine code for the A100 (sm_80) and the
    /// H100/H200 (sm_90), and PTX for newer GPUs to compile when they load it.
    /// DLC_CUDA_ARCH (e.g. `native`, `sm_89`) replaces them.
    static let defaultArchitectures = ["-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90",
                                       "-gencode", "arch=compute_90,code=compute_90"]

    static func find(emulate: Bool, environment: [String: String]) throws -> CUDACompiler {
        let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        if emulate {
            let names = environment["CXX"].map { [$0] } ?? ["g++", "clang++", "c++"]
            guard let cxx = names.lazy.compactMap({ Toolchain.resolve($0, searchPath: searchPath) }).first else {
                throw TrainerBuildError.io("--emulate needs a C++ compiler (looked for \(names.joined(separator: ", ")) on PATH)\n"
                    + "note: install one (apt-get install g++), or set CXX to a C++ compiler's path")
            }
            return CUDACompiler(path: cxx, emulate: true,
                                flags: ["-std=c++17", "-O1", "-DDLC_CUDA_EMULATE", "-Wall", "-Wno-unused-variable"],
                                libraries: ["-lopenblas"])
        }
        let candidates = environment["DLC_NVCC"].map { [$0] } ?? ["nvcc", "/usr/local/cuda/bin/nvcc"]
        guard let nvcc = candidates.lazy.compactMap({ Toolchain.resolve($0, searchPath: searchPath) }).first else {
            throw TrainerBuildError.io("the CUDA backend needs nvcc (looked for \(candidates.joined(separator: ", ")))\n"
                + "note: put nvcc on PATH or set DLC_NVCC to its path; scripts/install-deps.sh --cuda installs one "
                + "from PyPI into a cache folder (--print-cuda-home says where)")
        }
        let arch = environment["DLC_CUDA_ARCH"].map { ["-arch=\($0)"] } ?? defaultArchitectures
        return CUDACompiler(path: nvcc, emulate: false, flags: ["-std=c++17", "-O3"] + arch,
                            libraries: try cublasLink(nvcc: nvcc))
    }

    /// cuBLAS from the toolkit beside nvcc: `-lcublas` where the plain name exists, else its
    /// versioned file (the PyPI wheels ship only libcublas.so.13), with an rpath so that the
    /// trainer finds it at run time.
    static func cublasLink(nvcc: String) throws -> [String] {
        let top = URL(fileURLWithPath: nvcc).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
        let folders = ["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"].map { top.appendingPathComponent($0).path }
        for folder in folders {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            if files.contains("libcublas.so") { return ["-L", folder, "-lcublas", "-Xlinker", "-rpath", "-Xlinker", folder] }
            if let versioned = files.filter({ $0.hasPrefix("libcublas.so.") && $0.split(separator: ".").count == 3 }).sorted().last {
                return ["-L", folder, "-l:" + versioned, "-Xlinker", "-rpath", "-Xlinker", folder]
            }
        }
        // A system toolkit whose libraries are on the linker's default path.
        return ["-lcublas"]
    }

    /// Runs the compiler. Throws only when it cannot be started.
    func run(_ arguments: [String], environment: [String: String]) throws -> ProcessOutcome {
        do {
            return try Subprocess.run(path, arguments, environment: environment)
        } catch {
            throw TrainerBuildError.io("cannot run '\(path)': \(error)")
        }
    }
}

extension TrainerBuilder {
    /// Builds the trainer of a CUDA backend model at `output`: the .cu file and the runtime's
    /// CUDA context compiled by nvcc (or, with `emulate`, by the host C++ compiler against the
    /// CPU emulation), the C descriptor and the C runtime by the C toolchain, linked together
    /// with cuBLAS (or OpenBLAS). The output appears atomically, as in `build`; generated code
    /// that does not compile is kept, and the error names it.
    @discardableResult
    public func build(cuda printer: CUDAPrinter, output: String, emulate: Bool) throws -> TrainerBuildReport {
        let say: (String) -> Void = { line in log?(line) }
        try checkWritable(output)
        let modelName = printer.program.graph.name
        let toolchain = try self.toolchain ?? Toolchain.find(environment: environment)
        let probe = ToolchainProbe(toolchain: toolchain, cache: cache, environment: environment)
        let (blas, probed) = try probe.verdict()
        let runtime = try RuntimeObjects.prepare(
            files: runtimeFiles, toolchain: toolchain, blas: blas, cache: cache, environment: environment, log: say)
        let cuda = try CUDACompiler.find(emulate: emulate, environment: environment)

        let work = try makeScratchDirectory(modelName)
        var keepWork = false
        defer { if !keepWork { try? FileManager.default.removeItem(atPath: work) } }
        func path(_ name: String) -> String { (work as NSString).appendingPathComponent(name) }
        let cu = path("model.cu"), descriptor = path("descriptor.c")
        try AtomicFiles.write(printer.print(), to: cu)
        try AtomicFiles.write(printer.descriptor(), to: descriptor)

        var objects: [String] = []
        let compileDescriptor = Toolchain.compileFlags + blas.compile + ["-I", runtime.directory, "-c", descriptor, "-o", path("descriptor.o")]
        say(shellQuoted(toolchain.command(compileDescriptor)))
        let described = try toolchain.run(compileDescriptor, environment: environment)
        guard described.succeeded else {
            keepWork = true
            throw TrainerBuildError.modelCompileFailed(model: modelName, generatedFile: descriptor, output: described.output)
        }
        objects.append(path("descriptor.o"))
        let language = cuda.emulate ? ["-x", "c++"] : []
        let sources = [cu] + cuda.runtimeSources.map { (runtime.directory as NSString).appendingPathComponent($0) }
        for (i, source) in sources.enumerated() {
            let object = path("cuda\(i).o")
            let isCUDA = source.hasSuffix(".cu")
            let arguments = cuda.flags + (isCUDA ? language : []) + blas.compile + ["-I", runtime.directory, "-c", source, "-o", object]
            say(shellQuoted([cuda.path] + arguments))
            let compiled = try cuda.run(arguments, environment: environment)
            guard compiled.succeeded else {
                keepWork = true
                if i == 0 { throw TrainerBuildError.modelCompileFailed(model: modelName, generatedFile: cu, output: compiled.output) }
                throw TrainerBuildError.runtimeCompileFailed(file: (source as NSString).lastPathComponent, output: compiled.output)
            }
            objects.append(object)
        }

        let temporary = AtomicFiles.temporaryPath(beside: output)
        let link = objects + runtime.objects + ["-o", temporary] + cuda.libraries + blas.link + Toolchain.libraries
        say(shellQuoted([cuda.path] + link))
        let linked = try cuda.run(link, environment: environment)
        if !linked.succeeded {
            unlink(temporary)
            keepWork = true
            throw TrainerBuildError.linkFailed(model: modelName, generatedFile: cu, output: linked.output)
        }
        try AtomicFiles.replace(output, with: temporary)
        return TrainerBuildReport(output: output, toolchain: toolchain, runtimeDirectory: runtime.directory,
                                  runtimeObjectsCompiled: runtime.compiled, probedToolchain: probed)
    }
}
