/// One file of the generic C runtime (codegen/ in the source tree).
public struct RuntimeFile: Sendable, Equatable {
    /// The base name, e.g. "dlc_train.c" or "dlc_model.h": unique in the runtime, so that a build
    /// writes every file into one directory and each finds the headers it includes there.
    public let name: String
    /// The part of the runtime it belongs to, its folder under codegen/ ("core", "device", ...;
    /// "" for the headers generated code includes, at the top).
    public let folder: String
    /// The file's exact text.
    public let contents: String

    public init(name: String, folder: String = "", contents: String) {
        self.name = name
        self.folder = folder
        self.contents = contents
    }

    /// Its path under codegen/, e.g. "core/dlc_train.c".
    public var path: String { folder.isEmpty ? name : folder + "/" + name }

    /// A C translation unit (compiled to an object), as opposed to a header.
    public var isSource: Bool { name.hasSuffix(".c") }
}

/// The C runtime, embedded in the binary at build time by the EmbedRuntime plugin, so that
/// `dlc` builds trainers with nothing but a C compiler and OpenBLAS beside it.
public enum EmbeddedRuntime {
    /// Every runtime file of codegen/ and its folders, sorted by name (`embeddedRuntimeFiles`
    /// is the plugin's generated file).
    public static let files: [RuntimeFile] = embeddedRuntimeFiles
}
