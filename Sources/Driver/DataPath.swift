import Foundation

/// Where a model's `data` setting points. The spec makes the path relative to the .dl file, so
/// it is resolved when the model is compiled: the trainer then finds its data from any folder.
public enum DataPath {
    /// `path` (the `data` setting) as an absolute path: unchanged when it is absolute, else
    /// joined to the absolute folder of `modelFile` (itself taken from the current directory
    /// when relative). Leading `./` and `../` of `path` are folded into that folder, whose
    /// links are resolved first so that `..` means what the file system would make of it.
    public static func resolve(_ path: String, modelFile: String) -> String {
        resolve(path, modelFolder: (modelFile as NSString).deletingLastPathComponent)
    }

    /// `path` resolved against `modelFolder`, the folder of the .dl file ("" for the current one).
    public static func resolve(_ path: String, modelFolder: String) -> String {
        if path.hasPrefix("/") { return path }
        var folder = modelFolder
        if !folder.hasPrefix("/") {
            let cwd = FileManager.default.currentDirectoryPath
            folder = folder.isEmpty ? cwd : (cwd as NSString).appendingPathComponent(folder)
        }
        folder = realFolder(folder)
        var rest = Substring(path)
        while true {
            if rest.hasPrefix("./") {
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix("../"), folder != "/" {
                folder = (folder as NSString).deletingLastPathComponent
                rest = rest.dropFirst(3)
            } else {
                break
            }
        }
        return (folder as NSString).appendingPathComponent(String(rest))
    }

    /// The folder with its links and `.`/`..` resolved (`realpath`), or unchanged when it
    /// cannot be resolved (a folder that does not exist).
    private static func realFolder(_ folder: String) -> String {
        guard let resolved = realpath(folder, nil) else { return folder }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
