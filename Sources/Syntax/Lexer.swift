import DLCDiagnostics

/// Turns a source file into tokens, reporting bad bytes, numbers and strings as located errors.
///
/// The lexer works on bytes so that invalid UTF-8 is reported where it is. Newlines are
/// statement ends except inside `( )` and `[ ]`, where they are white space (spec section 1).
/// On an error the offending bytes are skipped and lexing goes on, so one run reports every
/// lexical error.
public struct Lexer {
    private let source: SourceFile
    private var bytes: [UInt8] { source.bytes }
    private var pos = 0
    /// Depth of `(` and `[` nesting; newlines inside are white space.
    private var bracketDepth = 0
    public private(set) var diagnostics = DiagnosticBag()

    public init(source: SourceFile) { self.source = source }

    /// Lexes the whole file. The last token is always `.endOfFile`.
    public mutating func tokenize() -> [Token] {
        var tokens: [Token] = []
        while true {
            let t = nextToken()
            // Collapse runs of statement ends: blank lines carry no meaning.
            if case .newline = t.kind, let last = tokens.last, case .newline = last.kind { continue }
            tokens.append(t)
            if case .endOfFile = t.kind { return tokens }
        }
    }

    private func location(_ offset: Int) -> SourceLocation { source.location(ofOffset: offset) }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        pos + ahead < bytes.count ? bytes[pos + ahead] : nil
    }

    private mutating func nextToken() -> Token {
        skipWhitespaceAndComments()
        let start = pos
        guard let c = peek() else { return Token(.endOfFile, location(pos), "") }
        if c == UInt8(ascii: "\n") || c == UInt8(ascii: ";") {
            pos += 1
            return Token(.newline, location(start), c == UInt8(ascii: ";") ? ";" : "\n")
        }
        if isIdentifierStart(c) { return lexIdentifier() }
        if isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(isDigit) == true) { return lexNumber() }
        if c == UInt8(ascii: "\"") { return lexString() }
        if let p = lexPunct() { return p }
        return lexBadCharacter()
    }

    private mutating func skipWhitespaceAndComments() {
        while let c = peek() {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                pos += 1
            } else if c == UInt8(ascii: "\n") && bracketDepth > 0 {
                // A line starting with a statement keyword cannot continue an expression: the
                // bracket was never closed. End the statement here so the error is reported
                // at this line and the next statement still parses.
                if nextLineStartsStatement() {
                    bracketDepth = 0
                    return
                }
                pos += 1
            } else if c == UInt8(ascii: "#") {
                // A comment runs to the end of the line; its bytes must still be valid UTF-8.
                while let d = peek(), d != UInt8(ascii: "\n") {
                    if d >= 0x80 { _ = decodeScalar() } else { pos += 1 }
                }
            } else {
                return
            }
        }
    }

    private static let statementKeywords: Set<String> = [
        "output", "loss", "forward", "train", "param", "layer", "input", "target", "const", "model",
    ]

    /// Whether the line after the newline at `pos` begins with a statement keyword.
    private func nextLineStartsStatement() -> Bool {
        var i = pos + 1
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") { i += 1 }
        var j = i
        while j < bytes.count, isIdentifierChar(bytes[j]) { j += 1 }
        guard j > i, j == bytes.count || !isIdentifierChar(bytes[j]) else { return false }
        let word = String(decoding: bytes[i..<j], as: UTF8.self)
        // Reserved words never appear inside an expression, so this cannot misfire.
        return Lexer.statementKeywords.contains(word)
    }

    private func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }
    private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private func isIdentifierChar(_ c: UInt8) -> Bool { isIdentifierStart(c) || isDigit(c) }

    /// `name` or `name.name...`; reserved words become keywords.
    private mutating func lexIdentifier() -> Token {
        let start = pos
        while let c = peek(), isIdentifierChar(c) { pos += 1 }
        while peek() == UInt8(ascii: "."), let c = peek(1), isIdentifierStart(c) {
            pos += 1
            while let c = peek(), isIdentifierChar(c) { pos += 1 }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if let k = Keyword(rawValue: text) { return Token(.keyword(k), location(start), text) }
        return Token(.identifier(text), location(start), text)
    }

    /// `12`, `0.5`, `2.`, `.5`, `1e-3`. A malformed or out-of-range number is an error.
    private mutating func lexNumber() -> Token {
        let start = pos
        var isInteger = true
        while let c = peek(), isDigit(c) { pos += 1 }
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            while let c = peek(), isDigit(c) { pos += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { pos += 1 }
            let digitsStart = pos
            while let c = peek(), isDigit(c) { pos += 1 }
            if pos == digitsStart {
                consumeTrailingIdentifierChars()
                let text = String(decoding: bytes[start..<pos], as: UTF8.self)
                diagnostics.error(location(start), "malformed number '\(text)': the exponent has no digits")
                return Token(.number(0, isInteger: false), location(start), text)
            }
        }
        if let c = peek(), isIdentifierStart(c) {
            consumeTrailingIdentifierChars()
            let text = String(decoding: bytes[start..<pos], as: UTF8.self)
            diagnostics.error(location(start), "malformed number '\(text)'")
            return Token(.number(0, isInteger: isInteger), location(start), text)
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        let value = Double(text) ?? .infinity
        if !value.isFinite {
            diagnostics.error(location(start), "number '\(text)' is out of range")
            return Token(.number(0, isInteger: isInteger), location(start), text)
        }
        return Token(.number(value, isInteger: isInteger), location(start), text)
    }

    private mutating func consumeTrailingIdentifierChars() {
        while let c = peek(), isIdentifierChar(c) || c == UInt8(ascii: ".") { pos += 1 }
    }

    /// `"..."` on one line, no escapes.
    private mutating func lexString() -> Token {
        let start = pos
        pos += 1
        while let c = peek(), c != UInt8(ascii: "\"") {
            if c == UInt8(ascii: "\n") { break }
            if c >= 0x80 { _ = decodeScalar() } else { pos += 1 }
        }
        guard peek() == UInt8(ascii: "\"") else {
            diagnostics.error(location(start), "unterminated string", hint: "a string ends with '\"' on the same line")
            let text = String(decoding: bytes[(start + 1)..<pos], as: UTF8.self)
            return Token(.string(text), location(start), "\"" + text)
        }
        pos += 1
        let text = String(decoding: bytes[(start + 1)..<(pos - 1)], as: UTF8.self)
        return Token(.string(text), location(start), "\"\(text)\"")
    }

    private mutating func lexPunct() -> Token? {
        let start = pos
        // Longest match first: two-character punctuation before one-character.
        let two = pos + 1 < bytes.count ? String(decoding: bytes[pos...pos + 1], as: UTF8.self) : ""
        let one = String(decoding: bytes[pos...pos], as: UTF8.self)
        let p: Punct
        if let t = Punct(rawValue: two), two.count == 2 { p = t; pos += 2 }
        else if let t = Punct(rawValue: one) { p = t; pos += 1 }
        else { return nil }
        switch p {
        case .lparen, .lbracket: bracketDepth += 1
        case .rparen, .rbracket: bracketDepth = max(0, bracketDepth - 1)
        // A `{` or `}` ends any bracket nesting the parser could not close, so that newlines
        // after a missing `)` still end statements.
        case .lbrace, .rbrace: bracketDepth = 0
        default: break
        }
        return Token(.punct(p), location(start), p.rawValue)
    }

    /// An unexpected byte or character: reported and skipped.
    private mutating func lexBadCharacter() -> Token {
        let start = pos
        if let c = peek(), c < 0x80 {
            pos += 1
            let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte " + hexByte(c)
            diagnostics.error(location(start), "unexpected character \(shown)")
        } else if let scalar = decodeScalar() {
            diagnostics.error(location(start), "unexpected character '\(Character(scalar))'")
        }
        return nextToken()
    }

    /// Decodes one UTF-8 scalar at `pos` and advances past it; an invalid sequence is reported
    /// at its first byte, which is skipped.
    private mutating func decodeScalar() -> Unicode.Scalar? {
        let start = pos
        let lead = bytes[pos]
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: length = 0
        }
        if length > 0, pos + length <= bytes.count,
           let s = String(validating: bytes[pos..<pos + length], as: UTF8.self)?.unicodeScalars.first {
            pos += length
            return s
        }
        pos += 1
        diagnostics.error(location(start), "invalid UTF-8 byte " + hexByte(lead),
                          hint: "the source must be UTF-8")
        return nil
    }
}

/// `0xFF` style spelling of a byte, for messages.
func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
}
