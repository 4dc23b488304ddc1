import DLCRuntimeSources
import Foundation

/// The C runtime compiled for one toolchain: its sources (the headers generated code includes)
/// and one object per .c file, in a cache directory named by a digest of everything that went
/// into them. Compiled once; every later trainer build links the same objects.
struct RuntimeObjects {
    /// The directory holding the sources, headers and objects.
    let directory: String
    /// The objects to link, in file-name order.
    let objects: [String]
    /// How many objects this call compiled (0 when every one came from the cache).
    let compiled: Int

    /// Finds the runtime's objects in the cache, compiling (in parallel) those that are missing.
    static func prepare(files: [RuntimeFile], toolchain: Toolchain, blas: BlasFlags, defines: [String], cache: BuildCache,
                        environment: [String: String], log: (String) -> Void) throws -> RuntimeObjects {
        let directory = try cache.directory("runtime-" + key(files: files, toolchain: toolchain, blas: blas, defines: defines))
        let sources = files.filter(\.isSource)
        let objects = sources.map { (directory as NSString).appendingPathComponent(objectName($0.name)) }
        let missing = sources.indices.filter { !FileManager.default.fileExists(atPath: objects[$0]) }
        if missing.isEmpty {
            return RuntimeObjects(directory: directory, objects: objects, compiled: 0)
        }

        // The directory is named by a digest of the contents, so a file already there is right.
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file.name)
            if !FileManager.default.fileExists(atPath: path) { try AtomicFiles.write(file.contents, to: path) }
        }

        log("compiling the C runtime (\(missing.count) files) into \(directory)")
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: missing.count) { i in
            let index = missing[i]
            let source = (directory as NSString).appendingPathComponent(sources[index].name)
            // A temporary name, then rename: a concurrent build never links a half-written object.
            let temporary = AtomicFiles.temporaryPath(beside: objects[index])
            let arguments = Toolchain.compileFlags + defines + blas.compile + ["-I", directory, "-c", source, "-o", temporary]
            log(shellQuoted(toolchain.command(arguments)))
            do {
                let outcome = try toolchain.run(arguments, environment: environment)
                guard outcome.succeeded else {
                    unlink(temporary)
                    failures.add(.runtimeCompileFailed(file: sources[index].name, output: outcome.output))
                    return
                }
                try AtomicFiles.replace(objects[index], with: temporary)
            } catch {
                failures.add(error as? TrainerBuildError ?? .io("\(error)"))
            }
        }
        if let first = failures.first { throw first }
        return RuntimeObjects(directory: directory, objects: objects, compiled: missing.count)
    }

    /// "dlc_train.c" -> "dlc_train.o".
    private static func objectName(_ source: String) -> String { String(source.dropLast(2)) + ".o" }

    /// A digest of the runtime's files, the toolchain, the BLAS flags and the build variant's
    /// defines (128 bits of SHA-256).
    static func key(files: [RuntimeFile], toolchain: Toolchain, blas: BlasFlags, defines: [String]) -> String {
        var hasher = SHA256()
        hasher.update(field: toolchain.key)
        // Without defines the key is the one every earlier dlc used, so caches stay warm.
        if !defines.isEmpty { for d in ["-D"] + defines { hasher.update(field: d) } }
        for flag in blas.compile + ["--"] + blas.link { hasher.update(field: flag) }
        for file in files {
            hasher.update(field: file.name)
            hasher.update(field: file.contents)
        }
        return String(hasher.hexDigest().prefix(32))
    }
}

/// Errors collected from parallel compiles (first one wins, in file-name order of arrival).
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [TrainerBuildError] = []

    func add(_ error: TrainerBuildError) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }

    var first: TrainerBuildError? {
        lock.lock()
        defer { lock.unlock() }
        return errors.first
    }
}
