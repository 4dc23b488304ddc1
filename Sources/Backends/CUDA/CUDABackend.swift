import DLCBackendKit
import DLCLowering
import Foundation

/// The CUDA backend's entry in the registry: the model's kernels and entry functions as one
/// .cu file (`CUDAPrinter`), built by nvcc with cuBLAS, the C descriptor, and the runtime's CUDA
/// device (codegen/device/dlc_device_cuda.cu) with the entries' context (codegen/device/dlc_cuda_context.cu).
///
/// With `BuildOptions.emulate` the same files are built by the host C++ compiler against the
/// CPU emulation of CUDA and cuBLAS (codegen/dlc_cuda_emulation.h): a trainer that runs without
/// a GPU, very slowly, for tests.
public struct CUDABackend: TrainerBackend {
    public init() {}

    public let name = "cuda"
    public let summary = "CUDA C for NVIDIA GPUs, kernels and cuBLAS calls built by nvcc; --emit c prints its C descriptor, "
        + "--emulate builds it for the CPU instead (tests)"
    public let emitStages = ["cuda", "c"]
    public var canEmulate: Bool { true }

    /// nvcc: $DLC_NVCC, else on PATH, else CUDA's usual place.
    public static let nvcc = Tool(
        role: "CUDA compiler (nvcc)", variable: "DLC_NVCC", searchedNames: ["nvcc"], searchedPaths: ["/usr/local/cuda/bin/nvcc"],
        installNote: "scripts/install-deps.sh --cuda installs nvcc from PyPI wheels into a cache folder "
            + "(--print-cuda-home says where); set DLC_NVCC to its bin/nvcc")
    /// The C++ compiler of the emulation.
    public static let cxx = Tool(
        role: "C++ compiler", variable: "CXX", searchedNames: ["g++", "clang++", "c++"],
        searchedPaths: ["/usr/bin/g++", "/usr/bin/clang++"], installNote: "apt-get install g++")

    /// The GPU architectures built by default: machine code for the A100 (sm_80) and the
    /// H100/H200 (sm_90), and PTX that newer GPUs compile when they load it. DLC_CUDA_ARCH
    /// (`native`, `sm_89`, ...) replaces them.
    public static let architectures = ["-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90",
                                       "-gencode", "arch=compute_90,code=compute_90"]

    func deviceCompiler(_ options: BuildOptions) -> Tool { options.emulate ? Self.cxx : Self.nvcc }

    /// The device compiler, the C compiler for the descriptor, and the runtime's compiler (mpicc
    /// with --mpi).
    public func tools(_ options: BuildOptions) -> [Tool] { [deviceCompiler(options), .cc, runtime(options).compiler] }

    /// The runtime's C files as for the C backend, told that the device is CUDA (the host
    /// device's file then compiles to nothing); under the emulation, told that too.
    public func runtime(_ options: BuildOptions) -> RuntimeBuild {
        var build = RuntimeBuild.standard(options)
        build.defines += ["-DDLC_DEVICE_CUDA"] + (options.emulate ? ["-DDLC_CUDA_EMULATE"] : [])
        return build
    }

    public func generate(_ program: KernelProgram, _ context: GenerationContext) throws -> [GeneratedFile] {
        let printer = CUDAPrinter(program: program, sourceName: context.sourceName, dataPath: context.dataPath)
        let emulate = context.options.emulate
        let arch = ProcessInfo.processInfo.environment["DLC_CUDA_ARCH"].map { ["-arch=\($0)"] } ?? Self.architectures
        let step = CompileStep(tool: deviceCompiler(context.options),
                               flags: emulate ? ["-x", "c++", "-std=c++17", "-O1"] : ["-std=c++17", "-O3"] + arch,
                               includesRuntime: true)
        var link: [String] = []
        var deviceStep = step, deviceLink: [String] = []
        if case .toolchain(let runner) = context.machine {
            link = emulate ? ["-lstdc++"] : try Self.linkFlags(runner)
            // The processes of an MPI job sum gradients GPU to GPU with NCCL when it is found.
            if context.options.communicator == .mpi && !emulate {
                if let nccl = try Self.nccl(runner) {
                    deviceStep.flags += ["-DDLC_CUDA_NCCL", "-I" + nccl.include]
                    deviceLink = nccl.link
                } else {
                    FileHandle.standardError.write(Data(("note: no NCCL found (\(Self.ncclPlaces(runner).joined(separator: ", "))): "
                        + "the CUDA trainer's processes sum gradients through host memory with MPI; DLC_NCCL_HOME names NCCL's folder\n").utf8))
                }
            }
        }
        // The runtime's CUDA files, compiled with the model's .cu by the same compiler.
        let device = ["dlc_cuda_context.cu", "dlc_device_cuda.cu"] + (emulate ? ["dlc_cuda_emulation.cpp"] : [])
        return [
            GeneratedFile(name: "model.cu", contents: printer.print(), stage: "cuda", compile: step, linkFlags: link),
            GeneratedFile(name: "descriptor.c", contents: printer.descriptor(), stage: "c", compile: .c),
            GeneratedFile(name: "device.cu", contents: device.map { "#include \"\($0)\"\n" }.joined(), stage: nil, compile: deviceStep,
                          linkFlags: deviceLink),
        ]
    }

    /// Where NCCL may be, in order: $DLC_NCCL_HOME, beside the toolkit of nvcc (the PyPI
    /// wheels: nvidia/cu13/bin/nvcc and nvidia/nccl), in the toolkit, and the system's.
    static func ncclPlaces(_ runner: any ToolRunner) -> [String] {
        var places = ProcessInfo.processInfo.environment["DLC_NCCL_HOME"].map { [$0] } ?? []
        if let version = try? runner.run(nvcc, ["--version"]) {
            let top = URL(fileURLWithPath: version.program).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            places += [top.deletingLastPathComponent().appendingPathComponent("nccl").path, top.path]
        }
        return places + ["/usr"]
    }

    /// NCCL's header folder and link flags (`-lnccl` where the plain name exists, else its
    /// versioned file, as the wheel ships it, with a run path), or nil when it is not found.
    public static func nccl(_ runner: any ToolRunner) throws -> (include: String, link: [String])? {
        let manager = FileManager.default
        for home in ncclPlaces(runner) {
            let include = home + "/include"
            guard manager.fileExists(atPath: include + "/nccl.h") else { continue }
            for folder in ["lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"].map({ home + "/" + $0 }) {
                guard let files = try? manager.contentsOfDirectory(atPath: folder) else { continue }
                let library = files.contains("libnccl.so") ? "-lnccl"
                    : files.filter { $0.hasPrefix("libnccl.so.") }.sorted { $0.count < $1.count }.first.map { "-l:" + $0 }
                guard let library else { continue }
                return (include, ["-L" + folder, "-Wl,--disable-new-dtags,-rpath," + folder, library])
            }
        }
        return nil
    }

    /// The CUDA runtime (static) and cuBLAS from the toolkit beside nvcc, linked by the C
    /// compiler: `-lcublas` where the plain name exists, else its versioned file (the PyPI
    /// wheels ship only libcublas.so.13), with a run path so that the trainer finds it.
    static func linkFlags(_ runner: any ToolRunner) throws -> [String] {
        let version = try runner.run(nvcc, ["--version"])
        let top = URL(fileURLWithPath: version.program).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
        let system = ["-lcudart_static", "-lcublas", "-ldl", "-lrt", "-lpthread", "-lstdc++"]
        for folder in ["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"].map({ top.appendingPathComponent($0).path }) {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder), files.contains("libcudart_static.a") else { continue }
            let cublas = files.contains("libcublas.so") ? "-lcublas"
                : files.filter { $0.hasPrefix("libcublas.so.") && $0.split(separator: ".").count == 3 }.sorted().last.map { "-l:" + $0 }
            guard let cublas else { continue }
            return ["-L" + folder, "-Wl,--disable-new-dtags,-rpath," + folder, "-lcudart_static", cublas, "-ldl", "-lrt", "-lpthread",
                    "-lstdc++"]
        }
        // A toolkit whose libraries are on the linker's default path.
        return system
    }
}
