/// An expression written back as a user would write it (`reshape(x, [-1, 64])`), for hints
/// that show the dlc spelling of what the user typed. Parentheses appear only where an
/// operand is itself an operation; `--emit ast` prints the fully parenthesised form instead.
public extension Expr {
    var spelling: String {
        switch kind {
        case .number(let v, let isInteger):
            if isInteger, v.rounded() == v, abs(v) < 1e15 { return String(Int(v)) }
            return String(v)
        case .string(let s): return "\"\(s)\""
        case .bool(let b): return b ? "true" : "false"
        case .full: return "full"
        case .name(let n): return n
        case .call(let callee, let args): return "\(callee)(\(Argument.spelling(args)))"
        case .index(let base, let index): return "\(base.operandSpelling)[\(index.spelling)]"
        case .negate(let x): return "-" + x.operandSpelling
        case .binary(let op, let a, let b): return "\(a.operandSpelling) \(op.rawValue) \(b.operandSpelling)"
        case .list(let items): return "[" + items.map(\.spelling).joined(separator: ", ") + "]"
        case .error: return "..."
        }
    }

    /// The spelling, parenthesised when it is a binary operation.
    private var operandSpelling: String {
        if case .binary = kind { return "(\(spelling))" }
        return spelling
    }
}

public extension Argument {
    /// `a, b, axis: 1`
    static func spelling(_ args: [Argument]) -> String {
        args.map { ($0.label.map { $0.value + ": " } ?? "") + $0.value.spelling }.joined(separator: ", ")
    }
}
