import ArgumentParser
import DLCDriver
import DLCIR
import Foundation

/// `dlc compile MODEL [-o PATH] [--backend c|llvm] [--mpi]`: the model's C (or its LLVM IR module
/// and C descriptor), built into a trainer binary at PATH (default ./NAME), with the MPI
/// communicator for `--mpi`. A model error exits 1 with its diagnostics; so does a build
/// failure, with a message saying what to install or, for a bug in dlc, where the generated
/// file was kept.
func buildTrainer(_ pipeline: Pipeline, output: String?, backend: Backend = .c,
                  communicator: Communicator = .single) throws {
    var builder = TrainerBuilder()
    builder.communicator = communicator
    if ProcessInfo.processInfo.environment["DLC_VERBOSE"] != nil {
        builder.log = { line in printError(line) }
    }
    if backend == .llvm {
        let source = try valueOrExit(pipeline.llvmTrainer())
        try reportingBuildErrors { _ = try builder.build(llvm: source, output: output ?? "./" + source.name) }
        return
    }
    let (name, source) = try valueOrExit(pipeline.trainerSource())
    try reportingBuildErrors { _ = try builder.build(modelSource: source, modelName: name, output: output ?? "./" + name) }
}
