import DLCIR

/// The fused ops of the optimisation passes, defined by composing the kernels of the ops they
/// replace, so that the oracle's meaning of a fused node is the unfused graph's by construction.
extension Kernels {
    static func linear(_ x: [Tensor], relu: Bool) throws -> Tensor {
        var y = matmul(x[0], x[1], transposeA: false, transposeB: true)
        if x.count == 3 { y = try binary(.add, y, x[2], dtype: .f32) }
        return relu ? try unary(.relu, y, dtype: .f32) : y
    }

    static func reluGrad(_ g: Tensor, _ y: Tensor) -> Tensor {
        Tensor(shape: g.shape, scalars: zip(g.scalars, y.scalars).map { $1 > 0 ? $0 : 0 })
    }

    static func softmaxCrossEntropy(_ z: Tensor, _ y: Tensor) throws -> Tensor {
        try loss(.nll, logSoftmax(z, axis: 1), y)
    }

    static func softmaxCrossEntropyGrad(_ z: Tensor, _ y: Tensor, _ g: Tensor) throws -> Tensor {
        let p = softmax(z, axis: 1)
        let onehot = try oneHot(y, classes: z.shape[1])
        let scale = g.scalars[0] / Double(z.shape[0])
        return Tensor(shape: z.shape, scalars: zip(p.scalars, onehot.scalars).map { ($0 - $1) * scale })
    }
}
