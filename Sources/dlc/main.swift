import ArgumentParser
import DLCBackendKit
import DLCDriver
import DLCIR
import DLCPasses
import Foundation

/// dlc's command line (spec section 8). Exit status: 0 success, 1 compile error, 2 usage error.
struct DLC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlc",
        abstract: "A static compute-graph compiler with ahead-of-time differentiation.",
        version: dlcVersion,
        subcommands: [Compile.self, Train.self, GradCheck.self, Plot.self])
}

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a .dl model; with --emit, print a stage instead of building.")

    @Argument(help: "The model file.")
    var model: String

    @Option(help: ArgumentHelp("Print this stage to stdout and build nothing.", valueName: "stage"))
    var emit: EmitStage?

    @Option(name: .short, help: ArgumentHelp("The trainer binary to write (default: ./NAME, the model's name).", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("With --emit opt: print the graph after this pass (fuse, autodiff, cse, dce).",
                               valueName: "pass"))
    var stopAfter: String?

    @Option(help: ArgumentHelp(BackendChoice.help, valueName: "backend"))
    var backend: BackendChoice?

    @Flag(help: "Build a data-parallel trainer with MPI (its runtime built by mpicc, or $MPICC): mpirun -np K PATH train ...")
    var mpi = false

    @Flag(help: ArgumentHelp(
        "Build for a CPU emulation of the backend's device instead (--backend cuda: the host C++ compiler, an emulation "
            + "of CUDA and cuBLAS in codegen/). Very slow: for testing the generated code without a GPU."))
    var emulate = false

    /// The checks of options that depend on each other (after the model is loaded, so a
    /// missing model is reported first).
    func checkOptions() throws {
        if let stage = emit, let planned = stage.plannedBackend {
            printError("error: the \(planned) backend is not available yet; --emit takes "
                       + EmitStage.all.map(\.name).joined(separator: ", "))
            throw ExitCode(2)
        }
        if let pass = stopAfter {
            guard emit == .opt, DLCPasses.Optimizer.passNames.contains(pass) else {
                throw ValidationError("--stop-after takes one of \(DLCPasses.Optimizer.passNames.joined(separator: ", ")), with --emit opt")
            }
        }
        if emulate && !(backend?.backend.canEmulate ?? false) {
            let able = Backends.all.filter(\.canEmulate).map { "--backend " + $0.name }
            throw ValidationError("--emulate needs a backend with a device to emulate: " + able.joined(separator: " or "))
        }
        if let stage = emit, stage.isGeneratedFile, let chosen = backend?.backend,
           Backends.printing(stage, chosen: chosen) == nil {
            let printers = Backends.all.filter { $0.emitStages.contains(stage.name) }.map { "--backend " + $0.name }
            throw ValidationError("the \(chosen.name) backend has no --emit \(stage); use " + printers.joined(separator: " or "))
        }
    }

    func run() throws {
        var pipeline = try loadOrExit(model)
        pipeline.useColor = isatty(2) != 0
        printWarnings(pipeline)
        try checkOptions()
        guard let stage = emit else {
            try buildTrainer(pipeline, output: output, backend: backend?.backend ?? Backends.default,
                             options: BuildOptions(communicator: mpi ? .mpi : .single, emulate: emulate))
            return
        }
        let result = stopAfter.map { pass in pipeline.optimizedGraph(stopAfter: pass).map { printIR($0) } }
            ?? pipeline.emit(stage, backend: backend?.backend)
        try printOrExit(result)
    }

    func printOrExit(_ result: Result<String, CompileFailure>) throws {
        let text = try valueOrExit(result)
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}

struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check the AD gradients (double precision) against central finite differences.")

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "CSV data for a model with inputs (default: the model's `data` setting).")
    var data: String?

    @Option(help: "The largest relative error that passes.")
    var tolerance: Double = 1e-4

    func run() throws {
        var pipeline = try loadOrExit(model)
        pipeline.useColor = isatty(2) != 0
        printWarnings(pipeline)
        let graph = try valueOrExit(pipeline.trainingGraph())
        var check = GradCheckRun(dataPath: data)
        check.tolerance = tolerance
        do {
            let report = try check.run(graph, modelDirectory: (model as NSString).deletingLastPathComponent)
            print(report.text, terminator: "")
            if !report.passed { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

func loadOrExit(_ path: String) throws -> Pipeline {
    do {
        return try Pipeline.load(path: path)
    } catch let f as FileFailure {
        printError(f.message)
        throw ExitCode(1)
    }
}

// ArgumentParser exits with 64 on usage errors; the spec says 2.
do {
    var command = try DLC.parseAsRoot()
    try command.run()
} catch let e as ExitCode {
    exit(e.rawValue)
} catch {
    let code = DLC.exitCode(for: error)
    if code == .success {
        DLC.exit(withError: error)
    }
    printError(DLC.fullMessage(for: error))
    exit(code == .validationFailure ? 2 : code.rawValue == 64 ? 2 : code.rawValue)
}
