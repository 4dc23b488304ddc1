import DLCDiagnostics
import DLCIR
import DLCSyntax

/// `layer NAME = KIND(args)`: sugar that declares params (and state) with PyTorch's names,
/// shapes and initialisation, and that is applied by calling it (`fc1(x)`). What each kind takes,
/// declares and computes is a row of `LayerKind.all`; this file is the mechanism.
struct LayerKind {
    /// The name a model writes (`Linear`).
    let name: String
    /// Its arguments in positional order (then usable by name), with their defaults.
    let signature: Builtins.Signature
    /// Reads the bound arguments into settings; nil after reporting a bad one.
    let settings: (inout Analyzer, [String: Expr]) -> LayerSettings?
    /// The params a layer with these settings declares, each as `NAME.suffix`.
    let params: (LayerSettings) -> [LayerParam]
    /// The state it declares after them (batch normalization's running statistics), each as
    /// `NAME.suffix`: carried between training steps, never trained.
    var state: (LayerSettings) -> [LayerParam] = { _ in [] }
    /// Calling the layer on a tensor: the graph it computes, or poison after reporting an
    /// input it cannot take.
    let apply: (inout Analyzer, Layer, ValueID, SourceLocation) -> SemaValue
    /// How a layer reads in messages (`Linear(4, 3)`).
    let describe: (LayerSettings) -> String

    /// Every kind of layer, by name.
    static let all: [LayerKind] = [.linear, .conv2d, .batchNorm1d, .batchNorm2d]

    static func named(_ name: String) -> LayerKind? { all.first { $0.name == name } }
}

/// A layer's settings, as its arguments gave them (numbers; flags are 0 or 1).
struct LayerSettings {
    var values: [String: Double]

    func int(_ name: String) -> Int { Int(values[name]!) }
    func bool(_ name: String) -> Bool { values[name]! != 0 }
    func double(_ name: String) -> Double { values[name]! }
}

/// A param (or state) a layer declares: `NAME.suffix`, its type and its initialisation.
struct LayerParam {
    var suffix: String
    var type: TensorType
    var initializer: Initializer
}

/// A declared layer.
struct Layer {
    var name: String
    var kind: LayerKind
    var settings: LayerSettings
    var location: SourceLocation

    var description: String { kind.describe(settings) }
}

extension Analyzer {
    mutating func declareLayer(_ name: Located<String>, kind: Located<String>, _ args: [Argument]) {
        guard let layerKind = LayerKind.named(kind.value) else {
            let kinds = LayerKind.all.map(\.name)
            diagnostics.error(kind.location, "unknown layer '\(kind.value)'",
                              hint: PyTorchHints.layerKind(kind.value, args) ?? Suggestions.hint(for: kind.value, in: kinds)
                                  ?? "layers: " + kinds.joined(separator: ", "))
            _ = declare(name, .value(.poison))
            return
        }
        let defaults = layerKind.signature.defaults.mapValues { Expr($0, kind.location) }
        guard let bound = bindArguments(args, names: layerKind.signature.parameters, defaults: defaults,
                                        callee: layerKind.name, at: kind.location),
              let settings = layerKind.settings(&self, bound) else {
            _ = declare(name, .value(.poison))
            return
        }
        guard declare(name, .layer(name.value)) else { return }
        layers[name.value] = Layer(name: name.value, kind: layerKind, settings: settings, location: name.location)
        for p in layerKind.params(settings) {
            addParam(Located(name.value + "." + p.suffix, name.location), p.type, p.initializer)
        }
        for st in layerKind.state(settings) {
            addState(Located(name.value + "." + st.suffix, name.location), st.type, st.initializer)
        }
    }

    /// `fc1(x)`: one tensor input, then what the layer's kind computes.
    mutating func applyLayer(_ layer: Layer, _ args: [Argument], at location: SourceLocation) -> SemaValue {
        guard args.count == 1, args[0].label == nil else {
            diagnostics.error(location, "layer '\(layer.name)' takes one input, got \(args.count)")
            return .poison
        }
        let x = evaluate(args[0].value)
        guard case .tensor(let xv) = x else {
            if case .literal = x { diagnostics.error(args[0].value.location, "layer '\(layer.name)' needs a tensor input") }
            return .poison
        }
        return layer.kind.apply(&self, layer, xv, location)
    }

    /// A stride or padding: an integer of at least `minimum`, reported at the argument.
    mutating func windowSetting(_ e: Expr, _ what: String, minimum: Int) -> Int? {
        guard let v = integerArgument(e, what) else { return nil }
        guard v >= minimum else {
            diagnostics.error(e.location, "'\(what)' must be at least \(minimum), got \(v)")
            return nil
        }
        return v
    }

    /// The param `layer.suffix` a layer declared (nil if its declaration failed).
    func layerParam(_ layer: Layer, _ suffix: String) -> ValueID? {
        guard case .tensor(let v) = symbols[layer.name + "." + suffix].flatMap(symbolValue) else { return nil }
        return v
    }

    func symbolValue(_ s: Symbol) -> SemaValue? {
        if case .value(let v) = s { return v }
        return nil
    }
}
