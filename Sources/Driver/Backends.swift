import DLCBackendC
import DLCBackendCUDA
import DLCBackendKit
import DLCBackendLLVM

/// Every backend dlc can build a trainer with, the default first. A backend is a folder under
/// Sources/Backends (one module, listed in Package.swift's `backends`) and a line here; its
/// name, `--emit` stages, files and tools come from the backend itself (`TrainerBackend`).
public enum Backends {
    public static let all: [any TrainerBackend] = [
        CBackend(),
        LLVMBackend(),
        CUDABackend(),
    ]

    /// The backend `--backend` leaves out.
    public static var `default`: any TrainerBackend { all[0] }

    /// The backend called `name`, if one is.
    public static func named(_ name: String) -> (any TrainerBackend)? {
        all.first { $0.name == name }
    }

    /// Backends the specification lists (section 10) that dlc does not have yet, by the name of
    /// their `--emit` stage: `--emit cuda` says the backend is not available rather than that
    /// the value is invalid. A planned backend that is registered is an ordinary one.
    public static let planned: [String: String] = ["cuda": "CUDA"]

    /// The backend that prints `stage`: `chosen` when given (nil if it has no such stage),
    /// else the first one that has it (`--emit llvm` needs no `--backend llvm`).
    public static func printing(_ stage: EmitStage, chosen: (any TrainerBackend)?) -> (any TrainerBackend)? {
        if let chosen { return chosen.emitStages.contains(stage.name) ? chosen : nil }
        return all.first { $0.emitStages.contains(stage.name) }
    }
}

/// A stage `dlc compile --emit STAGE` can print: one of the compiler's own (the syntax tree,
/// the graph IR at each step, the kernel program), or a file a backend generates.
public struct EmitStage: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public var description: String { name }

    /// The syntax tree.
    public static let ast = EmitStage(name: "ast")
    /// The typed graph IR, as written (surface forms visible: linear = matmul + add).
    public static let ir = EmitStage(name: "ir")
    /// The training graph: the forward graph, then the backward graph built by reverse-mode AD.
    public static let grad = EmitStage(name: "grad")
    /// The training graph after the optimisation passes (fusion, AD, CSE, DCE).
    public static let opt = EmitStage(name: "opt")
    /// The backend-neutral kernel program: memory plan and kernels per entry point.
    public static let kernels = EmitStage(name: "kernels")
    /// The training graph after the passes as Graphviz dot (`dot -Tsvg`): forward and backward
    /// as two clusters (Sources/IR/DotPrinter.swift).
    public static let dot = EmitStage(name: "dot")

    /// The stages every backend shares, in pipeline order.
    public static let compilerStages: [EmitStage] = [.ast, .ir, .grad, .opt, .kernels, .dot]

    /// The compiler's stages, then each backend's (in registry order, each once).
    public static var all: [EmitStage] {
        var stages = compilerStages
        for b in Backends.all {
            for s in b.emitStages where !stages.contains(EmitStage(name: s)) { stages.append(EmitStage(name: s)) }
        }
        return stages
    }

    /// A stage by name; nil when no stage has it. The stage of a planned backend (`cuda`) is
    /// a name too, so that the command line can say that backend is not available yet.
    public init?(named name: String) {
        guard EmitStage.all.contains(EmitStage(name: name)) || Backends.planned[name] != nil else { return nil }
        self.name = name
    }

    /// The display name of the planned backend that would print this stage, when no
    /// registered backend does (`CUDA` for `--emit cuda`).
    public var plannedBackend: String? {
        EmitStage.all.contains(self) ? nil : Backends.planned[name]
    }

    private init(name: String) { self.name = name }

    /// Whether a backend prints it (as opposed to the compiler's own stages).
    public var isGeneratedFile: Bool { !EmitStage.compilerStages.contains(self) }
}
