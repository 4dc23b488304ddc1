import DLCDiagnostics
/// Spelling rules of the IR text form that the printer and the parser share, kept in one place
/// so that the two cannot drift apart. See docs/ir.md.
enum IRText {
    /// A name is printed bare when it is `[A-Za-z_][A-Za-z0-9_.]*` and not all digits (so `%3`
    /// always means "the node at index 3"); any other name is printed as a quoted string.
    static func isBareName(_ s: String) -> Bool {
        guard let first = s.utf8.first, isNameStart(first) else { return false }
        return s.utf8.allSatisfy(isNameByte)
    }

    static func isNameStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_")
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    static func isNameByte(_ b: UInt8) -> Bool {
        isNameStart(b) || isDigit(b) || b == UInt8(ascii: ".")
    }

    /// Bytes of an atom: a bare name, a keyword or a number (`-1e-08`, `inf`).
    static func isAtomByte(_ b: UInt8) -> Bool {
        isNameByte(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
    }

    /// A name as printed: bare when possible, else quoted.
    static func name(_ s: String) -> String { isBareName(s) ? s : quoted(s) }

    /// A double-quoted string. `"` and `\` are escaped, as are control characters (so that a
    /// string never spans lines); everything else, non-ASCII included, is written as is.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Swift's shortest round-trip spelling (`0.01`, `1e-08`, `2.0`, `-inf`), which `Double(_:)`
    /// reads back to the same bits.
    static func number(_ d: Double) -> String { d.description }

    /// A reference to a value: `%NAME` when its node has a name, else `%INDEX`. Never fails, so
    /// that a broken graph can still be dumped for debugging.
    static func value(_ v: ValueID, in g: Graph) -> String {
        guard v.index >= 0, v.index < g.nodes.count, let n = g.nodes[v.index].name else {
            return "%\(v.index)"
        }
        return "%" + name(n)
    }

    static func type(_ t: TensorType) -> String { t.description }
}

extension IRText {
    /// Every op mnemonic the parser knows, for "did you mean" hints.
    static let mnemonics: [String] = ["input", "param", "state", "constant"] + IRTextParser.opReaders.keys.sorted()

    /// The candidate closest to `word`, if it is close enough to be a typo.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        Suggestions.closest(to: word, in: candidates)
    }
}
