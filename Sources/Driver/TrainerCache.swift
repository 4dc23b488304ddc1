import DLCBackendKit
import Foundation

extension TrainerBuilder {
    /// The trainer for `source`, built once and then reused: `dlc train` calls this so that
    /// running a model again costs no compile. The key is a digest of what the backend states:
    /// its name, the build options, each generated file with its tool and flags, and the runtime
    /// build; and of the runtime's files (the toolchain's identity is part of the runtime
    /// objects' key, checked by `build`).
    public func cachedBuild(_ source: TrainerSource) throws -> (path: String, built: Bool) {
        let runtime = source.backend.runtime(source.options)
        let tools = try findTools(source.backend.tools(source.options) + [runtime.compiler])
        let files = try generate(source, tools: tools)
        var digest = SHA256()
        digest.update(field: source.backend.name)
        for word in source.options.key + runtime.key { digest.update(field: word) }
        for file in files {
            for field in [file.name, file.contents, file.compile.tool.variable] + file.compile.flags {
                digest.update(field: field)
            }
            digest.update(field: file.compile.includesRuntime ? "runtime headers" : "")
        }
        for f in runtimeFiles {
            digest.update(field: f.name)
            digest.update(field: f.contents)
        }
        let folder = try cache.directory("trainers/" + digest.hexDigest())
        let path = (folder as NSString).appendingPathComponent(source.name)
        if FileManager.default.isExecutableFile(atPath: path) { return (path, false) }
        try checkWritable(path)
        _ = try build(files: files, runtime: runtime, tools: tools, modelName: source.name, output: path)
        return (path, true)
    }
}
