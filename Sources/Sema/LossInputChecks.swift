import DLCDiagnostics
import DLCIR
import DLCSyntax

/// Warnings for a loss fed the wrong kind of prediction, a habit carried over from lecture
/// code: `cross_entropy(softmax(z), y)` compiles, trains, and trains badly (the loss applies
/// log_softmax itself, so the softmax is taken twice and the gradients shrink).
extension Analyzer {
    /// Warns at the loss call `loc` when its prediction is a softmax (for `cross_entropy`,
    /// `nll`) or a sigmoid (for `bce_logits`) computed right before it.
    mutating func checkLossInput(_ loss: String, _ prediction: SemaValue, at loc: SourceLocation) {
        guard case .tensor(let id) = prediction else { return }
        let node = graph[id]
        let shown = node.name.map { "'\($0)'" } ?? "its input"
        switch (loss, node.op) {
        case ("cross_entropy", .softmax):
            diagnostics.warning(loc, "cross_entropy is given probabilities: \(shown) is a softmax",
                                hint: "cross_entropy takes logits and applies log_softmax itself, as nn.CrossEntropyLoss "
                                    + "does; pass the values before the softmax")
        case ("nll", .softmax):
            diagnostics.warning(loc, "nll is given probabilities: \(shown) is a softmax",
                                hint: "nll takes log-probabilities: use log_softmax(...) instead of softmax(...), "
                                    + "or cross_entropy on the logits")
        case ("bce_logits", .unary(.sigmoid)):
            diagnostics.warning(loc, "bce_logits is given probabilities: \(shown) is a sigmoid",
                                hint: "bce_logits takes logits and applies the sigmoid itself; pass the values before "
                                    + "the sigmoid, or use bce(p, y) for probabilities")
        default:
            break
        }
    }
}
