import DLCRuntimeSources
import Foundation

/// How the processes of a trainer talk to each other: the runtime's communicator seam
/// (codegen/dlc_comm.h), of which a trainer links exactly one implementation.
public enum Communicator: String, CaseIterable, Sendable {
    /// One process (codegen/dlc_comm_single.c): the default.
    case single
    /// Data-parallel over MPI (codegen/dlc_comm_mpi.c): `mpirun -np K trainer train ...`.
    case mpi

    /// The runtime file that implements this communicator.
    public var runtimeSource: String { "dlc_comm_\(rawValue).c" }

    /// The runtime's files for a trainer with this communicator: every file but the other
    /// communicators' sources.
    public func runtimeFiles(_ files: [RuntimeFile]) -> [RuntimeFile] {
        let others = Set(Communicator.allCases.filter { $0 != self }.map(\.runtimeSource))
        return files.filter { !others.contains($0.name) }
    }

    /// The compile and link flags this communicator adds: none for one process; for MPI, those
    /// its compiler wrapper `mpicc` (or $MPICC) reports, so that the trainer is built by the
    /// same compiler as without MPI (clang, for the LLVM backend's IR) against the MPI that
    /// mpirun will run.
    func flags(environment: [String: String]) throws -> BlasFlags {
        guard self == .mpi else { return BlasFlags(compile: [], link: []) }
        let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        let name = environment["MPICC"].flatMap { $0.isEmpty ? nil : $0 } ?? "mpicc"
        guard let wrapper = Toolchain.resolve(name, searchPath: searchPath) else {
            throw TrainerBuildError.mpiUnavailable(wrapper: name, output: "")
        }
        // Open MPI answers --showme:compile and --showme:link; MPICH (and Intel MPI) print the
        // whole command for -compile_info and -link_info, the compiler first.
        let queries = [(["--showme:compile"], ["--showme:link"], false), (["-compile_info"], ["-link_info"], true)]
        var failure = ""
        for (compileQuery, linkQuery, dropsCompiler) in queries {
            let compile = try? Subprocess.run(wrapper, compileQuery, environment: environment)
            let link = try? Subprocess.run(wrapper, linkQuery, environment: environment)
            guard let c = compile, let l = link, c.succeeded, l.succeeded else {
                failure = compile?.output ?? link?.output ?? ""
                continue
            }
            let words = { (text: String) -> [String] in
                let all = text.split(whereSeparator: \.isWhitespace).map(String.init)
                return dropsCompiler ? Array(all.dropFirst()).filter { $0 != "-c" } : all
            }
            return BlasFlags(compile: words(c.output), link: words(l.output))
        }
        throw TrainerBuildError.mpiUnavailable(wrapper: wrapper, output: failure)
    }
}
