import DLCDiagnostics

/// The syntax tree of one `.dl` file, close to the source: Sema gives it meaning.

/// `model NAME { declarations }`
public struct ModelAST: Sendable {
    public var name: String
    public var location: SourceLocation
    public var declarations: [Declaration]
}

public enum Declaration: Sendable {
    /// `const n = 20`
    case const(name: Located<String>, value: Expr)
    /// `input x: f32[N, 784]` or `target y: i32[N]`
    case data(isTarget: Bool, name: Located<String>, type: TypeExpr)
    /// `param w: f32[3] = normal(0, 1)`; no initialiser means zeros.
    case param(name: Located<String>, type: TypeExpr, initializer: Expr?)
    /// `layer fc1 = Linear(784, 512)`
    case layer(name: Located<String>, kind: Located<String>, arguments: [Argument])
    /// `forward { ... }`
    case forward(location: SourceLocation, statements: [Statement])
    /// `train { ... }`
    case train(location: SourceLocation, settings: [Setting])
    /// A declaration of `name` that had a syntax error: the name exists, so later uses of it
    /// raise no "undefined name" errors.
    case invalid(name: Located<String>)
}

/// A value with the place it was written.
public struct Located<T: Sendable>: Sendable {
    public var value: T
    public var location: SourceLocation
    public init(_ value: T, _ location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// `f32[N, 784]`: a dtype name and optional dims (each an expression: a number, a const
/// expression or a symbolic name).
public struct TypeExpr: Sendable {
    public var dtype: Located<String>
    public var dims: [Expr]?
}

public enum Statement: Sendable {
    /// `h = relu(x)`
    case bind(name: Located<String>, value: Expr)
    /// `output a, b`
    case output(location: SourceLocation, names: [Located<String>])
    /// `loss expr`
    case loss(location: SourceLocation, value: Expr)
}

/// `optimizer sgd(lr: 0.1)`, `batch full`, `columns x: "0-63", y: "label"`: a setting's name
/// and its values, written like call arguments without the parentheses.
public struct Setting: Sendable {
    public var name: Located<String>
    public var arguments: [Argument]
}

/// `expr` or `label: expr`.
public struct Argument: Sendable {
    public var label: Located<String>?
    public var value: Expr
    public init(label: Located<String>?, value: Expr) {
        self.label = label
        self.value = value
    }
}

public indirect enum ExprKind: Sendable {
    case number(Double, isInteger: Bool)
    case string(String)
    case bool(Bool)
    /// `batch full`
    case full
    case name(String)
    /// `f(a, b: c)`; `callee` is a name.
    case call(callee: String, arguments: [Argument])
    /// `t[i]`
    case index(base: Expr, index: Expr)
    /// `-x`
    case negate(Expr)
    case binary(BinaryOperator, Expr, Expr)
    /// `[a, b]`, only as an argument.
    case list([Expr])
    /// An expression with a syntax error, already reported.
    case error
}

public struct Expr: Sendable {
    public var kind: ExprKind
    /// Where the diagnostic for this expression points: the operator of a binary expression,
    /// the name of a call.
    public var location: SourceLocation
    public init(_ kind: ExprKind, _ location: SourceLocation) {
        self.kind = kind
        self.location = location
    }
}

public enum BinaryOperator: String, Sendable, CaseIterable {
    case add = "+", sub = "-", mul = "*", div = "/", floorDiv = "//", mod = "%", matmul = "@"
    case pow = "**"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
}
