import Foundation

extension TrainerBuilder {
    /// The trainer for `modelSource`, built once and then reused: `dlc train` calls this so that
    /// running a model again costs no compile. The key is a digest of the generated C, the
    /// runtime's files and the compiler flags (the toolchain's identity is part of the runtime
    /// objects' key, checked by `build`).
    public func cachedBuild(modelSource: String, modelName: String) throws -> (path: String, built: Bool) {
        var digest = SHA256()
        digest.update(field: modelSource)
        for f in runtimeFiles {
            digest.update(field: f.name)
            digest.update(field: f.contents)
        }
        for flag in Toolchain.compileFlags { digest.update(field: flag) }
        let folder = try cache.directory("trainers/" + digest.hexDigest())
        let path = (folder as NSString).appendingPathComponent(modelName)
        if FileManager.default.isExecutableFile(atPath: path) { return (path, false) }
        try build(modelSource: modelSource, modelName: modelName, output: path)
        return (path, true)
    }
}
