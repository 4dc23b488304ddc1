/// One file of a trainer: its name in the build's scratch directory, its text, the `--emit`
/// stage that prints it, and how it is compiled.
public struct GeneratedFile: Hashable, Sendable {
    /// Its name in the build's scratch directory (`model.c`); the object is named after it.
    public var name: String
    public var contents: String
    /// The `--emit` stage that prints it, if any.
    public var stage: String?
    public var compile: CompileStep
    /// What its object adds to the trainer's link: the libraries it calls (cuBLAS).
    public var linkFlags: [String]
    /// The CPU cost of compiling a byte of it, relative to a byte of the runtime's C at -O3:
    /// the driver starts the costliest compiles first (`CompileQueue`), so that the last to
    /// finish is a short one. Generated C as a whole costs about the same per byte as the
    /// runtime (the default); the C backend's loop-free `model.c` far less, its kernel files more.
    public var costPerByte: Double

    public init(name: String, contents: String, stage: String?, compile: CompileStep, linkFlags: [String] = [],
                costPerByte: Double = 1) {
        self.name = name
        self.contents = contents
        self.stage = stage
        self.compile = compile
        self.linkFlags = linkFlags
        self.costPerByte = costPerByte
    }
}

extension [GeneratedFile] {
    /// What `--emit stage` prints of these files: those of that stage, in order, a blank line
    /// between two (the C backend's `model.c` and its kernel functions' files).
    public func emitted(_ stage: String) -> String {
        filter { $0.stage == stage }.map(\.contents).joined(separator: "\n")
    }
}

/// How one generated file becomes an object: the tool and its flags.
public struct CompileStep: Hashable, Sendable {
    public var tool: Tool
    public var flags: [String]
    /// Whether the file includes the runtime's headers: the build then adds the runtime's
    /// include directory and OpenBLAS's (as for the runtime's own files).
    public var includesRuntime: Bool

    public init(tool: Tool, flags: [String], includesRuntime: Bool) {
        self.tool = tool
        self.flags = flags
        self.includesRuntime = includesRuntime
    }

    /// Flags of every C compilation: C11 is the runtime's dialect (codegen/README.md);
    /// -fno-math-errno lets sqrtf/expf vectorise (nothing reads errno); -march=native because
    /// a trainer runs where it was built; -fopenmp-simd honours the kernels' `#pragma omp simd`
    /// (vectorise this loop along its own index) without OpenMP's threads or runtime.
    public static let cFlags = ["-std=c11", "-O3", "-march=native", "-fno-math-errno", "-fopenmp-simd"]

    /// Flags of a generated C file: the runtime's, at -O2. Its loops are the kernels of one
    /// model, compiled at every `dlc compile`; clang's -O3 spends seconds on them (LeNet: 4.4 s
    /// against 1.0 s, unrolling the many short constant loops of its convolutions' gradients
    /// before vectorising them) and the trainers run as fast (2026-12-06, LeNet's epoch, the
    /// lecture MLP's 5000 Adam steps and the MNIST MLP's epoch each within 1% of -O3).
    public static let generatedCFlags = cFlags(optimization: "-O2")

    /// `cFlags` with another optimization level in place of -O3.
    public static func cFlags(optimization: String) -> [String] {
        cFlags.map { $0.hasPrefix("-O") ? optimization : $0 }
    }

    /// A generated C file: the runtime's headers, `generatedCFlags`.
    public static let c = CompileStep(tool: .cc, flags: generatedCFlags, includesRuntime: true)
}

/// How the runtime is compiled and a trainer linked.
public struct RuntimeBuild: Hashable, Sendable {
    /// Compiles the runtime's C files and links the trainer.
    public var compiler: Tool
    /// Flags added to every compile of a runtime file and of a generated file that includes
    /// the runtime's headers (defines choosing a device or a communicator; a runtime file of
    /// another one can compile to nothing under them). Part of the runtime objects' cache key.
    public var defines: [String]
    /// The libraries every trainer links.
    public var libraries: [String]

    public init(compiler: Tool, defines: [String], libraries: [String]) {
        self.compiler = compiler
        self.defines = defines
        self.libraries = libraries
    }

    /// The host runtime: the C compiler, OpenBLAS for matmuls, zlib for .gz data, libm. With
    /// the MPI communicator, MPI's compiler wrapper compiles the runtime (which it finds mpi.h
    /// for) and links the trainer (with libmpi); DLC_COMM_MPI makes dlc_comm_mpi.c the
    /// communicator and dlc_comm_single.c compile to nothing.
    public static func standard(_ options: BuildOptions) -> RuntimeBuild {
        let libraries = ["-lopenblas", "-lz", "-lm"]
        switch options.communicator {
        case .single: return RuntimeBuild(compiler: .cc, defines: [], libraries: libraries)
        case .mpi: return RuntimeBuild(compiler: .mpicc, defines: ["-DDLC_COMM_MPI"], libraries: libraries)
        }
    }

    /// The words that identify this build in a cache key.
    public var key: [String] { [compiler.variable] + defines + ["--"] + libraries }
}
