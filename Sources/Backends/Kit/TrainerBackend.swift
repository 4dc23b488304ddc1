import DLCLowering

/// A backend: how a kernel program becomes the files of a trainer, and what builds each.
///
/// The driver keeps the registry (`Backends.all` in Sources/Driver/Backends.swift): `--backend`,
/// `--emit`, `dlc train --backend`, the build cache's key and the message for a missing tool
/// all come from what each backend states here, so that adding one is a folder under
/// Sources/Backends and a line in the registry.
public protocol TrainerBackend: Sendable {
    /// The name `--backend` takes (`c`, `llvm`).
    var name: String { get }
    /// What it generates, in a phrase, for `--help`.
    var summary: String { get }
    /// The `--emit` stages it prints: each names one of its generated files (`GeneratedFile.stage`).
    var emitStages: [String] { get }
    /// The tools its files and its runtime are built with, found (or reported missing) before
    /// anything is generated.
    func tools(_ options: BuildOptions) -> [Tool]
    /// The files of the trainer of `program`, each with the step that compiles it; the objects
    /// are linked with the runtime that `runtime(_:)` describes.
    func generate(_ program: KernelProgram, _ context: GenerationContext) throws -> [GeneratedFile]
    /// How the runtime is compiled and the trainer linked.
    func runtime(_ options: BuildOptions) -> RuntimeBuild
    /// Whether it can build for a CPU emulation of its device (`BuildOptions.emulate`).
    var canEmulate: Bool { get }
}

extension TrainerBackend {
    /// The standard runtime (host memory, OpenBLAS, the communicator `options` ask for).
    public func runtime(_ options: BuildOptions) -> RuntimeBuild { .standard(options) }
    public var canEmulate: Bool { false }
}

/// Choices a build makes beyond the backend, passed to every backend's `generate` and `runtime`.
public struct BuildOptions: Hashable, Sendable {
    /// How many processes train together and how they share gradients.
    public var communicator: Communicator
    /// Build for a CPU emulation of the backend's device (`dlc compile --emulate`, the CUDA
    /// backend): slow, for testing the generated code without the device.
    public var emulate: Bool

    public init(communicator: Communicator = .single, emulate: Bool = false) {
        self.communicator = communicator
        self.emulate = emulate
    }

    /// The words that identify these options in a cache key.
    public var key: [String] { ["communicator=" + communicator.rawValue] + (emulate ? ["emulate"] : []) }
}

/// The runtime's communicator: with whom a process shares its gradients (codegen/comm/dlc_comm.h).
public enum Communicator: String, Hashable, Sendable, CaseIterable {
    /// One process, no one to share with (codegen/comm/dlc_comm_single.c).
    case single
    /// The processes of an MPI job (`dlc compile --mpi`; codegen/comm/dlc_comm_mpi.c): the runtime
    /// is compiled and the trainer linked by MPI's compiler wrapper.
    case mpi
}

/// What a backend's files are generated for.
public struct GenerationContext: Sendable {
    /// The model file's name, for run-time messages (`digits.dl:12:5`).
    public var sourceName: String
    /// The default data path written into the trainer (already resolved against the model's
    /// folder by the driver), or nil.
    public var dataPath: String?
    /// The build's choices beyond the backend.
    public var options: BuildOptions
    /// The machine the files will be compiled for.
    public var machine: TargetMachine

    public init(sourceName: String, dataPath: String?, options: BuildOptions = BuildOptions(), machine: TargetMachine) {
        self.sourceName = sourceName
        self.dataPath = dataPath
        self.options = options
        self.machine = machine
    }
}

/// The machine generated files are compiled for, for a backend whose output names one (LLVM
/// IR's target lines).
public enum TargetMachine: Sendable {
    /// The machine dlc runs on, as far as dlc knows it (`--emit`).
    case host
    /// None: nothing machine-specific is printed (golden files, the same on every host).
    case unspecified
    /// The machine the build's tools compile for: a backend may ask them (a trainer build).
    case toolchain(any ToolRunner)
}

/// Runs the build's tools for a backend that needs to ask them something.
public protocol ToolRunner: Sendable {
    /// Runs `tool` with `arguments` (a successful run's output may be kept in the build cache).
    func run(_ tool: Tool, _ arguments: [String]) throws -> ToolOutput
}

/// What a tool printed (stdout and stderr together), and whether it succeeded.
public struct ToolOutput: Sendable {
    /// The program that ran (its path), for messages.
    public var program: String
    /// Whether it exited with status 0.
    public var succeeded: Bool
    /// Its standard output and standard error, interleaved.
    public var text: String

    public init(program: String, succeeded: Bool, text: String) {
        self.program = program
        self.succeeded = succeeded
        self.text = text
    }
}

/// Why a backend cannot generate its files on this machine: a finished message, starting
/// "error:", with "note:" lines saying what to do.
public struct BackendError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
