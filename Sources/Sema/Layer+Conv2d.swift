import DLCIR
import DLCSyntax
import Foundation

extension LayerKind {
    /// nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True): weight
    /// [out, in, k, k] kaiming_uniform (bound 1/sqrt(fan_in), fan_in = in·k·k), bias [out]
    /// uniform(±1/sqrt(fan_in)); `c1(x)` is one `conv2d` node (spec section 9).
    static let conv2d = LayerKind(
        name: "Conv2d",
        signature: Builtins.Signature(parameters: ["in_channels", "out_channels", "kernel_size", "stride", "padding", "bias"],
                                      defaults: ["stride": .number(1, isInteger: true), "padding": .number(0, isInteger: true),
                                                 "bias": .bool(true)]),
        settings: { a, args in
            let i = a.dimensionValue(args["in_channels"]!), o = a.dimensionValue(args["out_channels"]!)
            let k = a.dimensionValue(args["kernel_size"]!)
            let s = a.windowSetting(args["stride"]!, "stride", minimum: 1)
            let p = a.windowSetting(args["padding"]!, "padding", minimum: 0)
            let bias = a.boolArgument(args["bias"]!, "bias")
            guard let i, let o, let k, let s, let p, let bias else { return nil }
            return LayerSettings(values: ["in": Double(i), "out": Double(o), "kernel": Double(k), "stride": Double(s),
                                          "padding": Double(p), "bias": bias ? 1 : 0])
        },
        params: { s in
            let (i, o, k) = (s.int("in"), s.int("out"), s.int("kernel"))
            let bound = 1 / Foundation.sqrt(Double(i * k * k))
            return [LayerParam(suffix: "weight", type: TensorType(.f32, [.fixed(o), .fixed(i), .fixed(k), .fixed(k)]),
                               initializer: .kaimingUniform)]
                + (s.bool("bias") ? [LayerParam(suffix: "bias", type: TensorType(.f32, [.fixed(o)]),
                                                initializer: .uniform(low: -bound, high: bound))] : [])
        },
        apply: { a, layer, x, location in
            let inChannels = layer.settings.int("in")
            let t = a.graph.type(of: x)
            guard t.rank == 4, t.shape.dims[1] == .fixed(inChannels), t.dtype == .f32 else {
                a.diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects f32[N,\(inChannels),H,W], got \(t)",
                                    hint: t.rank == 2 ? "give the input its image axes, e.g. reshape(x, [-1, \(inChannels), H, W])" : nil)
                return .poison
            }
            guard let w = a.layerParam(layer, "weight") else { return .poison }
            var operands: [SemaValue] = [.tensor(x), .tensor(w)]
            if layer.settings.bool("bias"), let b = a.layerParam(layer, "bias") { operands.append(.tensor(b)) }
            return a.emit(.conv2d(stride: layer.settings.int("stride"), padding: layer.settings.int("padding"), relu: false),
                          operands, at: location, what: layer.name)
        },
        describe: { s in
            "Conv2d(\(s.int("in")), \(s.int("out")), \(s.int("kernel"))"
                + (s.int("stride") == 1 ? "" : ", stride: \(s.int("stride"))")
                + (s.int("padding") == 0 ? "" : ", padding: \(s.int("padding"))")
                + (s.bool("bias") ? "" : ", bias: false") + ")"
        })
}
