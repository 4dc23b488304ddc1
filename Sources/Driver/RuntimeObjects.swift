import DLCBackendKit
import DLCRuntimeSources
import Foundation

/// The C runtime compiled for one toolchain: its sources (the headers generated code includes)
/// and one object per part (`RuntimeParts`), in a cache directory named by a digest of
/// everything that went into them. Compiled once; every later trainer build links the same
/// objects.
struct RuntimeObjects: Sendable {
    /// The directory holding the sources, headers, parts and objects.
    let directory: String
    /// The objects to link, in part order.
    let objects: [String]
    /// The parts whose objects the cache lacks: `compile(_:)` makes each (the trainer build
    /// runs them beside its own files' compiles).
    let missing: [RuntimePart]
    /// What compiles them, and the flags every runtime compile adds to the part's.
    let toolchain: Toolchain
    let flags: [String]

    /// Finds the runtime's objects in the cache, writing the sources of any that are missing.
    static func prepare(files: [RuntimeFile], toolchain: Toolchain, blas: BlasFlags, defines: [String], cache: BuildCache,
                        cores: Int = RuntimeParts.cores) throws -> RuntimeObjects {
        let parts = RuntimeParts.plan(files, cores: cores)
        let directory = try cache.directory("runtime-" + key(files: files, parts: parts, toolchain: toolchain, blas: blas, defines: defines))
        let objects = parts.map { (directory as NSString).appendingPathComponent($0.objectName) }
        let missing = parts.indices.filter { !FileManager.default.fileExists(atPath: objects[$0]) }.map { parts[$0] }
        if !missing.isEmpty {
            // The directory is named by a digest of the contents, so a file already there is right.
            let written = files.map { ($0.name, $0.contents) } + parts.map { ($0.name, $0.source) }
            for (name, contents) in written {
                let path = (directory as NSString).appendingPathComponent(name)
                if !FileManager.default.fileExists(atPath: path) { try AtomicFiles.write(contents, to: path) }
            }
        }
        return RuntimeObjects(directory: directory, objects: objects, missing: missing, toolchain: toolchain,
                              flags: defines + blas.compile)
    }

    /// The compiler's arguments for a part: every C compilation's flags at the part's level.
    func arguments(_ part: RuntimePart, output: String) -> [String] {
        let source = (directory as NSString).appendingPathComponent(part.name)
        return CompileStep.cFlags(optimization: part.optimization) + flags + ["-I", directory, "-c", source, "-o", output]
    }

    /// Compiles one part to its object (under a temporary name, then renamed: a concurrent
    /// build never links a half-written object). A compile error is `.runtimeCompileFailed`,
    /// naming the runtime file the compiler reports first.
    func compile(_ part: RuntimePart, runtime: [RuntimeFile], environment: [String: String], log: (String) -> Void) throws {
        let object = (directory as NSString).appendingPathComponent(part.objectName)
        let temporary = AtomicFiles.temporaryPath(beside: object)
        let arguments = arguments(part, output: temporary)
        log(shellQuoted(toolchain.command(arguments)))
        let outcome = try toolchain.run(arguments, environment: environment)
        guard outcome.succeeded else {
            unlink(temporary)
            throw TrainerBuildError.runtimeCompileFailed(file: part.blamedFile(in: outcome.output, runtime: runtime),
                                                         output: outcome.output)
        }
        try AtomicFiles.replace(object, with: temporary)
    }

    /// The estimated cost of compiling a part, in the units `CompileQueue` orders jobs by
    /// (bytes of -O3 source).
    static func cost(_ part: RuntimePart, files: [RuntimeFile]) -> Double {
        files.filter { part.files.contains($0.name) }.map(RuntimeParts.cost).reduce(0, +)
    }

    /// A digest of the runtime's files, how they are grouped into parts, the toolchain, the
    /// BLAS flags and the build variant's defines (128 bits of SHA-256).
    static func key(files: [RuntimeFile], parts: [RuntimePart], toolchain: Toolchain, blas: BlasFlags, defines: [String]) -> String {
        var hasher = SHA256()
        hasher.update(field: toolchain.key)
        if !defines.isEmpty { for d in ["-D"] + defines { hasher.update(field: d) } }
        for flag in blas.compile + ["--"] + blas.link { hasher.update(field: flag) }
        for file in files {
            hasher.update(field: file.name)
            hasher.update(field: file.contents)
        }
        for part in parts { hasher.update(field: part.source) }
        return String(hasher.hexDigest().prefix(32))
    }
}
