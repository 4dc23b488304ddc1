import Foundation
import PackagePlugin

/// Embeds the C runtime (codegen/ and its folders, the runtime's parts: `.c`, `.h`, and the CUDA
/// device's `.cu` and `.cpp`; not `tests/` or `fuzz/`) in the target it is applied to, so that a
/// built `dlc` carries its runtime and needs no source tree or resource bundle at run time.
///
/// The runtime lives outside every target's directory, so the plugin lists it itself and hands
/// each file to the build system as an input: editing, adding or removing a runtime file
/// regenerates `EmbeddedRuntimeFiles.swift` (build-tool plugins are re-evaluated on each build,
/// so the input list follows the folders).
@main
struct EmbedRuntime: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let codegen = context.package.directoryURL.appending(path: "codegen")
        let files = try runtimeFiles(in: codegen)
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedRuntimeFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding the C runtime (\(files.count) files from codegen/)",
                executable: try context.tool(named: "EmbedRuntimeTool").url,
                arguments: [output.path, codegen.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]),
        ]
    }

    /// The runtime's files in `codegen` and its folders, but for the test and fuzz harnesses.
    func runtimeFiles(in codegen: URL) throws -> [URL] {
        var files: [URL] = []
        for entry in try FileManager.default.contentsOfDirectory(at: codegen, includingPropertiesForKeys: [.isDirectoryKey]) {
            if (try entry.resourceValues(forKeys: [.isDirectoryKey])).isDirectory == true {
                if !["tests", "fuzz"].contains(entry.lastPathComponent) { files += try runtimeFiles(in: entry) }
            } else if ["c", "h", "cu", "cpp"].contains(entry.pathExtension) {
                files.append(entry)
            }
        }
        return files.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}
