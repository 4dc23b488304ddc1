/// A reference to a value in the text form: `%7` (by node index) or `%h` / `%"3"` (by name).
enum IRValueRef: Hashable {
    case index(Int)
    case name(String)
}

/// One token of the IR text form, with the byte offset where it starts.
struct IRToken {
    enum Kind: Equatable {
        /// A keyword, bare name or number: a run of `[A-Za-z0-9_.+-]`.
        case atom(String)
        /// A quoted string, escapes decoded.
        case string(String)
        case value(IRValueRef)
        /// One of `{ } [ ] ( ) : , =`.
        case punct(UInt8)
        /// The text after `#`, up to the end of the line.
        case comment(String)
        case newline
        case eof
        /// Text that is not a token; the parser reports `message` where it expected something.
        case invalid(String)
    }

    var kind: Kind
    var offset: Int

    /// How the token reads in a diagnostic ("expected ':', got 'relu'").
    var spelling: String {
        switch kind {
        case .atom(let s): return "'\(s)'"
        case .string(let s): return IRText.quoted(s)
        case .value(.index(let i)): return "'%\(i)'"
        case .value(.name(let n)): return "'%\(IRText.name(n))'"
        case .punct(let c): return "'\(Character(Unicode.Scalar(c)))'"
        case .comment: return "a comment"
        case .newline: return "end of line"
        case .eof: return "end of file"
        case .invalid(let m): return m
        }
    }
}

/// Splits IR text into tokens. Works on bytes, as the model lexer does, so that any input,
/// invalid UTF-8 included, gives tokens and located errors rather than a crash. Lexical errors
/// become `.invalid` tokens, so that the parser reports them once, where they break a statement.
struct IRLexer {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func tokenize(_ bytes: [UInt8]) -> [IRToken] {
        var lexer = IRLexer(bytes: bytes)
        var tokens: [IRToken] = []
        while true {
            let t = lexer.next()
            tokens.append(t)
            if t.kind == .eof { return tokens }
        }
    }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        pos + ahead < bytes.count ? bytes[pos + ahead] : nil
    }

    mutating func next() -> IRToken {
        while let b = peek(), b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") {
            pos += 1
        }
        let start = pos
        guard let b = peek() else { return IRToken(kind: .eof, offset: start) }
        switch b {
        case UInt8(ascii: "\n"):
            pos += 1
            return IRToken(kind: .newline, offset: start)
        case UInt8(ascii: "#"):
            pos += 1
            let textStart = pos
            while let c = peek(), c != UInt8(ascii: "\n") { pos += 1 }
            return IRToken(kind: .comment(String(decoding: bytes[textStart..<pos], as: UTF8.self)), offset: start)
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ":"), UInt8(ascii: ","),
             UInt8(ascii: "="):
            pos += 1
            return IRToken(kind: .punct(b), offset: start)
        case UInt8(ascii: "\""):
            return IRToken(kind: string(), offset: start)
        case UInt8(ascii: "%"):
            pos += 1
            return IRToken(kind: valueRef(), offset: start)
        case _ where IRText.isAtomByte(b):
            return IRToken(kind: .atom(atom()), offset: start)
        default:
            pos += 1
            let shown = b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'"
                : "byte 0x" + String(b, radix: 16, uppercase: true)
            return IRToken(kind: .invalid("unexpected character \(shown)"), offset: start)
        }
    }

    private mutating func atom() -> String {
        let start = pos
        while let c = peek(), IRText.isAtomByte(c) { pos += 1 }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    /// After `%`: digits are an index, a bare name or a string is a name.
    private mutating func valueRef() -> IRToken.Kind {
        guard let c = peek() else { return .invalid("expected a value name or number after '%'") }
        if c == UInt8(ascii: "\"") {
            if case .string(let s) = string() { return .value(.name(s)) }
            return string()
        }
        guard IRText.isAtomByte(c) else { return .invalid("expected a value name or number after '%'") }
        let text = atom()
        if text.utf8.allSatisfy(IRText.isDigit) {
            guard let i = Int(text) else { return .invalid("value number %\(text) is too large") }
            return .value(.index(i))
        }
        guard IRText.isBareName(text) else {
            return .invalid("'%\(text)' is not a value name; names other than [A-Za-z_][A-Za-z0-9_.]* are quoted: %\"...\"")
        }
        return .value(.name(text))
    }

    /// A string on one line, with the escapes `\"`, `\\`, `\n`, `\t`, `\r` and `\u{HEX}`.
    private mutating func string() -> IRToken.Kind {
        pos += 1  // the opening quote
        var out: [UInt8] = []
        while let c = peek() {
            switch c {
            case UInt8(ascii: "\""):
                pos += 1
                // Decoding replaces invalid UTF-8; a changed byte count reveals it.
                let s = String(decoding: out, as: UTF8.self)
                guard Array(s.utf8) == out else { return .invalid("a string holds invalid UTF-8") }
                return .string(s)
            case UInt8(ascii: "\n"):
                return .invalid("unterminated string")
            case UInt8(ascii: "\\"):
                pos += 1
                guard let e = peek() else { return .invalid("unterminated string") }
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
                case UInt8(ascii: "n"): out.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "t"): out.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "r"): out.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return .invalid("bad \\u{...} escape in a string") }
                    out += Array(String(Character(scalar)).utf8)
                default:
                    return .invalid("unknown escape '\\\(Character(Unicode.Scalar(e)))' in a string")
                }
            default:
                pos += 1
                out.append(c)
            }
        }
        return .invalid("unterminated string")
    }

    /// `{HEX}` after `\u`, 1 to 6 hex digits naming a Unicode scalar.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard peek() == UInt8(ascii: "{") else { return nil }
        pos += 1
        let start = pos
        while let c = peek(), c != UInt8(ascii: "}"), c != UInt8(ascii: "\n"), pos - start < 8 { pos += 1 }
        guard peek() == UInt8(ascii: "}") else { return nil }
        let hex = String(decoding: bytes[start..<pos], as: UTF8.self)
        pos += 1
        guard (1...6).contains(hex.count), let v = UInt32(hex, radix: 16) else { return nil }
        return Unicode.Scalar(v)
    }
}
