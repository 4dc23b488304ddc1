import ArgumentParser
import DLCDriver
import DLCIR
import Foundation

/// `dlc train [--backend NAME] MODEL [trainer options]`: compile (cached by content) and run the trainer's
/// `train` command with the options as given. The trainer replaces this process, so its
/// output, its exit status and Ctrl-C (exit 130 after saving) are exactly the trainer's.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model (cached by content) and train it; options go to the trainer.",
        discussion: "Every option after the model is the trainer's: see `dlc train MODEL --help`.")

    @Option(help: ArgumentHelp(BackendChoice.help + " Give it before the model.", valueName: "backend"))
    var backend: BackendChoice?

    @Argument(help: "The model file.")
    var model: String

    @Argument(parsing: .captureForPassthrough, help: "Options for the trainer's `train` command.")
    var trainerOptions: [String] = []

    func run() throws {
        var pipeline = try loadOrExit(model)
        pipeline.useColor = isatty(2) != 0
        printWarnings(pipeline)
        let source = try valueOrExit(pipeline.trainerSource(backend?.backend ?? Backends.default))
        let trainer = try reportingBuildErrors { try TrainerBuilder().cachedBuild(source).path }
        // argv[0] is what the user typed, so that the trainer's --help and messages name it.
        let arguments = ["dlc train \(model)", "train"] + trainerOptions
        let cArguments = arguments.map { strdup($0) } + [nil]
        execv(trainer, cArguments)
        printError("error: cannot run the trainer '\(trainer)': \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
}
