/// One file of the generic C runtime (codegen/ in the source tree).
public struct RuntimeFile: Sendable, Equatable {
    /// The base name, e.g. "dlc_train.c" or "dlc_model.h".
    public let name: String
    /// The file's exact text.
    public let contents: String

    public init(name: String, contents: String) {
        self.name = name
        self.contents = contents
    }

    /// A C translation unit (compiled to an object), as opposed to a header.
    public var isSource: Bool { name.hasSuffix(".c") }
}

/// The C runtime, embedded in the binary at build time by the EmbedRuntime plugin, so that
/// `dlc` builds trainers with nothing but a C compiler and OpenBLAS beside it.
public enum EmbeddedRuntime {
    /// Every codegen/*.c and codegen/*.h, sorted by name (`embeddedRuntimeFiles` is the
    /// plugin's generated file).
    public static let files: [RuntimeFile] = embeddedRuntimeFiles
}
