import Foundation
import PackagePlugin

/// Embeds the C runtime (codegen/*.c and codegen/*.h, and the CUDA device's *.cu and *.cpp) in the target it is applied to, so that a
/// built `dlc` carries its runtime and needs no source tree or resource bundle at run time.
///
/// The runtime lives outside every target's directory, so the plugin lists it itself and hands
/// each file to the build system as an input: editing, adding or removing a runtime file
/// regenerates `EmbeddedRuntimeFiles.swift` (build-tool plugins are re-evaluated on each build,
/// so the input list follows the folder).
@main
struct EmbedRuntime: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let codegen = context.package.directoryURL.appending(path: "codegen")
        let files = try FileManager.default
            .contentsOfDirectory(at: codegen, includingPropertiesForKeys: nil)
            .filter { ["c", "h", "cu", "cpp"].contains($0.pathExtension) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedRuntimeFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding the C runtime (\(files.count) files from codegen/)",
                executable: try context.tool(named: "EmbedRuntimeTool").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]),
        ]
    }
}
