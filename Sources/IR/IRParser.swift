import DLCDiagnostics

/// Why IR text could not be read: located errors, in the order found.
public struct IRParseError: Error, CustomStringConvertible, Sendable {
    public let diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// One `LINE:COL: error: MESSAGE` line per diagnostic.
    public var description: String {
        diagnostics.map { "\($0.location): error: \($0.message)" }.joined(separator: "\n")
    }
}

/// Reads the IR text form (docs/ir.md) back into a graph: `parseIR(printIR(g)) == g`.
///
/// Malformed text (bad syntax, unknown ops or types, undefined or duplicate values) throws an
/// `IRParseError` with a diagnostic at each offending line:column; the parser never crashes,
/// whatever the bytes. With `verify`, a graph that parses but breaks an invariant of the IR
/// (see `Verifier`) is an error too, reported at the offending line.
public func parseIR(_ source: SourceFile, verify: Bool = true) throws -> Graph {
    var parser = IRTextParser(source: source)
    parser.parseFile()
    if !parser.diagnostics.isEmpty { throw IRParseError(diagnostics: parser.diagnostics) }
    if verify {
        let problems = Verifier.problems(in: parser.graph)
        if !problems.isEmpty {
            throw IRParseError(diagnostics: problems.map {
                Diagnostic(source.location(ofOffset: parser.positions.offset(of: $0.subject)), $0.description)
            })
        }
    }
    return parser.graph
}

/// `parseIR` of text held in memory; diagnostics name the path `<ir>`.
public func parseIR(_ text: String, verify: Bool = true) throws -> Graph {
    try parseIR(SourceFile(path: "<ir>", text: text), verify: verify)
}

/// A located error inside one statement; the statement is abandoned and parsing goes on at the
/// next line, so that one bad line gives one diagnostic.
struct ParseFailure: Error {
    let offset: Int
    let message: String
    var hint: String? = nil
}

/// Where each part of the graph was written, so that verifier problems point at their line.
struct IRPositions {
    var graph = 0
    var data: [Int] = []
    var params: [Int] = []
    var state: [Int] = []
    var nodes: [Int] = []
    var outputs: [Int] = []
    var loss: Int?
    var gradients: [Int] = []
    var stateUpdates: [Int] = []
    var train: Int?

    func offset(of subject: VerifierProblem.Subject) -> Int {
        func at(_ xs: [Int], _ i: Int) -> Int { i >= 0 && i < xs.count ? xs[i] : graph }
        switch subject {
        case .graph: return graph
        case .data(let i): return at(data, i)
        case .param(let i): return at(params, i)
        case .node(let i): return at(nodes, i)
        case .output(let i): return at(outputs, i)
        case .loss: return loss ?? graph
        case .gradient(let i): return at(gradients, i)
        case .state(let i): return at(state, i)
        case .stateUpdate(let i): return at(stateUpdates, i)
        case .train: return train ?? graph
        }
    }
}

/// A recursive-descent parser over the tokens of `IRLexer`, one statement per line.
struct IRTextParser {
    let source: SourceFile
    let tokens: [IRToken]
    var pos = 0
    var diagnostics: [Diagnostic] = []
    var graph = Graph(name: "")
    var positions = IRPositions()
    /// Value names defined so far, to their node index.
    var valueNames: [String: Int] = [:]

    init(source: SourceFile) {
        self.source = source
        self.tokens = IRLexer.tokenize(source.bytes)
    }

    // MARK: - File structure

    mutating func parseFile() {
        skipBlankLines()
        positions.graph = tok.offset
        guard statement({ p in
            try p.keyword("graph")
            p.graph.name = try p.name("a graph name")
            try p.punct("{")
            try p.endOfStatement()
        }) else { return }
        guard block(named: "graph", { p in try p.graphStatement() }) else { return }
        skipBlankLines()
        if tok.kind == .atom("train") {
            positions.train = tok.offset
            guard statement({ p in
                try p.keyword("train")
                try p.punct("{")
                try p.endOfStatement()
            }) else { return }
            var seen = Set<String>()
            guard block(named: "train", { p in try p.trainSetting(&seen) }) else { return }
            skipBlankLines()
        }
        if tok.kind != .eof {
            _ = statement { p in
                throw p.unexpected(p.tok, p.positions.train == nil ? "a train block or the end of the file"
                                                                     : "the end of the file")
            }
        }
    }

    /// Statements up to a `}` line. False when the text ends first.
    private mutating func block(named what: String, _ body: (inout IRTextParser) throws -> Void) -> Bool {
        while true {
            skipBlankLines()
            switch tok.kind {
            case .eof:
                report(ParseFailure(offset: tok.offset, message: "expected '}' to close the \(what) block, got end of file"))
                return false
            case .punct(UInt8(ascii: "}")):
                return statement { p in
                    p.advance()
                    try p.endOfStatement()
                }
            default:
                _ = statement(body)
            }
        }
    }

    /// Runs one statement; on failure records the diagnostic and skips to the next line.
    @discardableResult
    mutating func statement(_ body: (inout IRTextParser) throws -> Void) -> Bool {
        do {
            try body(&self)
            return true
        } catch let f as ParseFailure {
            report(f)
        } catch {
            report(ParseFailure(offset: tok.offset, message: "\(error)"))
        }
        while tok.kind != .newline && tok.kind != .eof { advance() }
        if tok.kind == .newline { advance() }
        return false
    }

    mutating func report(_ f: ParseFailure) {
        diagnostics.append(Diagnostic(source.location(ofOffset: f.offset), f.message, hint: f.hint))
    }

    // MARK: - Tokens

    var tok: IRToken { tokens[pos] }

    /// Moves past the current token; stays on the final end-of-file token.
    mutating func advance() {
        if pos < tokens.count - 1 { pos += 1 }
    }

    func isPunct(_ c: Character) -> Bool { tok.kind == .punct(c.asciiValue!) }

    /// "expected X, got Y", or the lexer's message when Y is not a token at all.
    func unexpected(_ t: IRToken, _ expected: String) -> ParseFailure {
        if case .invalid(let message) = t.kind { return ParseFailure(offset: t.offset, message: message) }
        return ParseFailure(offset: t.offset, message: "expected \(expected), got \(t.spelling)")
    }

    mutating func punct(_ c: Character) throws {
        guard isPunct(c) else { throw unexpected(tok, "'\(c)'") }
        advance()
    }

    /// Consumes `c` if it is next.
    mutating func consume(_ c: Character) -> Bool {
        guard isPunct(c) else { return false }
        advance()
        return true
    }

    mutating func keyword(_ word: String) throws {
        guard tok.kind == .atom(word) else { throw unexpected(tok, "'\(word)'") }
        advance()
    }

    /// A bare name or a quoted string.
    mutating func name(_ what: String) throws -> String {
        switch tok.kind {
        case .atom(let a) where IRText.isBareName(a):
            advance()
            return a
        case .atom(let a):
            throw ParseFailure(offset: tok.offset,
                               message: "'\(a)' is not a name; names other than [A-Za-z_][A-Za-z0-9_.]* are quoted")
        case .string(let s):
            advance()
            return s
        default:
            throw unexpected(tok, what)
        }
    }

    /// The text of an atom, for numbers and keywords.
    mutating func atom(_ what: String) throws -> (text: String, offset: Int) {
        guard case .atom(let a) = tok.kind else { throw unexpected(tok, what) }
        let offset = tok.offset
        advance()
        return (a, offset)
    }

    mutating func int(_ what: String = "an integer") throws -> Int {
        let (text, offset) = try atom(what)
        guard let v = Int(text) else { throw ParseFailure(offset: offset, message: "expected \(what), got '\(text)'") }
        return v
    }

    mutating func double(_ what: String = "a number") throws -> Double {
        let (text, offset) = try atom(what)
        guard let v = Double(text) else { throw ParseFailure(offset: offset, message: "expected \(what), got '\(text)'") }
        return v
    }

    mutating func bool() throws -> Bool {
        let (text, offset) = try atom("true or false")
        switch text {
        case "true": return true
        case "false": return false
        default: throw ParseFailure(offset: offset, message: "expected true or false, got '\(text)'")
        }
    }

    /// An optional comment, then the end of the line (or of the file). Returns the comment.
    @discardableResult
    mutating func endOfStatement() throws -> String? {
        var comment: String? = nil
        if case .comment(let c) = tok.kind {
            comment = c
            advance()
        }
        switch tok.kind {
        case .newline: advance()
        case .eof: break
        default: throw unexpected(tok, "the end of the line")
        }
        return comment
    }

    /// Skips empty lines and lines holding only a comment.
    mutating func skipBlankLines() {
        while true {
            switch tok.kind {
            case .newline, .comment: advance()
            default: return
            }
        }
    }

    // MARK: - Types and values

    /// `f32`, `i32[N,784]`; `f32[]` is read as the scalar `f32`.
    mutating func tensorType() throws -> TensorType {
        guard case .atom(let a) = tok.kind else { throw unexpected(tok, "a type such as f32[N,784]") }
        guard let dtype = DType(rawValue: a) else {
            throw ParseFailure(offset: tok.offset, message: "unknown element type '\(a)'; expected f32 or i32")
        }
        advance()
        var dims: [Dim] = []
        if consume("[") {
            if !isPunct("]") {
                repeat { dims.append(try dim()) } while consume(",")
            }
            try punct("]")
        }
        return TensorType(dtype, Shape(dims))
    }

    mutating func dim() throws -> Dim {
        let (text, offset) = try atom("a dimension (N or an integer)")
        if text == "N" { return .batch }
        guard let n = Int(text) else {
            throw ParseFailure(offset: offset, message: "expected a dimension (N or an integer), got '\(text)'")
        }
        return .fixed(n)
    }

    /// A use of an earlier value: `%h` or `%7`.
    mutating func valueUse() throws -> ValueID {
        guard case .value(let ref) = tok.kind else { throw unexpected(tok, "a value (%name or %number)") }
        let offset = tok.offset
        advance()
        switch ref {
        case .index(let i):
            guard i < graph.nodes.count else {
                throw ParseFailure(offset: offset, message: "undefined value %\(i)",
                                   hint: "a value is used after the line that defines it")
            }
            return ValueID(i)
        case .name(let n):
            guard let i = valueNames[n] else {
                throw ParseFailure(offset: offset, message: "undefined value %\(IRText.name(n))",
                                   hint: "a value is used after the line that defines it")
            }
            return ValueID(i)
        }
    }
}
