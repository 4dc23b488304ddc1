import DLCIR
import DLCLowering

/// Small pieces of C syntax: the descriptor's, and the C-family printers'.
public enum C {
    /// An affine size as a C expression of `n` (an int64_t), or of another row count.
    public static func size(_ a: Affine) -> String { size(a, rows: "n") }

    public static func size(_ a: Affine, rows n: String) -> String {
        switch (a.perBatch, a.constant) {
        case (0, let c): return String(c)
        case (1, 0): return n
        case (let p, 0): return "(\(p) * \(n))"
        case (1, let c): return "(\(n) + \(c))"
        case (let p, let c): return "(\(p) * \(n) + \(c))"
        }
    }

    /// A count over the global batch (`Operand.globalCount`) as a float, from `rows` (the
    /// step's `global_n`).
    public static func globalCount(_ a: Affine, rows: String) -> String { "(float)(" + size(a, rows: rows) + ")" }

    /// A double literal that C reads back exactly, as float.
    public static func float(_ x: Double) -> String {
        if x.isNaN { return "NAN" }
        if x.isInfinite { return x > 0 ? "INFINITY" : "-INFINITY" }
        var s = "\(x)"
        if !s.contains(".") && !s.contains("e") && !s.contains("n") { s += ".0" }
        return s + "f"
    }

    /// A number as an `int32_t` literal (truncated, wrapped as C converts).
    public static func int(_ x: Double) -> String { String(Int32(truncatingIfNeeded: Int(x))) }

    /// The C element type of a dtype.
    public static func type(_ d: DType) -> String { d == .f32 ? "float" : "int32_t" }

    /// A C string literal (file names in messages).
    public static func string(_ s: String) -> String {
        "\"" + s.flatMap { ch -> [Character] in
            switch ch {
            case "\"": return ["\\", "\""]
            case "\\": return ["\\", "\\"]
            case "\n": return ["\\", "n"]
            default: return ch.isASCII && ch.asciiValue! >= 32 ? [ch] : ["?"]
            }
        } + "\""
    }

    /// A C block comment; `*/` in the text cannot end it early.
    public static func comment(_ s: String) -> String {
        "/* " + s.replacingSlashStar() + " */"
    }
}

extension String {
    /// The text with a space between every `*` and a `/` after it, so it cannot end a C comment.
    public func replacingSlashStar() -> String {
        var out = "", previous: Character = " "
        for ch in self {
            if previous == "*" && ch == "/" { out.append(" ") }
            out.append(ch)
            previous = ch
        }
        return out
    }
}
