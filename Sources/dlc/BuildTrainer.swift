import ArgumentParser
import DLCDriver
import DLCIR
import Foundation

/// `dlc compile MODEL [-o PATH] [--backend c|llvm]`: the model's C (or its LLVM IR module and
/// C descriptor), built into a trainer binary at PATH (default ./NAME). A model error exits 1
/// with its diagnostics; so does a build failure, with a message saying what to install or, for
/// a bug in dlc, where the generated file was kept.
func buildTrainer(_ pipeline: Pipeline, output: String?, backend: Backend = .c, emulate: Bool = false) throws {
    var builder = TrainerBuilder()
    if ProcessInfo.processInfo.environment["DLC_VERBOSE"] != nil {
        builder.log = { line in printError(line) }
    }
    if backend == .llvm {
        let source = try valueOrExit(pipeline.llvmTrainer())
        try reportingBuildErrors { _ = try builder.build(llvm: source, output: output ?? "./" + source.name) }
        return
    }
    if backend == .cuda {
        let printer = try valueOrExit(pipeline.cudaPrinter())
        try reportingBuildErrors {
            _ = try builder.build(cuda: printer, output: output ?? "./" + printer.program.graph.name, emulate: emulate)
        }
        return
    }
    let (name, source) = try valueOrExit(pipeline.trainerSource())
    try reportingBuildErrors { _ = try builder.build(modelSource: source, modelName: name, output: output ?? "./" + name) }
}
