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
            GeneratedFile(name: file.name, contents: file.text, stage: "c", compile: .c)
        }
    }
}
