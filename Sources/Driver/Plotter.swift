import DLCRuntimeSources
import Foundation

/// `dlc plot`'s renderer: the runtime's own chart code (codegen/progress/dlc_plot.c, which
/// trainers run for `--plot`) compiled with a small main into a program kept in the build
/// cache, so that a chart drawn from a --log file is the very picture the trainer drew. Built
/// once per renderer and toolchain (a digest of both names its cache directory), in about a
/// second.
public struct Plotter: Sendable {
    public var environment: [String: String]
    public var cache: BuildCache
    /// The runtime's files; the embedded copy of codegen/ unless a test swaps it.
    public var runtimeFiles: [RuntimeFile] = EmbeddedRuntime.files

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, cache: BuildCache? = nil) {
        self.environment = environment
        self.cache = cache ?? BuildCache(root: BuildCache.defaultRoot(environment: environment))
    }

    /// `plot LOG SVG TITLE`: the chart of a --log file; a problem is one line on stderr, exit 1.
    static let main = """
        /* dlc plot: the chart of a --log file, drawn by the trainer's renderer (dlc_plot.c). */
        #include "dlc_runtime.h"

        int main(int argc, char **argv) {
            char why[512];
            if (argc != 4) {
                fprintf(stderr, "usage: %s LOG SVG TITLE\\n", argv[0]);
                return 2;
            }
            if (dlc_plot_from_log(argv[1], argv[2], argv[3], why, sizeof why)) {
                fprintf(stderr, "error: %s\\n", why);
                return 1;
            }
            return 0;
        }

        """

    /// The files the renderer is built from: dlc_plot.c and the runtime's headers (dlc_runtime.h
    /// includes those of the other parts: the device's, the communicator's, the contract).
    var sources: [RuntimeFile] {
        runtimeFiles.filter { $0.name == "dlc_plot.c" || $0.name.hasSuffix(".h") }
            + [RuntimeFile(name: "plot_main.c", contents: Self.main)]
    }

    /// The renderer's path, building it when the cache lacks it.
    public func program() throws -> String {
        let toolchain = try Toolchain.find(environment: environment)
        var hasher = SHA256()
        hasher.update(field: toolchain.key)
        for file in sources {
            hasher.update(field: file.name)
            hasher.update(field: file.contents)
        }
        let directory = try cache.directory("plot-" + String(hasher.hexDigest().prefix(32)))
        let program = (directory as NSString).appendingPathComponent("dlc-plot")
        if FileManager.default.isExecutableFile(atPath: program) { return program }
        for file in sources {
            try AtomicFiles.write(file.contents, to: (directory as NSString).appendingPathComponent(file.name))
        }
        let temporary = AtomicFiles.temporaryPath(beside: program)
        let arguments = ["-std=c11", "-O2", "-I", directory, (directory as NSString).appendingPathComponent("plot_main.c"),
                         (directory as NSString).appendingPathComponent("dlc_plot.c"), "-lm", "-o", temporary]
        let outcome = try toolchain.run(arguments, environment: environment)
        guard outcome.succeeded else {
            unlink(temporary)
            throw TrainerBuildError.runtimeCompileFailed(file: "dlc_plot.c", output: outcome.output)
        }
        try AtomicFiles.replace(program, with: temporary)
        return program
    }
}
