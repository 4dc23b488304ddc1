import DLCDiagnostics

/// The kinds of token of the .dl language (spec section 1).
public enum TokenKind: Hashable, Sendable {
    /// A name, possibly dotted (`fc1.weight`): the lexer joins `a.b` into one token.
    case identifier(String)
    /// A reserved word: `model const input target param layer forward train output loss true false full`.
    case keyword(Keyword)
    /// A number; `isInteger` is false when it was written with `.` or an exponent.
    case number(Double, isInteger: Bool)
    case string(String)
    case punct(Punct)
    /// A statement end: a newline outside `( )` and `[ ]`, or `;`.
    case newline
    case endOfFile
}

public enum Keyword: String, CaseIterable, Sendable {
    case model, const, input, target, param, layer, forward, train, output, loss, `true`, `false`, full
}

public enum Punct: String, CaseIterable, Sendable {
    case lbrace = "{", rbrace = "}", lparen = "(", rparen = ")", lbracket = "[", rbracket = "]"
    case comma = ",", colon = ":", assign = "="
    case plus = "+", minus = "-", star = "*", slash = "/", slashSlash = "//", percent = "%"
    case starStar = "**", at = "@"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
}

public struct Token: Hashable, Sendable {
    public let kind: TokenKind
    public let location: SourceLocation
    /// The source text of the token, for messages.
    public let text: String

    public init(_ kind: TokenKind, _ location: SourceLocation, _ text: String) {
        self.kind = kind
        self.location = location
        self.text = text
    }

    /// How the token is named in "expected X, found Y" messages.
    public var displayName: String {
        switch kind {
        case .newline: return text == ";" ? "';'" : "end of line"
        case .endOfFile: return "end of file"
        case .string: return "string"
        default: return "'\(text)'"
        }
    }
}
