import DLCBackendKit
import Foundation

/// Why a trainer could not be built. Every case reads as a finished message (`message`), so a
/// user never sees a raw compiler or linker error without being told what it means and what to
/// do. Cases marked internal are bugs in dlc (the generated C or the embedded runtime is wrong),
/// not problems with the user's machine.
public enum TrainerBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tool the backend needs (the C compiler, ...): its variable ($CC) is unset and it was
    /// found nowhere dlc looked.
    case toolNotFound(Tool, searched: [String])
    /// A tool's variable ($CC) names a program that does not exist or cannot be executed.
    case toolVariableInvalid(Tool, value: String)
    /// A tool other than the C compiler does not run (`--version` fails).
    case toolUnusable(Tool, program: String, output: String)
    /// The C compiler cannot build even a trivial program with dlc's flags.
    case compilerUnusable(compiler: String, output: String)
    /// The backend cannot generate its files with these tools (the LLVM backend with gcc).
    case backendUnsupported(String)
    /// The compiler finds no cblas.h.
    case missingBlasHeader(compiler: String)
    /// cblas.h is there but -lopenblas does not link (or the result does not run).
    case missingBlasLibrary(compiler: String, output: String)
    /// zlib's header or library is missing (the runtime reads .gz data).
    case missingZlib(compiler: String, output: String)
    /// The probe program fails for a reason the diagnosis could not pin down.
    case toolchainUnusable(compiler: String, output: String)
    /// Internal: the embedded runtime does not compile with this toolchain.
    case runtimeCompileFailed(file: String, output: String)
    /// Internal: the generated C does not compile; the file is kept for the bug report.
    case modelCompileFailed(model: String, generatedFile: String, output: String)
    /// Internal: the generated C compiled but does not link with the runtime.
    case linkFailed(model: String, generatedFile: String, output: String)
    /// A file or directory could not be read, written or created.
    case io(String)

    /// Whether this is a bug in dlc rather than a problem with the machine or the command.
    public var isInternal: Bool {
        switch self {
        case .runtimeCompileFailed, .modelCompileFailed, .linkFailed: return true
        default: return false
        }
    }

    /// The message for the user, starting "error:", with "note:" lines saying what to do.
    public var message: String {
        let installBlas = "note: install OpenBLAS's development files: apt-get install libopenblas-dev"
            + " (Fedora: dnf install openblas-devel; macOS: brew install openblas)"
        switch self {
        case .toolNotFound(let tool, let searched):
            return """
                error: no \(tool.role) found to build the trainer (looked for $\(tool.variable), then \(searched.joined(separator: ", ")))
                note: install one (\(tool.installNote)), or set \(tool.variable) to \(article(tool.role)) \(tool.role)'s path
                """
        case .toolVariableInvalid(let tool, let value):
            return """
                error: \(tool.variable) is set to '\(value)', which is not an executable program
                note: set \(tool.variable) to \(article(tool.role)) \(tool.role) (e.g. \(tool.variable)=\(tool.searchedNames.first ?? "...")), or unset it to let dlc find one
                """
        case .toolUnusable(let tool, let program, let output):
            return "error: the \(tool.role) '\(program)' does not run\(excerpt(output))\n"
                + "note: set \(tool.variable) to a working \(tool.role) (\(tool.installNote))"
        case .backendUnsupported(let message):
            return message
        case .compilerUnusable(let compiler, let output):
            return "error: the C compiler '\(compiler)' cannot build a simple program with the flags "
                + "\(Toolchain.compileFlags.joined(separator: " "))\(excerpt(output))\n"
                + "note: set CC to a working C compiler (clang or gcc)"
        case .missingBlasHeader(let compiler):
            return "error: the C compiler '\(compiler)' cannot find cblas.h (OpenBLAS), which trainers need\n" + installBlas
        case .missingBlasLibrary(let compiler, let output):
            return "error: '\(compiler)' cannot link a program against OpenBLAS (-lopenblas)\(excerpt(output))\n" + installBlas
        case .missingZlib(let compiler, let output):
            return "error: '\(compiler)' cannot build a program with zlib (zlib.h, -lz), which trainers use to read .gz data"
                + "\(excerpt(output))\n"
                + "note: install zlib's development files: apt-get install zlib1g-dev (Fedora: dnf install zlib-devel)"
        case .toolchainUnusable(let compiler, let output):
            return "error: '\(compiler)' cannot build a program that uses OpenBLAS and zlib\(excerpt(output))\n" + installBlas
        case .runtimeCompileFailed(let file, let output):
            return "error: internal compiler error: dlc's C runtime file \(file) does not compile\(excerpt(output))\n"
                + "note: this is a bug in dlc; please report it"
        case .modelCompileFailed(let model, let file, let output):
            return "error: internal compiler error: the code generated for model '\(model)' does not compile"
                + "\(excerpt(output))\n"
                + "note: this is a bug in dlc; please report it with the generated file, kept at \(file)"
        case .linkFailed(let model, let file, let output):
            return "error: internal compiler error: the code generated for model '\(model)' does not link with the runtime"
                + "\(excerpt(output))\n"
                + "note: this is a bug in dlc; please report it with the generated file, kept at \(file)"
        case .io(let what):
            return "error: " + what
        }
    }

    public var description: String { message }
}

extension TrainerBuildError {
    /// A tool whose `--version` fails: for the C compiler, the message every unusable C
    /// compiler gets.
    static func unusable(_ tool: Tool, program: String, output: String) -> TrainerBuildError {
        tool == .cc ? .compilerUnusable(compiler: program, output: output) : .toolUnusable(tool, program: program, output: output)
    }
}

/// "a" or "an" before a word.
private func article(_ word: String) -> String {
    "aeiouAEIOU".contains(word.first ?? "x") ? "an" : "a"
}

/// A tool's output as the tail of a message: on its own lines, at most `limit` of them (a
/// compiler stops after 20 errors anyway; this bounds pathological cases).
private func excerpt(_ output: String, limit: Int = 60) -> String {
    var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
    if lines.isEmpty { return "" }
    if lines.count > limit { lines = Array(lines.prefix(limit)) + ["[\(lines.count - limit) more lines]"] }
    return ":\n" + lines.joined(separator: "\n")
}
