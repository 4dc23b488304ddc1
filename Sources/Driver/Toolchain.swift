import Foundation

/// The C compiler that builds trainers, and the flags every build uses.
public struct Toolchain: Sendable, Equatable {
    /// The compiler's absolute path.
    public let compiler: String
    /// Words that followed the program in $CC (CC="ccache clang" gives ["clang"]); they come
    /// first on every command line.
    public let compilerArguments: [String]
    /// The compiler's `--version` output. Part of every cache key, so an upgraded compiler
    /// recompiles the runtime instead of linking objects from its predecessor.
    public let version: String

    /// Flags of every C compilation. C11 is the runtime's dialect (codegen/README.md);
    /// -fno-math-errno lets sqrtf/expf vectorise (nothing reads errno); -march=native because a
    /// trainer runs where it was built.
    public static let compileFlags = ["-std=c11", "-O3", "-march=native", "-fno-math-errno"]
    /// Libraries every trainer links: OpenBLAS for matmuls, zlib for .gz data, libm.
    public static let libraries = ["-lopenblas", "-lz", "-lm"]
    /// Where dlc looks when $CC is unset, in order: names on PATH, then fixed paths (a Swift
    /// toolchain's clang among them, for machines whose PATH lacks it).
    public static let searchedNames = ["clang", "cc", "gcc"]
    public static let searchedPaths = ["/usr/bin/clang", "/usr/bin/cc", "/usr/bin/gcc", "/opt/swift/usr/bin/clang"]

    /// A toolchain for an explicit compiler; runs `compiler --version`.
    public init(compiler: String, compilerArguments: [String] = [],
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard FileManager.default.isExecutableFile(atPath: compiler) else {
            throw TrainerBuildError.compilerNotFound(cc: compiler)
        }
        let outcome: ProcessOutcome
        do {
            outcome = try Subprocess.run(compiler, compilerArguments + ["--version"], environment: environment)
        } catch {
            throw TrainerBuildError.compilerUnusable(compiler: compiler, output: "\(error)")
        }
        guard outcome.succeeded else { throw TrainerBuildError.compilerUnusable(compiler: compiler, output: outcome.output) }
        self.compiler = compiler
        self.compilerArguments = compilerArguments
        self.version = outcome.output
    }

    /// The compiler named by $CC, else the first of `searchedNames` on PATH, else the first of
    /// `fallbackPaths` that exists.
    public static func find(environment: [String: String] = ProcessInfo.processInfo.environment,
                            fallbackPaths: [String] = searchedPaths) throws -> Toolchain {
        let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        if let cc = environment["CC"], !cc.trimmingCharacters(in: .whitespaces).isEmpty {
            // $CC may carry arguments ("ccache clang", "gcc -m64"); split on blanks like make does.
            let words = cc.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let program = resolve(words[0], searchPath: searchPath) else { throw TrainerBuildError.compilerNotFound(cc: cc) }
            return try Toolchain(compiler: program, compilerArguments: Array(words.dropFirst()), environment: environment)
        }
        for name in searchedNames {
            if let program = resolve(name, searchPath: searchPath) { return try Toolchain(compiler: program, environment: environment) }
        }
        for path in fallbackPaths where FileManager.default.isExecutableFile(atPath: path) {
            return try Toolchain(compiler: path, environment: environment)
        }
        throw TrainerBuildError.noCompiler(searched: searchedNames.map { $0 + " on PATH" } + fallbackPaths)
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
            throw TrainerBuildError.compilerUnusable(compiler: compiler, output: "cannot run it: \(error)")
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
