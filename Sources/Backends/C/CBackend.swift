import DLCBackendKit
import DLCLowering

/// The C backend's entry in the registry: one C file, the entry functions and the descriptor,
/// compiled as the runtime's own files are.
public struct CBackend: TrainerBackend {
    public init() {}

    public let name = "c"
    public let summary = "C with BLAS calls"
    public let emitStages = ["c"]

    /// The C compiler for model.c, and the runtime's compiler (mpicc with --mpi).
    public func tools(_ options: BuildOptions) -> [Tool] { [.cc, runtime(options).compiler] }

    public func generate(_ program: KernelProgram, _ context: GenerationContext) throws -> [GeneratedFile] {
        let source = CPrinter(program: program, sourceName: context.sourceName, dataPath: context.dataPath).print()
        return [CBackend.modelFile(source)]
    }

    /// The generated C of a model as a trainer's file.
    public static func modelFile(_ source: String) -> GeneratedFile {
        GeneratedFile(name: "model.c", contents: source, stage: "c", compile: .c)
    }
}
