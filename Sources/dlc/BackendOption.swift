import ArgumentParser
import DLCBackendKit
import DLCDriver

/// A `--backend` value: the name of a backend in the registry (`Backends.all`).
struct BackendChoice: ExpressibleByArgument {
    let backend: any TrainerBackend

    init?(argument: String) {
        guard let backend = Backends.named(argument) else { return nil }
        self.backend = backend
    }

    static var allValueStrings: [String] { Backends.all.map(\.name) }

    /// `--backend`'s help: each backend and what it generates.
    static var help: String {
        let each = Backends.all.map { b in "\(b.name) (\(b.summary)\(b.name == Backends.default.name ? "; the default" : ""))" }
        return "The backend that builds the trainer: " + each.joined(separator: ", ") + "."
    }
}

extension EmitStage: ExpressibleByArgument {
    public init?(argument: String) { self.init(named: argument) }
    public static var allValueStrings: [String] { EmitStage.all.map(\.name) }
}
