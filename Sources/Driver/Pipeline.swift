import DLCAutodiff
import DLCBackendKit
import DLCDiagnostics
import DLCIR
import DLCLowering
import DLCPasses
import DLCSema
import DLCSyntax
import Foundation

/// A compile error: the diagnostics, already rendered in clang's style.
public struct CompileFailure: Error, Sendable {
    public let diagnostics: DiagnosticBag
    public let rendered: String
}

/// Runs the compiler's stages on one source file. Each stage function returns its product or
/// the diagnostics of the first stage that failed.
public struct Pipeline: Sendable {
    public let source: SourceFile
    public var useColor = false

    public init(source: SourceFile, useColor: Bool = false) {
        self.source = source
        self.useColor = useColor
    }

    /// Reads a model file; a missing or unreadable file is reported like a compile error.
    public static func load(path: String) throws -> Pipeline {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw FileFailure(message: "error: '\(path)' \(reason)")
        }
        return Pipeline(source: SourceFile(path: path, bytes: [UInt8](data)))
    }

    func failure(_ bag: DiagnosticBag) -> CompileFailure {
        CompileFailure(diagnostics: bag, rendered: DiagnosticRenderer(source: source, useColor: useColor).render(bag))
    }

    public func parse() -> Result<ModelAST, CompileFailure> {
        let (model, bag) = Parser.parse(source)
        if let model, !bag.hasErrors { return .success(model) }
        return .failure(failure(bag))
    }

    /// Parsing and semantic analysis. Syntax errors and semantic errors are reported together
    /// when the parser could recover, so one run shows every error.
    public func typedGraph() -> Result<Graph, CompileFailure> {
        let (model, parseBag) = Parser.parse(source)
        guard let model else { return .failure(failure(parseBag)) }
        if parseBag.hasErrors {
            // Semantic errors on lines the parser already complained about would be cascades.
            let (_, semaBag) = Analyzer.analyze(model)
            var bag = parseBag
            let bad = Set(parseBag.diagnostics.map(\.location.line))
            for d in semaBag.diagnostics where !bad.contains(d.location.line) { bag.append(d) }
            return .failure(failure(bag))
        }
        let (graph, bag) = Analyzer.analyze(model)
        guard let graph, !bag.hasErrors else { return .failure(failure(bag)) }
        return .success(graph)
    }

    /// The warnings of a model that compiles, rendered as `dlc` prints them; "" when there are
    /// none, or when the model does not compile (its failure renders them with the errors).
    public func renderedWarnings() -> String {
        let (model, parseBag) = Parser.parse(source)
        guard let model, !parseBag.hasErrors else { return "" }
        let (graph, bag) = Analyzer.analyze(model)
        guard graph != nil, !bag.hasErrors else { return "" }
        var warnings = DiagnosticBag()
        for w in bag.warnings { warnings.append(w) }
        return DiagnosticRenderer(source: source, useColor: useColor).render(warnings)
    }

    /// The typed graph, differentiated: forward and backward as one verified graph.
    public func trainingGraph() -> Result<Graph, CompileFailure> {
        typedGraph().flatMap { forward in
            do {
                let training = try differentiate(forward)
                try verifyOrThrow(training)
                return .success(training)
            } catch let e as AutodiffError {
                // The front end reports every error AD could find; reaching here is a bug,
                // but it is still reported at the value it concerns.
                let loc = e.value.flatMap { forward[$0].location } ?? SourceLocation(line: 1, column: 1)
                var bag = DiagnosticBag()
                bag.error(loc, "internal error in automatic differentiation: \(e.message)")
                return .failure(failure(bag))
            } catch {
                var bag = DiagnosticBag()
                bag.error(SourceLocation(line: 1, column: 1), "internal error: the training graph is invalid: \(error)")
                return .failure(failure(bag))
            }
        }
    }

    /// The optimisation passes' stages, from the typed graph to the optimized training graph.
    public func optimizationStages() -> Result<[DLCPasses.Optimizer.Stage], CompileFailure> {
        typedGraph().flatMap { forward in
            do {
                return .success(try DLCPasses.Optimizer.stages(forward))
            } catch {
                var bag = DiagnosticBag()
                bag.error(SourceLocation(line: 1, column: 1), "internal error in the optimisation passes: \(error)")
                return .failure(failure(bag))
            }
        }
    }

    /// The optimized training graph, or the graph after the pass named `stopAfter`.
    public func optimizedGraph(stopAfter: String? = nil) -> Result<Graph, CompileFailure> {
        optimizationStages().map { stages in
            (stopAfter.flatMap { name in stages.first { $0.name == name } } ?? stages.last!).graph
        }
    }

    /// The optimized training graph lowered to kernels with a static memory plan.
    public func kernelProgram() -> Result<KernelProgram, CompileFailure> {
        optimizedGraph().flatMap { g in
            do {
                return .success(try Lowering.lower(g))
            } catch {
                var bag = DiagnosticBag()
                bag.error(SourceLocation(line: 1, column: 1), "cannot lower '\(g.name)': \(error)")
                return .failure(failure(bag))
            }
        }
    }

    /// What a trainer is built from: the kernel program, printed by `backend`. The `data`
    /// setting is made absolute, resolved against the model file's folder.
    public func trainerSource(_ backend: any TrainerBackend = Backends.default,
                              options: BuildOptions = BuildOptions()) -> Result<TrainerSource, CompileFailure> {
        kernelProgram().map { p in
            TrainerSource(backend: backend, program: p, sourceName: (source.path as NSString).lastPathComponent,
                          dataPath: p.graph.train.data.map(resolveDataPath), options: options)
        }
    }

    /// The files `backend` generates for the model, for `machine`. A backend that cannot
    /// generate them here (see `BackendError`) is reported like a compile error.
    public func generatedFiles(_ backend: any TrainerBackend, for machine: TargetMachine = .host)
        -> Result<[GeneratedFile], CompileFailure> {
        trainerSource(backend).flatMap { source in
            do {
                return .success(try source.files(for: machine))
            } catch {
                var bag = DiagnosticBag()
                bag.error(SourceLocation(line: 1, column: 1), "the \(backend.name) backend cannot generate '\(source.name)': \(error)")
                return .failure(failure(bag))
            }
        }
    }

    /// A path of the model's `data` setting as an absolute path, resolved against the model
    /// file's folder (`DataPath.resolve`).
    public func resolveDataPath(_ path: String) -> String {
        DataPath.resolve(path, modelFile: source.path)
    }

    /// The text `--emit stage` prints: a stage of the compiler, or the files of that stage
    /// that `backend` generates (by default the first backend that has the stage).
    public func emit(_ stage: EmitStage, backend: (any TrainerBackend)? = nil) -> Result<String, CompileFailure> {
        switch stage {
        case .ast: return parse().map(ASTPrinter.print)
        case .ir: return typedGraph().map { printIR($0) }
        case .grad: return trainingGraph().map { printIR($0) }
        case .opt: return optimizedGraph().map { printIR($0) }
        case .kernels: return kernelProgram().map(KernelPrinter.print)
        case .dot: return optimizedGraph().map(DotPrinter.print)
        default:
            guard let printer = Backends.printing(stage, chosen: backend) else {
                preconditionFailure("no backend prints --emit \(stage); the command line checks this")
            }
            return generatedFiles(printer).map { files in files.emitted(stage.name) }
        }
    }
}

/// A model's kernel program and the backend that prints it: what a trainer is built from.
public struct TrainerSource: Sendable {
    public var backend: any TrainerBackend
    public var program: KernelProgram
    /// The model file's name, for run-time messages.
    public var sourceName: String
    /// The model's `data` setting, resolved against its folder.
    public var dataPath: String?
    public var options: BuildOptions

    /// The model's name.
    public var name: String { program.graph.name }

    /// The backend's files for `machine`.
    public func files(for machine: TargetMachine) throws -> [GeneratedFile] {
        try backend.generate(program, GenerationContext(sourceName: sourceName, dataPath: dataPath, options: options,
                                                        machine: machine))
    }
}

/// A file that could not be read.
public struct FileFailure: Error, Sendable {
    public let message: String
}

/// Runs `body` on a thread with a large stack: the stages walk expression trees recursively,
/// and a pathological (but legal) input must not overflow the main thread's stack.
public func withLargeStack<T>(_ body: @escaping () -> T) -> T {
    let box = LargeStackResult<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.value = body()
        done.signal()
    }
    thread.stackSize = 512 << 20
    thread.start()
    done.wait()
    return box.value!
}

private final class LargeStackResult<T>: @unchecked Sendable {
    var value: T?
}
