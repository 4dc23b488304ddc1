import Foundation

/// Extra flags OpenBLAS needs with a given toolchain: none where cblas.h and libopenblas are on
/// the default paths (Debian, Ubuntu), an include directory on Fedora, both on Homebrew.
public struct BlasFlags: Sendable, Equatable, Codable {
    public var compile: [String]
    public var link: [String]
}

/// Compile-tests the toolchain once: can it build and run a program that calls OpenBLAS and
/// zlib? A positive verdict is cached per toolchain key; a negative one never is, so
/// installing the missing package is all it takes. When the test fails, smaller programs find
/// which part is missing, so the user reads "install libopenblas-dev", not a linker error.
struct ToolchainProbe {
    let toolchain: Toolchain
    let cache: BuildCache
    let environment: [String: String]

    /// The verdict an earlier probe of this toolchain left in the cache, if any.
    func cachedVerdict() throws -> BlasFlags? {
        guard let data = FileManager.default.contents(atPath: try verdictPath()) else { return nil }
        return try? JSONDecoder().decode(BlasFlags.self, from: data)
    }

    /// Probes, and caches the verdict when it is positive.
    func freshVerdict() throws -> BlasFlags {
        let flags = try probe()
        let json = String(decoding: try JSONEncoder().encode(flags), as: UTF8.self)
        try AtomicFiles.write(json, to: try verdictPath())
        return flags
    }

    /// Probes without looking at the cache; drops a cached verdict that no longer holds.
    /// Used to explain a build that failed although the verdict said all was well.
    func recheck() throws {
        do {
            _ = try probe()
        } catch {
            if let path = try? verdictPath() { unlink(path) }
            throw error
        }
    }

    private func verdictPath() throws -> String {
        (try cache.directory("toolchains") as NSString).appendingPathComponent(toolchain.key + ".json")
    }

    /// The first candidate's flags under which the test program builds and runs.
    private func probe() throws -> BlasFlags {
        let work = try makeScratchDirectory("probe")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let candidates = ToolchainProbe.candidates()
        for flags in candidates {
            if try build(ToolchainProbe.fullProgram, flags: flags, in: work, run: true).succeeded { return flags }
        }
        throw try diagnose(in: work)
    }

    /// Include and library directories to try, those that exist, after the default paths.
    static func candidates() -> [BlasFlags] {
        var list = [BlasFlags(compile: [], link: [])]
        let places: [(include: String, lib: String?)] = [
            ("/usr/include/openblas", nil),                                         // Fedora, RHEL
            ("/opt/homebrew/opt/openblas/include", "/opt/homebrew/opt/openblas/lib"), // Homebrew, Apple silicon
            ("/usr/local/opt/openblas/include", "/usr/local/opt/openblas/lib"),       // Homebrew, Intel
        ]
        for place in places where FileManager.default.fileExists(atPath: place.include + "/cblas.h") {
            let link = place.lib.map { ["-L" + $0, "-Wl,-rpath," + $0] } ?? []
            list.append(BlasFlags(compile: ["-I" + place.include], link: link))
        }
        return list
    }

    /// Calls into both libraries, so that linking it proves them present; into OpenBLAS's own
    /// API too (the runtime sets its thread count), which another CBLAS would lack.
    static let fullProgram = """
        #include <cblas.h>
        #include <zlib.h>
        int main(void) {
            float x[2] = {1.0f, 2.0f};
            openblas_set_num_threads(1);
            cblas_sscal(2, 2.0f, x, 1);
            return zlibVersion()[0] == '\\0' || x[1] != 4.0f;
        }

        """

    /// Finds the first missing piece, trying the pieces in the order they depend on each other.
    private func diagnose(in work: String) throws -> TrainerBuildError {
        let name = toolchain.compiler
        let trivial = "int main(void) { return 0; }\n"
        let plain = try build(trivial, flags: BlasFlags(compile: [], link: []), in: work, libraries: ["-lm"])
        if !plain.succeeded { return .compilerUnusable(compiler: name, output: plain.output) }
        let withHeader = ToolchainProbe.candidates().first { candidate in
            (try? build("#include <cblas.h>\n", flags: candidate, in: work, compileOnly: true).succeeded) == true
        }
        guard let flags = withHeader else { return .missingBlasHeader(compiler: name) }
        let zlibHeader = try build("#include <zlib.h>\n", flags: flags, in: work, compileOnly: true)
        if !zlibHeader.succeeded { return .missingZlib(compiler: name, output: zlibHeader.output) }
        let blas = try build(trivial, flags: flags, in: work, libraries: ["-lopenblas", "-lm"])
        if !blas.succeeded { return .missingBlasLibrary(compiler: name, output: blas.output) }
        let zlib = try build(trivial, flags: flags, in: work, libraries: ["-lz", "-lm"])
        if !zlib.succeeded { return .missingZlib(compiler: name, output: zlib.output) }
        let full = try build(ToolchainProbe.fullProgram, flags: flags, in: work, run: true)
        return .toolchainUnusable(compiler: name, output: full.output)
    }

    /// Compiles `source` (and links it, unless `compileOnly`; and runs it, if `run`), with
    /// dlc's compile flags, so that a compiler rejecting one of them fails here.
    private func build(_ source: String, flags: BlasFlags, in work: String, compileOnly: Bool = false,
                       run: Bool = false, libraries: [String] = Toolchain.libraries) throws -> ProcessOutcome {
        let file = (work as NSString).appendingPathComponent("probe.c")
        let binary = (work as NSString).appendingPathComponent(compileOnly ? "probe.o" : "probe")
        try AtomicFiles.write(source, to: file)
        var arguments = Toolchain.compileFlags + flags.compile + (compileOnly ? ["-c"] : []) + [file, "-o", binary]
        if !compileOnly { arguments += flags.link + libraries }
        let outcome = try toolchain.run(arguments, environment: environment)
        guard outcome.succeeded, run else { return outcome }
        // Running catches a library that links but does not load (a -L without its rpath).
        do {
            return try Subprocess.run(binary, [], environment: environment)
        } catch {
            return ProcessOutcome(status: 127, output: "\(error)")
        }
    }
}
