import DLCBackendKit
import DLCLowering

/// The LLVM backend's entry in the registry: the entry functions as an LLVM IR module, printed
/// for the target of the clang that builds the trainer, and the C descriptor linked with it.
public struct LLVMBackend: TrainerBackend {
    public init() {}

    public let name = "llvm"
    public let summary = "the entry functions as LLVM IR, compiled by clang and linked with a C descriptor; with it, --emit c prints that descriptor"
    public let emitStages = ["llvm", "c"]

    /// Flags of the module's compilation: clang optimizes it itself at -O3 (the IR is printed
    /// unoptimized, as the C backend's source is) for the host CPU, as C models are.
    public static let moduleFlags = ["-O3", "-march=native"]

    /// clang for the module and the descriptor, and the runtime's compiler (mpicc with --mpi).
    public func tools(_ options: BuildOptions) -> [Tool] { [.cc, runtime(options).compiler] }

    public func generate(_ program: KernelProgram, _ context: GenerationContext) throws -> [GeneratedFile] {
        let target: LLVMTarget?
        switch context.machine {
        case .host: target = .host
        case .unspecified: target = nil
        case .toolchain(let runner): target = try LLVMBackend.target(of: runner)
        }
        let printer = LLVMPrinter(program: program, sourceName: context.sourceName, target: target, dataPath: context.dataPath)
        let module = printer.printModule()
        return [
            GeneratedFile(name: "model.ll", contents: module.text, stage: "llvm",
                          compile: CompileStep(tool: .cc, flags: LLVMBackend.moduleFlags, includesRuntime: false)),
            GeneratedFile(name: "descriptor.c", contents: printer.descriptor(calling: module.externalHelpers), stage: "c",
                          compile: .c),
        ]
    }

    /// The target triple and data layout the C compiler compiles for, from the module it emits
    /// for an empty C file (`-S -emit-llvm`). A compiler that cannot emit LLVM IR (gcc) cannot
    /// build an LLVM backend model either: the error says so.
    public static func target(of runner: any ToolRunner) throws -> LLVMTarget {
        let outcome = try runner.run(.cc, ["-S", "-emit-llvm", "-march=native", "-x", "c", "/dev/null", "-o", "-"])
        if outcome.succeeded, let target = LLVMTarget.parse(module: outcome.text) { return target }
        // gcc reads -emit-llvm as `-e mit-llvm` and prints assembly: only a failure's output says why.
        let output = outcome.succeeded ? "" : outcome.text.split(separator: "\n").prefix(20).joined(separator: "\n")
        throw BackendError(
            "error: the LLVM backend needs clang, and '\(outcome.program)' cannot emit LLVM IR"
                + (output.isEmpty ? "" : ":\n" + output)
                + "\nnote: set CC to clang, or build with --backend c")
    }
}
