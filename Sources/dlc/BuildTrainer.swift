import ArgumentParser
import DLCBackendKit
import DLCDriver
import DLCIR
import Foundation

/// `dlc compile MODEL [-o PATH] [--backend NAME] [--mpi]`: the files the backend generates for
/// the model, built into a trainer binary at PATH (default ./NAME) with the runtime `options`
/// ask for (the MPI communicator for --mpi). A model error exits 1 with its diagnostics; so does
/// a build failure, with a message saying what to install or, for a bug in dlc, where the
/// generated file was kept.
func buildTrainer(_ pipeline: Pipeline, output: String?, backend: any TrainerBackend,
                  options: BuildOptions = BuildOptions()) throws {
    var builder = TrainerBuilder()
    if ProcessInfo.processInfo.environment["DLC_VERBOSE"] != nil {
        builder.log = { line in printError(line) }
    }
    let source = try valueOrExit(pipeline.trainerSource(backend, options: options))
    try reportingBuildErrors { _ = try builder.build(source, output: output ?? "./" + source.name) }
}
