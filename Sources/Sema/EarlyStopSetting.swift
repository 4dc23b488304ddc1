import DLCDiagnostics
import DLCIR
import DLCSyntax

/// `early_stop patience: 10, min_delta: 0` in the train block (spec section 11): patience an
/// integer of at least 1, min_delta (optional, default 0) a number of at least 0.
extension Analyzer {
    mutating func earlyStopSetting(_ s: Setting) -> EarlyStop? {
        let loc = s.name.location
        guard let bound = bindArguments(s.arguments, names: ["patience", "min_delta"],
                                        defaults: ["min_delta": Expr(.number(0, isInteger: true), loc)],
                                        callee: "early_stop", at: loc) else { return nil }
        guard let patience = integerArgument(bound["patience"]!, "patience"),
              let minDelta = numberArgument(bound["min_delta"]!, "min_delta") else { return nil }
        guard patience >= 1 else {
            diagnostics.error(bound["patience"]!.location, "early_stop's patience must be at least 1, got \(patience)",
                              hint: "leave early_stop out to train every epoch")
            return nil
        }
        guard minDelta >= 0, minDelta.isFinite else {
            diagnostics.error(bound["min_delta"]!.location, "early_stop's min_delta must be a number of at least 0, got \(formatNumber(minDelta))")
            return nil
        }
        return EarlyStop(patience: patience, minDelta: minDelta)
    }
}
