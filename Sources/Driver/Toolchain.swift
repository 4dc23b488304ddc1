import DLCBackendKit
import Foundation

/// A tool found on this machine (the C compiler that builds trainers, or another tool a
/// backend states), and the flags every C build uses.
public struct Toolchain: Sendable, Equatable {
    /// The program's absolute path.
    public let compiler: String
    /// Words that followed the program in $CC (CC="ccache clang" gives ["clang"]); they come
    /// first on every command line.
    public let compilerArguments: [String]
    /// The compiler's `--version` output. Part of every cache key, so an upgraded compiler
    /// recompiles the runtime instead of linking objects from its predecessor.
    public let version: String

    /// Flags of every C compilation (see `CompileStep.cFlags`).
    public static let compileFlags = CompileStep.cFlags
    /// Libraries every trainer with the standard runtime links: OpenBLAS for matmuls, zlib for
    /// .gz data, libm.
    public static let libraries = RuntimeBuild.standard(BuildOptions()).libraries

    /// What it is (the C compiler, or another tool a backend states).
    public let tool: Tool

    /// A toolchain for an explicit program (a C compiler unless `tool` says otherwise); runs
    /// `compiler --version`.
    public init(compiler: String, compilerArguments: [String] = [],
                environment: [String: String] = ProcessInfo.processInfo.environment, tool: Tool = .cc) throws {
        guard FileManager.default.isExecutableFile(atPath: compiler) else {
            throw TrainerBuildError.toolVariableInvalid(tool, value: compiler)
        }
        let outcome: ProcessOutcome
        do {
            outcome = try Subprocess.run(compiler, compilerArguments + ["--version"], environment: environment)
        } catch {
            throw TrainerBuildError.unusable(tool, program: compiler, output: "\(error)")
        }
        guard outcome.succeeded else { throw TrainerBuildError.unusable(tool, program: compiler, output: outcome.output) }
        self.compiler = compiler
        self.compilerArguments = compilerArguments
        self.version = outcome.output
        self.tool = tool
    }

    /// The C compiler (see `find(_:environment:fallbackPaths:)`).
    public static func find(environment: [String: String] = ProcessInfo.processInfo.environment,
                            fallbackPaths: [String] = Tool.cc.searchedPaths) throws -> Toolchain {
        try find(.cc, environment: environment, fallbackPaths: fallbackPaths)
    }

    /// `tool` as named by its environment variable ($CC), else the first of its searched
    /// names on PATH, else the first of `fallbackPaths` (its searched paths) that exists.
    public static func find(_ tool: Tool, environment: [String: String] = ProcessInfo.processInfo.environment,
                            fallbackPaths: [String]? = nil) throws -> Toolchain {
        let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        if let value = environment[tool.variable], !value.trimmingCharacters(in: .whitespaces).isEmpty {
            // $CC may carry arguments ("ccache clang", "gcc -m64"); split on blanks like make does.
            let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let program = resolve(words[0], searchPath: searchPath) else {
                throw TrainerBuildError.toolVariableInvalid(tool, value: value)
            }
            return try Toolchain(compiler: program, compilerArguments: Array(words.dropFirst()), environment: environment, tool: tool)
        }
        for name in tool.searchedNames {
            if let program = resolve(name, searchPath: searchPath) {
                return try Toolchain(compiler: program, environment: environment, tool: tool)
            }
        }
        let paths = fallbackPaths ?? tool.searchedPaths
        for path in paths where FileManager.default.isExecutableFile(atPath: path) {
            return try Toolchain(compiler: path, environment: environment, tool: tool)
        }
        throw TrainerBuildError.toolNotFound(tool, searched: tool.searchedNames.map { $0 + " on PATH" } + paths)
    }

    /// `name` as an absolute path: itself when it contains a slash, else its first directory on
    /// PATH. Nil when no executable is there.
    static func resolve(_ name: String, searchPath: [String]) -> String? {
        if name.contains("/") {
            let path = URL(fileURLWithPath: name).standardizedFileURL.path
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        for directory in searchPath where !directory.isEmpty {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: path) {
                return path
            }
        }
        return nil
    }

    /// A command line: the compiler, its $CC arguments, then `arguments`.
    func command(_ arguments: [String]) -> [String] { [compiler] + compilerArguments + arguments }

    /// Runs the compiler. Throws only when it cannot be started (then as a TrainerBuildError).
    func run(_ arguments: [String], environment: [String: String]) throws -> ProcessOutcome {
        do {
            return try Subprocess.run(compiler, compilerArguments + arguments, environment: environment)
        } catch {
            throw TrainerBuildError.unusable(tool, program: compiler, output: "cannot run it: \(error)")
        }
    }

    /// What identifies objects this toolchain produces: compiler, version, flags and the host
    /// CPU (-march=native objects from one machine must not be reused on another that shares
    /// the cache, e.g. through a network home directory).
    var key: String {
        var hasher = SHA256()
        for field in [compiler] + compilerArguments + [version] + Toolchain.compileFlags + Toolchain.libraries + [hostCPU] {
            hasher.update(field: field)
        }
        return hasher.hexDigest()
    }
}

/// The host CPU's model and feature flags as /proc/cpuinfo gives them (the machine name where
/// there is no /proc); read once per process.
let hostCPU: String = {
    var name = utsname()
    uname(&name)
    var description = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
        let lines = cpuinfo.split(separator: "\n")
        for prefix in ["model name", "flags", "Features", "CPU part"] {
            if let line = lines.first(where: { $0.hasPrefix(prefix) }) { description += "\n" + line }
        }
    }
    return description
}()
