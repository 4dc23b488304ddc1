import DLCIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An optimizer and its state, updating params with exactly torch.optim's formulas (the
/// single-tensor code paths, `maximize=False`, `amsgrad=False`, `dampening=0`, `lr_decay=0`,
/// `initial_accumulator_value=0`), elementwise in double.
///
/// With `w` a param, `g` its gradient, `t` the update count (from 1) and `lr` the scheduled
/// learning rate:
/// - sgd: `g += wd·w`; with momentum μ: `b = g` on the first update, else `b = μ·b + g`; then
///   `g = g + μ·b` (nesterov) or `g = b`; `w -= lr·g`.
/// - adam: `g += wd·w`; `m = β1·m + (1-β1)·g` (as `lerp(m, g, 1-β1)`); `v = β2·v + (1-β2)·g²`;
///   `w -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)`.
/// - adamw: `w *= 1 - lr·wd` first, then adam without weight decay in the gradient.
/// - adagrad: `g += wd·w`; `s += g²`; `w -= lr · g / (sqrt(s) + eps)`.
public struct OptimizerState: Sendable {
    public let optimizer: Optimizer
    /// Updates made so far (PyTorch's `step`).
    public private(set) var step = 0
    /// Per param: sgd's momentum buffer, or adam's and adamw's `exp_avg`; absent until first used.
    public private(set) var firstMoment: [String: [Double]] = [:]
    /// Per param: adam's and adamw's `exp_avg_sq`, or adagrad's `sum`; absent until first used.
    public private(set) var secondMoment: [String: [Double]] = [:]

    public init(optimizer: Optimizer) { self.optimizer = optimizer }

    /// One update of every param that has a gradient, at learning rate `lr`.
    public mutating func update(params: inout [String: Tensor], gradients: [String: Tensor], lr: Double) {
        step += 1
        for name in gradients.keys.sorted() {
            guard var w = params[name]?.scalars, let g = gradients[name]?.scalars else { continue }
            precondition(w.count == g.count, "the gradient of '\(name)' does not match the param")
            switch optimizer.kind {
            case .sgd: sgd(name, &w, g, lr: lr)
            case .adam: adam(name, &w, g, lr: lr, decoupled: false)
            case .adamw: adam(name, &w, g, lr: lr, decoupled: true)
            case .adagrad: adagrad(name, &w, g, lr: lr)
            }
            params[name]!.scalars = w
        }
    }

    private mutating func sgd(_ name: String, _ w: inout [Double], _ grad: [Double], lr: Double) {
        let (wd, mu) = (optimizer.weightDecay, optimizer.momentum)
        var g = grad
        for i in g.indices where wd != 0 { g[i] = g[i] + wd * w[i] }
        if mu != 0 {
            var b: [Double]
            if let old = firstMoment[name] {
                b = old
                for i in b.indices { b[i] = mu * b[i] + g[i] }
            } else {
                b = g
            }
            firstMoment[name] = b
            for i in g.indices { g[i] = optimizer.nesterov ? g[i] + mu * b[i] : b[i] }
        }
        for i in w.indices { w[i] = w[i] - lr * g[i] }
    }

    private mutating func adam(_ name: String, _ w: inout [Double], _ grad: [Double], lr: Double,
                               decoupled: Bool) {
        let (wd, beta1, beta2, eps) = (optimizer.weightDecay, optimizer.beta1, optimizer.beta2, optimizer.eps)
        var g = grad
        if decoupled {
            for i in w.indices { w[i] = w[i] * (1 - lr * wd) }
        } else if wd != 0 {
            for i in g.indices { g[i] = g[i] + wd * w[i] }
        }
        var m = firstMoment[name] ?? Array(repeating: 0, count: w.count)
        var v = secondMoment[name] ?? Array(repeating: 0, count: w.count)
        let t = Double(step)
        let biasCorrection1 = 1 - pow(beta1, t)
        let biasCorrection2 = 1 - pow(beta2, t)
        let stepSize = lr / biasCorrection1
        for i in w.indices {
            m[i] = lerp(m[i], g[i], 1 - beta1)  // exp_avg.lerp_(grad, 1 - beta1)
            v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i]  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            let denom = sqrt(v[i]) / sqrt(biasCorrection2) + eps
            w[i] = w[i] - stepSize * (m[i] / denom)
        }
        firstMoment[name] = m
        secondMoment[name] = v
    }

    /// `torch.lerp(a, b, w)`: `a + w (b - a)`, computed from the nearer end as PyTorch does.
    private func lerp(_ a: Double, _ b: Double, _ w: Double) -> Double {
        w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w)
    }

    private mutating func adagrad(_ name: String, _ w: inout [Double], _ grad: [Double], lr: Double) {
        let (wd, eps) = (optimizer.weightDecay, optimizer.eps)
        var g = grad
        for i in g.indices where wd != 0 { g[i] = g[i] + wd * w[i] }
        var s = secondMoment[name] ?? Array(repeating: 0, count: w.count)
        for i in w.indices {
            s[i] = s[i] + g[i] * g[i]
            w[i] = w[i] - lr * (g[i] / (sqrt(s[i]) + eps))
        }
        secondMoment[name] = s
    }
}

/// The learning rate epoch after epoch, as PyTorch's schedulers compute it when `step()` is
/// called once after each epoch.
/// - step_lr(every, gamma) (`StepLR`): after the e-th step, `lr *= gamma` when e % every == 0.
/// - cosine(T) (`CosineAnnealingLR`, `eta_min = 0`), closed form: `lr_e = base · (1 + cos(π·e/T)) / 2`.
/// - reduce_on_plateau(factor, patience, threshold) (`ReduceLROnPlateau`, mode min, threshold
///   mode rel, cooldown 0, min_lr 0, eps 1e-8): a metric is better when `< best · (1 - threshold)`;
///   after more than `patience` epochs without improvement, `lr *= factor` (if that changes it by
///   more than 1e-8) and the count restarts.
public struct LearningRateSchedule: Sendable {
    public let schedule: Schedule
    public let baseLR: Double
    /// The learning rate of the coming epoch.
    public private(set) var lr: Double
    /// Steps taken (PyTorch's `last_epoch`).
    public private(set) var epoch = 0
    /// reduce_on_plateau: the best metric so far and the epochs since it.
    public private(set) var best = Double.infinity
    public private(set) var badEpochs = 0

    public init(_ schedule: Schedule, baseLR: Double) {
        self.schedule = schedule
        self.baseLR = baseLR
        self.lr = baseLR
    }

    /// Ends an epoch; `metric` is what reduce_on_plateau watches (the validation loss if there is
    /// one, else the training loss) and is ignored by the other schedules.
    public mutating func step(metric: Double) {
        epoch += 1
        switch schedule {
        case .none:
            break
        case .stepLR(let every, let gamma):
            if every > 0, epoch % every == 0 { lr = lr * gamma }
        case .cosine(let tMax):
            let etaMin = 0.0
            lr = etaMin + (baseLR - etaMin) * (1 + cos(Double.pi * Double(epoch) / Double(max(tMax, 1)))) / 2
        case .reduceOnPlateau(let factor, let patience, let threshold):
            if metric < best * (1 - threshold) {
                best = metric
                badEpochs = 0
            } else {
                badEpochs += 1
            }
            if badEpochs > patience {
                let newLR = max(lr * factor, 0)
                if lr - newLR > 1e-8 { lr = newLR }
                badEpochs = 0
            }
        }
    }
}
