import DLCDiagnostics
import DLCIR
import DLCSyntax
import Foundation

/// `layer NAME = KIND(args)`: sugar that declares params with PyTorch's names, shapes and
/// initialisation, and that is applied by calling it (`fc1(x)`).
struct Layer {
    enum Kind {
        /// nn.Linear(in, out, bias)
        case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
    }
    var name: String
    var kind: Kind
    var location: SourceLocation

    /// Layer kinds and their arguments, for messages.
    static let kinds = ["Linear"]

    var description: String {
        switch kind {
        case .linear(let i, let o, let bias): return "Linear(\(i), \(o)\(bias ? "" : ", bias: false"))"
        }
    }
}

extension Analyzer {
    mutating func declareLayer(_ name: Located<String>, kind: Located<String>, _ args: [Argument]) {
        guard kind.value == "Linear" else {
            diagnostics.error(kind.location, "unknown layer '\(kind.value)'",
                              hint: PyTorchHints.layerKind(kind.value, args) ?? Suggestions.hint(for: kind.value, in: Layer.kinds)
                                  ?? "layers: " + Layer.kinds.joined(separator: ", "))
            _ = declare(name, .value(.poison))
            return
        }
        let truth = Expr(.bool(true), kind.location)
        guard let bound = bindArguments(args, names: ["in_features", "out_features", "bias"],
                                        defaults: ["bias": truth], callee: "Linear", at: kind.location),
              let inFeatures = featureCount(bound["in_features"]!), let outFeatures = featureCount(bound["out_features"]!),
              let bias = boolArgument(bound["bias"]!, "bias") else {
            _ = declare(name, .value(.poison))
            return
        }
        guard declare(name, .layer(name.value)) else { return }
        layers[name.value] = Layer(name: name.value, kind: .linear(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias),
                                   location: name.location)
        // PyTorch's nn.Linear: weight [out, in] kaiming_uniform (bound 1/sqrt(in)), bias [out]
        // uniform(±1/sqrt(in)).
        let bound1 = 1 / Foundation.sqrt(Double(inFeatures))
        addParam(Located(name.value + ".weight", name.location),
                 TensorType(.f32, [.fixed(outFeatures), .fixed(inFeatures)]), .kaimingUniform)
        if bias {
            addParam(Located(name.value + ".bias", name.location), TensorType(.f32, [.fixed(outFeatures)]),
                     .uniform(low: -bound1, high: bound1))
        }
    }

    private mutating func featureCount(_ e: Expr) -> Int? {
        dimensionValue(e)
    }

    /// `fc1(x)` = x @ transpose(fc1.weight) + fc1.bias, as matmul + add (spec section 5).
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
        switch layer.kind {
        case .linear(let inFeatures, _, let bias):
            let t = graph.type(of: xv)
            guard t.rank >= 2, t.shape.dims.last == .fixed(inFeatures), t.dtype == .f32 else {
                diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects f32[..., \(inFeatures)], got \(t)",
                                  hint: t.rank == 1 ? "give the input a feature axis, e.g. unsqueeze(x, 1)" : nil)
                return .poison
            }
            guard case .tensor(let w) = symbols[layer.name + ".weight"].flatMap(symbolValue) else { return .poison }
            var y = emit(.matmul(transposeA: false, transposeB: true), [.tensor(xv), .tensor(w)], at: location, what: layer.name)
            if bias, case .tensor(let b) = symbols[layer.name + ".bias"].flatMap(symbolValue) {
                y = emit(.binary(.add), [y, .tensor(b)], at: location, what: layer.name)
            }
            return y
        }
    }

    func symbolValue(_ s: Symbol) -> SemaValue? {
        if case .value(let v) = s { return v }
        return nil
    }
}
