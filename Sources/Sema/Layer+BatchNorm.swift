import DLCIR
import DLCSyntax

extension LayerKind {
    /// nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1): over [N, C] or [N, C, L].
    static let batchNorm1d = batchNorm(imageAxes: 1)
    /// nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1): over [N, C, H, W].
    static let batchNorm2d = batchNorm(imageAxes: 2)

    /// Params `weight` (ones) and `bias` (zeros); state `running_mean` (zeros), `running_var`
    /// (ones) and `num_batches_tracked` (0); what a call computes is in BatchNorm.swift.
    static func batchNorm(imageAxes: Int) -> LayerKind {
        let name = "BatchNorm\(imageAxes)d"
        return LayerKind(
            name: name,
            signature: Builtins.Signature(parameters: ["num_features", "eps", "momentum"],
                                          defaults: ["eps": .number(1e-5, isInteger: false), "momentum": .number(0.1, isInteger: false)]),
            settings: { a, args in
                let c = a.dimensionValue(args["num_features"]!)
                let eps = a.numberArgument(args["eps"]!, "eps"), momentum = a.numberArgument(args["momentum"]!, "momentum")
                guard let c, let eps, let momentum else { return nil }
                guard eps > 0, eps.isFinite else {
                    a.diagnostics.error(args["eps"]!.location, "'eps' must be a positive number, got \(formatNumber(eps))")
                    return nil
                }
                guard momentum >= 0, momentum <= 1 else {
                    a.diagnostics.error(args["momentum"]!.location, "'momentum' must be in [0, 1], got \(formatNumber(momentum))")
                    return nil
                }
                return LayerSettings(values: ["features": Double(c), "eps": eps, "momentum": momentum])
            },
            params: { s in
                let c = TensorType(.f32, [.fixed(s.int("features"))])
                return [LayerParam(suffix: "weight", type: c, initializer: .ones), LayerParam(suffix: "bias", type: c, initializer: .zeros)]
            },
            state: { s in
                let c = TensorType(.f32, [.fixed(s.int("features"))])
                return [LayerParam(suffix: "running_mean", type: c, initializer: .zeros),
                        LayerParam(suffix: "running_var", type: c, initializer: .ones),
                        LayerParam(suffix: "num_batches_tracked", type: TensorType(.i32), initializer: .zeros)]
            },
            apply: { a, layer, x, location in
                let c = layer.settings.int("features")
                let t = a.graph.type(of: x)
                let ranks = imageAxes == 1 ? [2, 3] : [4]
                guard ranks.contains(t.rank), t.shape.dims[1] == .fixed(c), t.dtype == .f32,
                      !t.shape.dims.dropFirst().contains(.batch) else {
                    let wanted = imageAxes == 1 ? "f32[N,\(c)] or f32[N,\(c),L]" : "f32[N,\(c),H,W]"
                    a.diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects \(wanted), got \(t)")
                    return .poison
                }
                return a.batchNorm(layer, x, eps: layer.settings.double("eps"), momentum: layer.settings.double("momentum"),
                                   at: location)
            },
            describe: { s in "\(name)(\(s.int("features")))" })
    }
}
