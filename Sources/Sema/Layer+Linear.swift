import DLCIR
import DLCSyntax
import Foundation

extension LayerKind {
    /// nn.Linear(in_features, out_features, bias=True): weight [out, in] kaiming_uniform
    /// (bound 1/sqrt(in)), bias [out] uniform(±1/sqrt(in)); `fc1(x)` = x @ transpose(fc1.weight)
    /// + fc1.bias, as matmul + add (spec section 5).
    static let linear = LayerKind(
        name: "Linear",
        signature: Builtins.Signature(parameters: ["in_features", "out_features", "bias"], defaults: ["bias": .bool(true)]),
        settings: { a, args in
            guard let inFeatures = a.dimensionValue(args["in_features"]!),
                  let outFeatures = a.dimensionValue(args["out_features"]!),
                  let bias = a.boolArgument(args["bias"]!, "bias") else { return nil }
            return LayerSettings(values: ["in": Double(inFeatures), "out": Double(outFeatures), "bias": bias ? 1 : 0])
        },
        params: { s in
            let bound = 1 / Foundation.sqrt(Double(s.int("in")))
            return [LayerParam(suffix: "weight", type: TensorType(.f32, [.fixed(s.int("out")), .fixed(s.int("in"))]),
                               initializer: .kaimingUniform)]
                + (s.bool("bias") ? [LayerParam(suffix: "bias", type: TensorType(.f32, [.fixed(s.int("out"))]),
                                                initializer: .uniform(low: -bound, high: bound))] : [])
        },
        apply: { a, layer, x, location in
            let inFeatures = layer.settings.int("in")
            let t = a.graph.type(of: x)
            guard t.rank >= 2, t.shape.dims.last == .fixed(inFeatures), t.dtype == .f32 else {
                a.diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects f32[...,\(inFeatures)], got \(t)",
                                    hint: t.rank == 1 ? "give the input a feature axis, e.g. unsqueeze(x, 1)" : nil)
                return .poison
            }
            guard let w = a.layerParam(layer, "weight") else { return .poison }
            var y = a.emit(.matmul(transposeA: false, transposeB: true), [.tensor(x), .tensor(w)], at: location, what: layer.name)
            if layer.settings.bool("bias"), let b = a.layerParam(layer, "bias") {
                y = a.emit(.binary(.add), [y, .tensor(b)], at: location, what: layer.name)
            }
            return y
        },
        describe: { s in "Linear(\(s.int("in")), \(s.int("out"))\(s.bool("bias") ? "" : ", bias: false"))" })
}
