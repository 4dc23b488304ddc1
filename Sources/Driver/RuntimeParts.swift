import DLCRuntimeSources
import Foundation

/// One unity translation unit of the C runtime: a file that `#include`s a share of the runtime's
/// .c files, compiled by one compiler process at one optimization level.
///
/// Compiled one process each, the runtime's 34 files took 3.0 s of CPU at -O3, as one unit 2.4 s
/// (clang 21): each process starts and parses the same headers again; a part does that once.
/// The runtime's files are written to be compiled either way (codegen/README.md, "Unity
/// builds"): no two of them share a file-scope name, and codegen/tests/run.sh compiles them all
/// as one unit, in both orders, besides each alone. A compile error still names the runtime
/// file and line it is in: the compiler reports the included file, and `blamedFile` finds it.
struct RuntimePart: Equatable, Sendable {
    /// "runtime-2.c": its name in the runtime's cache directory; the object is named after it.
    let name: String
    /// The optimization flag the part is compiled with (see `RuntimeParts.optimization`).
    let optimization: String
    /// The base names of the .c files it includes, in name order.
    let files: [String]

    /// "runtime-2.o".
    var objectName: String { String(name.dropLast(2)) + ".o" }

    /// The part's text: the feature macro every runtime file may rely on, then its files.
    var source: String {
        var text = """
            /* \(name): part of dlc's C runtime, compiled as one translation unit (\(optimization)).
             * Written by dlc (Sources/Driver/RuntimeParts.swift); the files are codegen/'s. */
            /* dlc_util.c needs _GNU_SOURCE (sched_getaffinity), and a feature macro works only
             * before the first system header: every file of the part is compiled under it. */
            #define _GNU_SOURCE

            """
        for file in files { text += "#include \"\(file)\"\n" }
        return text
    }

    /// The runtime file (its path under codegen/, e.g. "core/dlc_cli.c") that the compiler's
    /// `output` reports the first error in; the part's own name when the output names none of
    /// the runtime's files (a flag the compiler rejects).
    func blamedFile(in output: String, runtime: [RuntimeFile]) -> String {
        let paths = Dictionary(runtime.map { ($0.name, $0.path) }, uniquingKeysWith: { first, _ in first })
        for line in output.split(separator: "\n") where line.contains("error:") {
            // clang and gcc: "PATH:LINE:COLUMN: error: ..." or "PATH:LINE:COLUMN: fatal error: ...".
            guard let colon = line.firstIndex(of: ":") else { continue }
            if let path = paths[(String(line[..<colon]) as NSString).lastPathComponent] { return path }
        }
        return name
    }
}

/// How the runtime's .c files are grouped into parts, and at which optimization level each is
/// compiled.
enum RuntimeParts {
    /// Files that run once per load or save of a checkpoint, with loops over the model's
    /// tensors (the params' FNV-1a hash, byte by byte; the finiteness check of a loaded tensor,
    /// which stops at the first bad element): -O1 keeps those loops tight and costs 0.32 s of
    /// CPU to compile where -O3 costs 0.45 s (clang 21, measured 2026-12-06); -O3's vectorizer
    /// has nothing there to speed up in a way a run could notice.
    static let checkpointFiles: Set<String> = ["dlc_checkpoint.c", "dlc_init_map.c", "dlc_json.c", "dlc_safetensors.c"]

    /// Files that run once per command or on an error path, or do a few microseconds of work a
    /// step (the progress bar, the record of the step's rows): the flags, `info`, the charts,
    /// `gradcheck`'s bookkeeping (its arithmetic is the model's own kernels), error reports,
    /// number formatting. Unoptimized they cost 0.08 s of CPU to compile, 0.55 s at -O3: half
    /// a second of every cold build for code whose speed no run depends on.
    static let controlFiles: Set<String> = [
        "dlc_cli.c", "dlc_data_report.c", "dlc_format.c", "dlc_gradcheck.c", "dlc_info.c", "dlc_main.c",
        "dlc_plot.c", "dlc_progress.c", "dlc_rowcheck.c", "dlc_watch.c",
    ]

    /// The optimization flag of a runtime .c file. Everything not listed above is on a hot path
    /// (the device, the threads, the training and eval loops, optimizers, metrics, batches, the
    /// data readers, the communicators) and keeps -O3, the flag of every C compilation; so does
    /// a file added to the runtime until it is listed.
    static func optimization(of name: String) -> String {
        if controlFiles.contains(name) { return "-O0" }
        if checkpointFiles.contains(name) { return "-O1" }
        return "-O3"
    }

    /// The relative CPU cost of compiling a byte of source at a level (measured on the runtime
    /// as one unit per level, clang 21): what the parts are balanced by.
    static func costPerByte(_ optimization: String) -> Double {
        switch optimization {
        case "-O0": return 0.15
        case "-O1": return 0.7
        default: return 1
        }
    }

    /// The estimated cost of compiling one runtime file at its level, in bytes of -O3 source:
    /// what the parts are balanced by and `CompileQueue` orders them by.
    static func cost(_ file: RuntimeFile) -> Double {
        Double(file.contents.utf8.count) * costPerByte(optimization(of: file.name))
    }

    /// The runtime's .c files in parts for a machine with `cores` cores: the files of each
    /// optimization level split into its share of the work times `cores` parts, rounded up (so
    /// that there are at least as many parts as cores), each part's files chosen so that the
    /// parts of a level are about equally large. The same files and cores always give the same
    /// parts.
    static func plan(_ files: [RuntimeFile], cores: Int) -> [RuntimePart] {
        let sources = files.filter(\.isSource).sorted { $0.name < $1.name }
        let levels = ["-O3", "-O1", "-O0"].filter { level in sources.contains { optimization(of: $0.name) == level } }
        let total = sources.map(cost).reduce(0, +)
        var parts: [RuntimePart] = []
        for level in levels {
            let members = sources.filter { optimization(of: $0.name) == level }
            let share = members.map(cost).reduce(0, +) / max(total, 1)
            let count = min(members.count, max(1, Int((Double(cores) * share).rounded(.up))))
            // Largest first, each to the part with the least so far.
            var bins = Array(repeating: (cost: 0.0, files: [String]()), count: count)
            for file in members.sorted(by: { cost($0) != cost($1) ? cost($0) > cost($1) : $0.name < $1.name }) {
                let lightest = bins.indices.min { bins[$0].cost < bins[$1].cost }!
                bins[lightest].cost += cost(file)
                bins[lightest].files.append(file.name)
            }
            for bin in bins {
                parts.append(RuntimePart(name: "runtime-\(parts.count + 1).c", optimization: level, files: bin.files.sorted()))
            }
        }
        return parts
    }

    /// The cores this process may use, at least 2: a one-core machine builds the same parts as a
    /// two-core one (a part more costs it about 30 ms), so the two share cached objects.
    static var cores: Int { max(2, ProcessInfo.processInfo.activeProcessorCount) }
}
