import DLCDiagnostics

/// A recursive-descent parser for the .dl language. Each function is named after its grammar
/// symbol and preceded by its production, as in chibicc.
///
/// Recovery: an error inside a statement skips to the end of that statement, so one run
/// reports every independent syntax error without cascades.
public struct Parser {
    private var tokens: [Token]
    private var pos = 0
    private var diagnostics = DiagnosticBag()
    /// Current depth of nested brackets and unary operators; spec section 1 caps it at 256.
    private var depth = 0
    /// Set when parsing gave up on the rest of the file; no further errors are reported.
    private var aborted = false
    public static let maxDepth = 256
    /// Most operators in one left-associative chain (`a + b + ...`): each adds a level to the
    /// tree that later stages walk recursively.
    public static let maxChain = 4096

    static let declarationKeywords: Set<Keyword> = [.const, .input, .target, .param, .layer, .forward, .train]

    /// Thrown to abandon the current statement after its error has been reported.
    private struct Recover: Error {}
    /// Thrown to abandon the whole file (nesting too deep: the rest cannot be trusted).
    private struct Abort: Error {}

    public init(tokens: [Token]) { self.tokens = tokens }

    /// Lexes and parses a file. Returns nil model only when not even `model NAME {` was found.
    public static func parse(_ source: SourceFile) -> (ModelAST?, DiagnosticBag) {
        var lexer = Lexer(source: source)
        let tokens = lexer.tokenize()
        var parser = Parser(tokens: tokens)
        var bag = lexer.diagnostics
        let model = parser.parseModel()
        // Lexical errors already explain bad tokens: keep the parser's errors at other places only.
        let lexicalLines = Set(bag.diagnostics.map(\.location.line))
        for d in parser.diagnostics.diagnostics where !lexicalLines.contains(d.location.line) { bag.append(d) }
        return (model, bag)
    }

    // MARK: - Token helpers

    private var current: Token { tokens[pos] }

    private mutating func advance() -> Token {
        let t = tokens[pos]
        if pos < tokens.count - 1 { pos += 1 }
        return t
    }

    private func check(_ p: Punct) -> Bool {
        if case .punct(let q) = current.kind { return p == q }
        return false
    }

    private func check(_ k: Keyword) -> Bool {
        if case .keyword(let q) = current.kind { return k == q }
        return false
    }

    private var atStatementEnd: Bool {
        switch current.kind {
        case .newline, .endOfFile: return true
        case .punct(.rbrace): return true
        default: return false
        }
    }

    private mutating func accept(_ p: Punct) -> Bool {
        if check(p) { _ = advance(); return true }
        return false
    }

    private mutating func expect(_ p: Punct, _ context: String) throws -> Token {
        if check(p) { return advance() }
        throw error("expected '\(p.rawValue)' \(context), found \(current.displayName)")
    }

    private mutating func expectIdentifier(_ what: String) throws -> Located<String> {
        switch current.kind {
        case .identifier(let name):
            _ = advance()
            return Located(name, tokens[pos - 1].location)
        case .keyword(let k):
            throw error("'\(k.rawValue)' is a reserved word and cannot be used as \(what)")
        default:
            throw error("expected \(what), found \(current.displayName)")
        }
    }

    private mutating func error(_ message: String, at location: SourceLocation? = nil,
                                hint: String? = nil) -> Recover {
        diagnostics.error(location ?? current.location, message, hint: hint)
        return Recover()
    }

    private mutating func skipNewlines() {
        while case .newline = current.kind { _ = advance() }
    }

    /// Skips to the end of the current statement (not past a `}` closing its block).
    private mutating func skipStatement() {
        var braces = 0
        while true {
            switch current.kind {
            case .endOfFile: return
            case .newline where braces == 0: _ = advance(); return
            case .punct(.lbrace): braces += 1
            case .punct(.rbrace):
                if braces == 0 { return }
                braces -= 1
            default: break
            }
            _ = advance()
        }
    }

    private mutating func endStatement() throws {
        if case .newline = current.kind { _ = advance(); return }
        if atStatementEnd { return }
        throw error("expected end of statement, found \(current.displayName)",
                    hint: "statements end at a newline or ';'")
    }

    // MARK: - Declarations

    // model = "model" NAME "{" declaration* "}"
    private mutating func parseModel() -> ModelAST? {
        do {
            skipNewlines()
            guard check(.model) else {
                throw error("expected 'model NAME { ... }', found \(current.displayName)")
            }
            let modelLoc = advance().location
            let name = try expectIdentifier("a model name")
            _ = try expect(.lbrace, "after the model name")
            var decls: [Declaration] = []
            try parseBlock(closing: "the model", closesBlock: false, { p in
                if let d = try p.parseDeclaration() { decls.append(d) }
            }, onError: { p, start in
                // `input x ...`, `layer fc = ...`: the name is declared, though broken.
                guard start + 1 < p.tokens.count, case .keyword(let k) = p.tokens[start].kind,
                      [.const, .input, .target, .param, .layer].contains(k),
                      case .identifier(let name) = p.tokens[start + 1].kind else { return }
                decls.append(.invalid(name: Located(name, p.tokens[start + 1].location)))
            })
            skipNewlines()
            if aborted { return nil }
            if case .endOfFile = current.kind {} else {
                diagnostics.error(current.location, "unexpected \(current.displayName) after the end of the model")
            }
            return ModelAST(name: name.value, location: modelLoc, declarations: decls)
        } catch {
            return nil
        }
    }

    /// Parses statements until the `}` closing a block, recovering per statement.
    /// `onError` is told where a failed statement started, to keep what can be kept of it.
    private mutating func parseBlock(closing what: String, closesBlock: Bool = true,
                                     _ item: (inout Parser) throws -> Void,
                                     onError: ((inout Parser, Int) -> Void)? = nil) throws {
        while !aborted {
            skipNewlines()
            if accept(.rbrace) { return }
            // A declaration keyword inside a block means its '}' is missing: say so, and let
            // the declaration parse as the next one of the model.
            if closesBlock, case .keyword(let k) = current.kind, Parser.declarationKeywords.contains(k) {
                diagnostics.error(current.location, "expected '}' to close \(what), found '\(k.rawValue)'")
                return
            }
            if case .endOfFile = current.kind {
                throw error("expected '}' to close \(what), found end of file")
            }
            let before = pos
            do {
                try item(&self)
            } catch is Recover {
                onError?(&self, before)
                skipStatement()
                if pos == before { _ = advance() }
            }
        }
    }

    // declaration = const | data | param | layer | forward | train
    private mutating func parseDeclaration() throws -> Declaration? {
        guard case .keyword(let k) = current.kind else {
            if case .identifier(let name) = current.kind {
                throw error("expected a declaration, found '\(name)'",
                            hint: "declarations start with const, input, target, param, layer, forward or train")
            }
            throw error("expected a declaration, found \(current.displayName)")
        }
        switch k {
        case .const:
            // const = "const" NAME "=" expr
            _ = advance()
            let name = try expectIdentifier("a const name")
            _ = try expect(.assign, "after the const name")
            let value = try parseExpr()
            try endStatement()
            return .const(name: name, value: value)
        case .input, .target:
            // data = ("input" | "target") NAME ":" type
            _ = advance()
            let name = try expectIdentifier("an \(k.rawValue) name")
            _ = try expect(.colon, "before the type of '\(name.value)'")
            let type = try parseType()
            try endStatement()
            return .data(isTarget: k == .target, name: name, type: type)
        case .param:
            // param = "param" NAME ":" type ("=" expr)?
            _ = advance()
            let name = try expectIdentifier("a param name")
            _ = try expect(.colon, "before the type of '\(name.value)'")
            let type = try parseType()
            let initializer = accept(.assign) ? try parseExpr() : nil
            try endStatement()
            return .param(name: name, type: type, initializer: initializer)
        case .layer:
            // layer = "layer" NAME "=" NAME "(" arguments ")"
            _ = advance()
            let name = try expectIdentifier("a layer name")
            _ = try expect(.assign, "after the layer name")
            let kind = try expectIdentifier("a layer kind such as Linear")
            _ = try expect(.lparen, "after the layer kind")
            let args = try parseArguments(closing: .rparen)
            try endStatement()
            return .layer(name: name, kind: kind, arguments: args)
        case .forward:
            // forward = "forward" "{" statement* "}"
            let loc = advance().location
            _ = try expect(.lbrace, "after 'forward'")
            var statements: [Statement] = []
            try parseBlock(closing: "the forward block", { p in
                statements.append(try p.parseStatement())
            }, onError: { p, start in
                // A broken `h = ...` still binds h, and a broken `loss ...` is still the loss.
                let t = p.tokens[start]
                if case .keyword(.loss) = t.kind {
                    statements.append(.loss(location: t.location, value: Expr(.error, t.location)))
                } else if case .identifier(let name) = t.kind, start + 1 < p.tokens.count,
                          case .punct(.assign) = p.tokens[start + 1].kind {
                    statements.append(.bind(name: Located(name, t.location), value: Expr(.error, t.location)))
                }
            })
            return .forward(location: loc, statements: statements)
        case .train:
            // train = "train" "{" setting* "}"
            let loc = advance().location
            _ = try expect(.lbrace, "after 'train'")
            var settings: [Setting] = []
            try parseBlock(closing: "the train block", { p in
                settings.append(try p.parseSetting())
            })
            return .train(location: loc, settings: settings)
        default:
            throw error("expected a declaration, found '\(k.rawValue)'")
        }
    }

    // type = NAME ("[" expr ("," expr)* "]")?
    private mutating func parseType() throws -> TypeExpr {
        let dtype = try expectIdentifier("a type such as f32 or i32")
        guard check(.lbracket) else { return TypeExpr(dtype: dtype, dims: nil) }
        _ = advance()
        var dims: [Expr] = []
        if !check(.rbracket) {
            repeat { dims.append(try parseExpr()) } while accept(.comma)
        }
        _ = try expect(.rbracket, "to close the shape")
        return TypeExpr(dtype: dtype, dims: dims)
    }

    // MARK: - Forward statements

    // statement = NAME "=" expr | "output" NAME ("," NAME)* | "loss" expr
    private mutating func parseStatement() throws -> Statement {
        if check(.output) {
            let loc = advance().location
            var names: [Located<String>] = []
            repeat { names.append(try expectIdentifier("an output name")) } while accept(.comma)
            try endStatement()
            return .output(location: loc, names: names)
        }
        if check(.loss) {
            let loc = advance().location
            if check(.assign) {
                throw error("'loss' is a statement, not a name", at: loc,
                            hint: "write 'loss EXPR' instead of 'loss = EXPR'")
            }
            let value = try parseExpr()
            try endStatement()
            return .loss(location: loc, value: value)
        }
        let name = try expectIdentifier("a name to bind")
        guard check(.assign) else {
            throw error("expected '=' after '\(name.value)', found \(current.displayName)")
        }
        _ = advance()
        let value = try parseExpr()
        try endStatement()
        return .bind(name: name, value: value)
    }

    // setting = NAME arguments?      (arguments without parentheses, up to the end of line)
    private mutating func parseSetting() throws -> Setting {
        let name = try expectIdentifier("a setting name")
        if check(.assign) {
            // `batch = 16`, as a Python assignment: read the value to show the dlc spelling.
            let eq = advance().location
            var args: [Argument] = []
            if !atStatementEnd { repeat { args.append(try parseArgument()) } while accept(.comma) }
            throw error("a setting takes its value without '='", at: eq,
                        hint: "write '\(name.value) \(Argument.spelling(args))'")
        }
        var args: [Argument] = []
        if !atStatementEnd {
            repeat { args.append(try parseArgument()) } while accept(.comma)
        }
        try endStatement()
        return Setting(name: name, arguments: args)
    }

    // arguments = (argument ("," argument)*)? ")"
    private mutating func parseArguments(closing: Punct) throws -> [Argument] {
        var args: [Argument] = []
        if !check(closing) {
            repeat {
                if check(closing) { break }  // a trailing comma
                args.append(try parseArgument())
            } while accept(.comma)
        }
        _ = try expect(closing, "to close the argument list")
        return args
    }

    // argument = (NAME ":")? expr
    private mutating func parseArgument() throws -> Argument {
        if case .identifier(let name) = current.kind, pos + 1 < tokens.count,
           case .punct(.colon) = tokens[pos + 1].kind {
            let loc = advance().location
            _ = advance()
            return Argument(label: Located(name, loc), value: try parseExpr())
        }
        if case .identifier(let name) = current.kind, pos + 1 < tokens.count,
           case .punct(.assign) = tokens[pos + 1].kind {
            // `lr=0.01`, Python's keyword argument: read the value to show the dlc spelling.
            _ = advance()
            let eq = advance().location
            let value = try parseExpr()
            let label = name == "dim" ? "axis" : name
            throw error("a named argument takes ':', not '='", at: eq,
                        hint: "write '\(label): \(value.spelling)'" + (name == "dim" ? " (dlc calls PyTorch's dim 'axis')" : ""))
        }
        return Argument(label: nil, value: try parseExpr())
    }

    // MARK: - Expressions (precedence as in Python, spec section 3)

    private mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Parser.maxDepth {
            // Reported at the bracket or operator just read, which opened the level too many.
            diagnostics.error(tokens[max(0, pos - 1)].location, "expression nested deeper than \(Parser.maxDepth) levels")
            throw Abort()
        }
        return try body(&self)
    }

    private mutating func checkChain(_ chain: inout Int) throws {
        chain += 1
        if chain > Parser.maxChain {
            diagnostics.error(current.location, "expression longer than \(Parser.maxChain) operators")
            pos = tokens.count - 1
            aborted = true
            throw Recover()
        }
    }

    // expr = additive (("==" | "!=" | "<" | "<=" | ">" | ">=") additive)?
    private mutating func parseExpr() throws -> Expr {
        if depth > 0 { return try parseComparison() }
        do {
            return try parseComparison()
        } catch is Abort {
            // Give up on the rest of the file: what follows cannot be trusted.
            pos = tokens.count - 1
            aborted = true
            throw Recover()
        }
    }

    private mutating func parseComparison() throws -> Expr {
        let lhs = try parseAdditive()
        guard let op = comparisonOperator() else { return lhs }
        let loc = advance().location
        let rhs = try parseAdditive()
        if comparisonOperator() != nil {
            throw error("comparisons cannot be chained", hint: "use parentheses or two comparisons")
        }
        return Expr(.binary(op, lhs, rhs), loc)
    }

    private func comparisonOperator() -> BinaryOperator? {
        guard case .punct(let p) = current.kind else { return nil }
        switch p {
        case .eq: return .eq
        case .ne: return .ne
        case .lt: return .lt
        case .le: return .le
        case .gt: return .gt
        case .ge: return .ge
        default: return nil
        }
    }

    // additive = term (("+" | "-") term)*
    private mutating func parseAdditive() throws -> Expr {
        var lhs = try parseTerm()
        var chain = 0
        while check(.plus) || check(.minus) {
            try checkChain(&chain)
            let t = advance()
            let rhs = try parseTerm()
            lhs = Expr(.binary(t.text == "+" ? .add : .sub, lhs, rhs), t.location)
        }
        return lhs
    }

    // term = unary (("*" | "/" | "@" | "//" | "%") unary)*
    private mutating func parseTerm() throws -> Expr {
        var lhs = try parseUnary()
        var chain = 0
        while true {
            try checkChain(&chain)
            let op: BinaryOperator
            switch current.kind {
            case .punct(.star): op = .mul
            case .punct(.slash): op = .div
            case .punct(.at): op = .matmul
            case .punct(.slashSlash): op = .floorDiv
            case .punct(.percent): op = .mod
            default: return lhs
            }
            let loc = advance().location
            let rhs = try parseUnary()
            lhs = Expr(.binary(op, lhs, rhs), loc)
        }
    }

    // unary = "-" unary | power
    private mutating func parseUnary() throws -> Expr {
        if check(.minus) {
            let loc = advance().location
            let operand = try nested { p in try p.parseUnary() }
            return Expr(.negate(operand), loc)
        }
        return try parsePower()
    }

    // power = postfix ("**" unary)?        (right associative; the exponent may carry a sign)
    private mutating func parsePower() throws -> Expr {
        let base = try parsePostfix()
        guard check(.starStar) else { return base }
        let loc = advance().location
        let exponent = try nested { p in try p.parseUnary() }
        return Expr(.binary(.pow, base, exponent), loc)
    }

    // postfix = primary ("(" arguments ")" | "[" expr "]")*
    private mutating func parsePostfix() throws -> Expr {
        var e = try parsePrimary()
        while true {
            if check(.lparen) {
                if case .call(let module, let moduleArgs) = e.kind, moduleArgs.isEmpty {
                    // `nn.ReLU()(h)`: read the arguments to show the dlc spelling.
                    let open = current.location
                    _ = advance()
                    let args = try nested { p in try p.parseArguments(closing: .rparen) }
                    throw error("only a function or layer name can be called", at: open,
                                hint: PyTorchHints.moduleApplication(module, args))
                }
                guard case .name(let callee) = e.kind else {
                    throw error("only a function or layer name can be called")
                }
                _ = advance()
                let args = try nested { p in try p.parseArguments(closing: .rparen) }
                e = Expr(.call(callee: callee, arguments: args), e.location)
            } else if check(.lbracket) {
                let loc = advance().location
                let index = try nested { p in try p.parseExpr() }
                _ = try expect(.rbracket, "to close the index")
                e = Expr(.index(base: e, index: index), loc)
            } else {
                return e
            }
        }
    }

    // primary = NUMBER | STRING | NAME | "true" | "false" | "full" | "(" expr ")" | "[" expr ("," expr)* "]"
    private mutating func parsePrimary() throws -> Expr {
        let t = current
        switch t.kind {
        case .number(let v, let isInteger):
            _ = advance()
            return Expr(.number(v, isInteger: isInteger), t.location)
        case .string(let s):
            _ = advance()
            return Expr(.string(s), t.location)
        case .identifier(let name):
            _ = advance()
            return Expr(.name(name), t.location)
        case .keyword(.true), .keyword(.false):
            _ = advance()
            return Expr(.bool(t.text == "true"), t.location)
        case .keyword(.full):
            _ = advance()
            return Expr(.full, t.location)
        case .punct(.lparen):
            _ = advance()
            let e = try nested { p in try p.parseExpr() }
            _ = try expect(.rparen, "to close '('")
            return e
        case .punct(.lbracket):
            _ = advance()
            let items = try nested { p -> [Expr] in
                var items: [Expr] = []
                if !p.check(.rbracket) {
                    repeat {
                        if p.check(.rbracket) { break }
                        items.append(try p.parseExpr())
                    } while p.accept(.comma)
                }
                return items
            }
            _ = try expect(.rbracket, "to close the list")
            return Expr(.list(items), t.location)
        case .keyword(let k):
            throw error("'\(k.rawValue)' is a reserved word and cannot be used in an expression")
        default:
            throw error("expected an expression, found \(t.displayName)")
        }
    }
}
