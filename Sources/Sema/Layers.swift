import DLCDiagnostics
import DLCIR
import DLCSyntax
import Foundation

/// `layer NAME = KIND(args)`: sugar that declares params (and state) with PyTorch's names,
/// shapes and initialisation, and that is applied by calling it (`fc1(x)`).
struct Layer {
    enum Kind {
        /// nn.Linear(in, out, bias)
        case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
        /// nn.Conv2d(in, out, kernel, stride, padding, bias)
        case conv2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, bias: Bool)
        /// nn.BatchNorm1d (`imageAxes` 1: [N, C] or [N, C, L]) and nn.BatchNorm2d (2: [N, C, H, W]).
        case batchNorm(imageAxes: Int, features: Int, eps: Double, momentum: Double)
    }
    var name: String
    var kind: Kind
    var location: SourceLocation

    /// Layer kinds, for messages.
    static let kinds = ["Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d"]

    var description: String {
        switch kind {
        case .linear(let i, let o, let bias): return "Linear(\(i), \(o)\(bias ? "" : ", bias: false"))"
        case .conv2d(let i, let o, let k, let s, let p, let bias):
            return "Conv2d(\(i), \(o), \(k)\(s == 1 ? "" : ", stride: \(s)")\(p == 0 ? "" : ", padding: \(p)")"
                + "\(bias ? "" : ", bias: false"))"
        case .batchNorm(let axes, let c, _, _): return "BatchNorm\(axes)d(\(c))"
        }
    }
}

extension Analyzer {
    mutating func declareLayer(_ name: Located<String>, kind: Located<String>, _ args: [Argument]) {
        let layerKind: Layer.Kind?
        switch kind.value {
        case "Linear": layerKind = linearArguments(kind, args)
        case "Conv2d": layerKind = conv2dArguments(kind, args)
        case "BatchNorm1d", "BatchNorm2d": layerKind = batchNormArguments(kind, args)
        default:
            diagnostics.error(kind.location, "unknown layer '\(kind.value)'",
                              hint: Suggestions.hint(for: kind.value, in: Layer.kinds) ?? "layers: " + Layer.kinds.joined(separator: ", "))
            layerKind = nil
        }
        guard let layerKind else {
            _ = declare(name, .value(.poison))
            return
        }
        guard declare(name, .layer(name.value)) else { return }
        layers[name.value] = Layer(name: name.value, kind: layerKind, location: name.location)
        func at(_ suffix: String) -> Located<String> { Located(name.value + "." + suffix, name.location) }
        switch layerKind {
        case .linear(let inFeatures, let outFeatures, let bias):
            // PyTorch's nn.Linear: weight [out, in] kaiming_uniform (bound 1/sqrt(in)), bias [out]
            // uniform(±1/sqrt(in)).
            let bound = 1 / Foundation.sqrt(Double(inFeatures))
            addParam(at("weight"), TensorType(.f32, [.fixed(outFeatures), .fixed(inFeatures)]), .kaimingUniform)
            if bias { addParam(at("bias"), TensorType(.f32, [.fixed(outFeatures)]), .uniform(low: -bound, high: bound)) }
        case .conv2d(let i, let o, let k, _, _, let bias):
            // PyTorch's nn.Conv2d: weight [out, in, k, k] kaiming_uniform (bound 1/sqrt(fan_in),
            // fan_in = in·k·k), bias [out] uniform(±1/sqrt(fan_in)).
            let bound = 1 / Foundation.sqrt(Double(i * k * k))
            addParam(at("weight"), TensorType(.f32, [.fixed(o), .fixed(i), .fixed(k), .fixed(k)]), .kaimingUniform)
            if bias { addParam(at("bias"), TensorType(.f32, [.fixed(o)]), .uniform(low: -bound, high: bound)) }
        case .batchNorm(_, let c, _, _):
            // PyTorch's BatchNorm: weight ones, bias zeros; running statistics as state.
            addParam(at("weight"), TensorType(.f32, [.fixed(c)]), .ones)
            addParam(at("bias"), TensorType(.f32, [.fixed(c)]), .zeros)
            addState(at("running_mean"), TensorType(.f32, [.fixed(c)]), .zeros)
            addState(at("running_var"), TensorType(.f32, [.fixed(c)]), .ones)
            addState(at("num_batches_tracked"), TensorType(.i32), .zeros)
        }
    }

    private mutating func linearArguments(_ kind: Located<String>, _ args: [Argument]) -> Layer.Kind? {
        let truth = Expr(.bool(true), kind.location)
        guard let bound = bindArguments(args, names: ["in_features", "out_features", "bias"],
                                        defaults: ["bias": truth], callee: "Linear", at: kind.location),
              let inFeatures = dimensionValue(bound["in_features"]!), let outFeatures = dimensionValue(bound["out_features"]!),
              let bias = boolArgument(bound["bias"]!, "bias") else { return nil }
        return .linear(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias)
    }

    private mutating func conv2dArguments(_ kind: Located<String>, _ args: [Argument]) -> Layer.Kind? {
        let l = kind.location
        guard let bound = bindArguments(args, names: ["in_channels", "out_channels", "kernel_size", "stride", "padding", "bias"],
                                        defaults: ["stride": Expr(.number(1, isInteger: true), l), "padding": Expr(.number(0, isInteger: true), l),
                                                   "bias": Expr(.bool(true), l)],
                                        callee: "Conv2d", at: l) else { return nil }
        let i = dimensionValue(bound["in_channels"]!), o = dimensionValue(bound["out_channels"]!)
        let k = dimensionValue(bound["kernel_size"]!)
        let s = windowSetting(bound["stride"]!, "stride", minimum: 1)
        let p = windowSetting(bound["padding"]!, "padding", minimum: 0)
        let bias = boolArgument(bound["bias"]!, "bias")
        guard let i, let o, let k, let s, let p, let bias else { return nil }
        return .conv2d(inChannels: i, outChannels: o, kernel: k, stride: s, padding: p, bias: bias)
    }

    private mutating func batchNormArguments(_ kind: Located<String>, _ args: [Argument]) -> Layer.Kind? {
        let l = kind.location
        guard let bound = bindArguments(args, names: ["num_features", "eps", "momentum"],
                                        defaults: ["eps": Expr(.number(1e-5, isInteger: false), l),
                                                   "momentum": Expr(.number(0.1, isInteger: false), l)],
                                        callee: kind.value, at: l) else { return nil }
        let c = dimensionValue(bound["num_features"]!)
        let eps = numberArgument(bound["eps"]!, "eps"), momentum = numberArgument(bound["momentum"]!, "momentum")
        guard let c, let eps, let momentum else { return nil }
        guard eps > 0, eps.isFinite else {
            diagnostics.error(bound["eps"]!.location, "'eps' must be a positive number, got \(formatNumber(eps))")
            return nil
        }
        guard momentum >= 0, momentum <= 1 else {
            diagnostics.error(bound["momentum"]!.location, "'momentum' must be in [0, 1], got \(formatNumber(momentum))")
            return nil
        }
        return .batchNorm(imageAxes: kind.value == "BatchNorm1d" ? 1 : 2, features: c, eps: eps, momentum: momentum)
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

    /// Applies a layer to its one input, reporting a shape error at the call.
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
        let t = graph.type(of: xv)
        func param(_ suffix: String) -> SemaValue? {
            symbols[layer.name + "." + suffix].flatMap(symbolValue)
        }
        switch layer.kind {
        case .linear(let inFeatures, _, _):
            // `fc1(x)` = x @ transpose(fc1.weight) + fc1.bias, as matmul + add (spec section 5).
            guard t.rank >= 2, t.shape.dims.last == .fixed(inFeatures), t.dtype == .f32 else {
                diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects f32[..., \(inFeatures)], got \(t)",
                                  hint: t.rank == 1 ? "give the input a feature axis, e.g. unsqueeze(x, 1)" : nil)
                return .poison
            }
            guard let w = param("weight") else { return .poison }
            var y = emit(.matmul(transposeA: false, transposeB: true), [x, w], at: location, what: layer.name)
            if let b = param("bias") { y = emit(.binary(.add), [y, b], at: location, what: layer.name) }
            return y
        case .conv2d(let inChannels, _, _, let stride, let padding, _):
            guard t.rank == 4, t.shape.dims[1] == .fixed(inChannels), t.dtype == .f32 else {
                diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects f32[N, \(inChannels), H, W], got \(t)",
                                  hint: t.rank == 2 ? "give the input its image axes, e.g. reshape(x, [-1, \(inChannels), H, W])" : nil)
                return .poison
            }
            guard let w = param("weight") else { return .poison }
            let operands = [x, w] + (param("bias").map { [$0] } ?? [])
            return emit(.conv2d(stride: stride, padding: padding, relu: false), operands, at: location, what: layer.name)
        case .batchNorm(let imageAxes, let c, let eps, let momentum):
            let ranks = imageAxes == 1 ? [2, 3] : [4]
            guard ranks.contains(t.rank), t.shape.dims[1] == .fixed(c), t.dtype == .f32,
                  !t.shape.dims.dropFirst().contains(.batch) else {
                let wanted = imageAxes == 1 ? "f32[N, \(c)] or f32[N, \(c), L]" : "f32[N, \(c), H, W]"
                diagnostics.error(location, "layer '\(layer.name)' (\(layer.description)) expects \(wanted), got \(t)")
                return .poison
            }
            return batchNorm(layer, xv, eps: eps, momentum: momentum, at: location)
        }
    }

    func symbolValue(_ s: Symbol) -> SemaValue? {
        if case .value(let v) = s { return v }
        return nil
    }
}
