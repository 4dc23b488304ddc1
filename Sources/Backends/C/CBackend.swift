import DLCBackendKit
import DLCLowering

/// The C backend's entry in the registry: `model.c` (the entry functions and the descriptor)
/// and the kernel functions' files, compiled as the runtime's own files are.
public struct CBackend: TrainerBackend {
    public init() {}

    public let name = "c"
    public let summary = "C with BLAS calls"
    public let emitStages = ["c"]

    /// The C compiler for model.c, and the runtime's compiler (mpicc with --mpi).
    public func tools(_ options: BuildOptions) -> [Tool] { [.cc, runtime(options).compiler] }

    public func generate(_ program: KernelProgram, _ context: GenerationContext) throws -> [GeneratedFile] {
        CPrinter(program: program, sourceName: context.sourceName, dataPath: context.dataPath).print().map { file in
            GeneratedFile(name: file.name, contents: file.text, stage: "c", compile: .c,
                          costPerByte: file.holdsKernelFunctions ? Self.kernelsCostPerByte : Self.modelCostPerByte)
        }
    }

    /// What a byte of `model.c` (calls, BLAS calls, the descriptor: no loops) and of a kernels
    /// file (loops to vectorise, and a process of its own) cost to compile, relative to the
    /// runtime's C at -O3 (6.9 µs a byte): 1.4-2.3 µs and 10-17 µs a byte (clang 21, the five
    /// benchmark models, 2026-12-06): by bytes alone, model.c would start first and the kernels
    /// files, the costliest, last.
    static let modelCostPerByte = 0.3
    static let kernelsCostPerByte = 2.0
}
