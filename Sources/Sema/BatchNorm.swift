import DLCDiagnostics
import DLCIR

/// Batch normalization as graph ops (spec section 9), so that the AD pass differentiates it
/// like any other expression and every backend runs it with the kernels it already has:
///
///     mean_b   = mean(x, axes)                      axes: N and the image axes; one per channel
///     centred  = x − mean_b                          (mean_b reshaped to broadcast over x)
///     var_b    = mean(square(centred), axes)         the biased batch variance
///     y = if_training(centred, x − running_mean) · weight / sqrt(if_training(var_b, running_var) + eps) + bias
///
/// and the state a training step leaves (PyTorch's update, the variance unbiased):
///
///     running_mean ← (1 − m)·running_mean + m·mean_b
///     running_var  ← (1 − m)·running_var + m·var_b·M/(M − 1)     M = count(x, axes)
///     num_batches_tracked ← num_batches_tracked + 1
extension Analyzer {
    mutating func batchNorm(_ layer: Layer, _ x: ValueID, eps: Double, momentum m: Double,
                            at location: SourceLocation) -> SemaValue {
        let t = graph.type(of: x)
        let c = t.shape.dims[1]
        let axes = [0] + Array(2..<t.rank)
        let what = layer.name
        func state(_ suffix: String) -> ValueID? { stateAfterCalls[layer.name + "." + suffix] }
        func param(_ suffix: String) -> SemaValue? { symbols[layer.name + "." + suffix].flatMap(symbolValue) }
        guard let weight = param("weight"), let bias = param("bias"), let runningMean = state("running_mean"),
              let runningVar = state("running_var"), let tracked = state("num_batches_tracked"),
              case .tensor(let runningMean0) = symbols[layer.name + ".running_mean"].flatMap(symbolValue) ?? .poison,
              case .tensor(let runningVar0) = symbols[layer.name + ".running_var"].flatMap(symbolValue) ?? .poison
        else { return .poison }

        func op(_ o: Op, _ operands: [SemaValue], declared: TensorType? = nil) -> SemaValue {
            emit(o, operands, at: location, what: what, declared: declared)
        }
        func number(_ v: Double) -> SemaValue { .literal(ConstValue(value: v, isInteger: false)) }
        /// A per-channel [C] value shaped to broadcast against x: [C, 1] or [C, 1, 1].
        func perChannel(_ v: SemaValue) -> SemaValue {
            guard t.rank > 2 else { return v }
            return op(.reshape, [v], declared: TensorType(.f32, Shape([c] + Array(repeating: .fixed(1), count: t.rank - 2))))
        }
        let xv = SemaValue.tensor(x)
        let batchMean = op(.reduce(.mean, axes: axes, keepdim: false), [xv])
        let centred = op(.binary(.sub), [xv, perChannel(batchMean)])
        let batchVar = op(.reduce(.mean, axes: axes, keepdim: false), [op(.unary(.square), [centred])])
        // Evaluation reads the running statistics as they were before this step's calls.
        let centredUsed = op(.ifTraining, [centred, op(.binary(.sub), [xv, perChannel(.tensor(runningMean0))])])
        let varUsed = op(.ifTraining, [batchVar, .tensor(runningVar0)])
        let scale = op(.binary(.mul), [weight, op(.pow(-0.5), [op(.binary(.add), [varUsed, number(eps)])])])
        let y = op(.binary(.add), [op(.binary(.mul), [centredUsed, perChannel(scale)]), perChannel(bias)])

        // The running statistics after this call.
        let keep = number(1 - m), take = number(m)
        let newMean = op(.binary(.add), [op(.binary(.mul), [.tensor(runningMean), keep]), op(.binary(.mul), [batchMean, take])])
        let count = op(.count(axes: axes), [xv])
        let unbiased = op(.binary(.div), [op(.binary(.mul), [count, take]), op(.binary(.sub), [count, number(1)])])
        let newVar = op(.binary(.add), [op(.binary(.mul), [.tensor(runningVar), keep]), op(.binary(.mul), [batchVar, unbiased])])
        let newTracked = op(.binary(.add), [.tensor(tracked), .literal(ConstValue(value: 1, isInteger: true))])
        for (suffix, value) in [("running_mean", newMean), ("running_var", newVar), ("num_batches_tracked", newTracked)] {
            guard case .tensor(let v) = value else { return .poison }
            stateAfterCalls[layer.name + "." + suffix] = v
        }
        return y
    }
}
