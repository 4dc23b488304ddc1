/// `dlc compile --emit ast`: the syntax tree as an indented outline, one node a line, with the
/// line:column each node was written at. Expressions print fully parenthesised, which shows
/// how precedence was resolved.
public enum ASTPrinter {
    public static func print(_ m: ModelAST) -> String {
        var out = "model \(m.name)  # \(m.location)\n"
        for d in m.declarations { out += declaration(d) }
        return out
    }

    static func declaration(_ d: Declaration) -> String {
        switch d {
        case .const(let name, let value):
            return "  const \(name.value) = \(expr(value))  # \(name.location)\n"
        case .data(let isTarget, let name, let type):
            return "  \(isTarget ? "target" : "input") \(name.value): \(typeExpr(type))  # \(name.location)\n"
        case .param(let name, let type, let initializer):
            let i = initializer.map { " = " + expr($0) } ?? ""
            return "  param \(name.value): \(typeExpr(type))\(i)  # \(name.location)\n"
        case .layer(let name, let kind, let args):
            return "  layer \(name.value) = \(kind.value)(\(arguments(args)))  # \(name.location)\n"
        case .forward(let loc, let statements):
            var out = "  forward  # \(loc)\n"
            for s in statements {
                switch s {
                case .bind(let name, let value): out += "    \(name.value) = \(expr(value))  # \(name.location)\n"
                case .output(let l, let names): out += "    output \(names.map(\.value).joined(separator: ", "))  # \(l)\n"
                case .loss(let l, let value): out += "    loss \(expr(value))  # \(l)\n"
                }
            }
            return out
        case .invalid(let name):
            return "  <invalid declaration of \(name.value)>  # \(name.location)\n"
        case .train(let loc, let settings):
            var out = "  train  # \(loc)\n"
            for s in settings { out += "    \(s.name.value) \(arguments(s.arguments))  # \(s.name.location)\n" }
            return out
        }
    }

    static func typeExpr(_ t: TypeExpr) -> String {
        t.dtype.value + (t.dims.map { "[" + $0.map(expr).joined(separator: ", ") + "]" } ?? "")
    }

    static func arguments(_ args: [Argument]) -> String {
        args.map { ($0.label.map { $0.value + ": " } ?? "") + expr($0.value) }.joined(separator: ", ")
    }

    static func expr(_ e: Expr) -> String {
        switch e.kind {
        case .number(let v, let isInteger):
            return isInteger && v.rounded() == v && abs(v) < 1e15 ? String(Int(v)) : String(v)
        case .string(let s): return "\"\(s)\""
        case .bool(let b): return b ? "true" : "false"
        case .full: return "full"
        case .name(let n): return n
        case .call(let callee, let args): return "\(callee)(\(arguments(args)))"
        case .index(let base, let index): return "\(expr(base))[\(expr(index))]"
        case .negate(let x): return "(-\(expr(x)))"
        case .binary(let op, let a, let b): return "(\(expr(a)) \(op.rawValue) \(expr(b)))"
        case .list(let items): return "[" + items.map(expr).joined(separator: ", ") + "]"
        case .error: return "<error>"
        }
    }
}
