/// One compile error or warning: where, what, and optionally a hint on how to fix it.
public struct Diagnostic: Error, Hashable, Sendable {
    /// An error stops the compile; a warning is printed and the compile goes on.
    public enum Severity: String, Hashable, Sendable {
        case error, warning
    }

    public let location: SourceLocation
    public let message: String
    /// Printed as a `note:` line after the caret, e.g. "did you mean 'relu'?".
    public let hint: String?
    public let severity: Severity

    public init(_ location: SourceLocation, _ message: String, hint: String? = nil, severity: Severity = .error) {
        self.location = location
        self.message = message
        self.hint = hint
        self.severity = severity
    }
}

/// Collects diagnostics for one source file. The limit of 20 printed errors is applied when
/// rendering, so that passes can report freely.
public struct DiagnosticBag: Sendable {
    public static let printLimit = 20
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// The warnings alone, in the order they were reported.
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

    public mutating func error(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(location, message, hint: hint))
    }

    /// Something that compiles but is probably not what the user meant (softmax fed to
    /// cross_entropy): printed as `warning:`, and the compile goes on.
    public mutating func warning(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(location, message, hint: hint, severity: .warning))
    }

    public mutating func append(_ d: Diagnostic) { diagnostics.append(d) }
    public mutating func append(contentsOf other: DiagnosticBag) { diagnostics += other.diagnostics }

    /// Diagnostics in source order, duplicates (same place, same message) removed.
    public var sorted: [Diagnostic] {
        var seen = Set<Diagnostic>()
        return diagnostics.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
            .filter { seen.insert($0).inserted }
    }
}

/// Prints diagnostics in clang's style:
///
///     model.dl:7:18: error: shape mismatch in '+': f32[N,3] and f32[4]
///         h = fc1(x) + b
///                    ^
public struct DiagnosticRenderer {
    public let source: SourceFile
    public var useColor: Bool
    /// Source lines longer than this are clipped around the caret.
    public var maxLineWidth = 100

    public init(source: SourceFile, useColor: Bool = false) {
        self.source = source
        self.useColor = useColor
    }

    public func render(_ d: Diagnostic) -> String {
        let bold = useColor ? "\u{1B}[1m" : "", red = useColor ? "\u{1B}[1;31m" : ""
        let magenta = useColor ? "\u{1B}[1;35m" : ""
        let green = useColor ? "\u{1B}[1;32m" : "", reset = useColor ? "\u{1B}[0m" : ""
        var out = "\(bold)\(source.path):\(d.location.line):\(d.location.column): \(reset)"
        out += "\(d.severity == .error ? red : magenta)\(d.severity.rawValue): \(reset)\(bold)\(d.message)\(reset)\n"
        let (line, caretColumn) = clippedLine(d.location)
        out += line + "\n"
        out += String(repeating: " ", count: caretColumn - 1) + "\(green)^\(reset)\n"
        if let hint = d.hint { out += "note: \(hint)\n" }
        return out
    }

    /// Renders up to `DiagnosticBag.printLimit` diagnostics in source order.
    public func render(_ bag: DiagnosticBag) -> String {
        let all = bag.sorted
        var out = all.prefix(DiagnosticBag.printLimit).map(render).joined()
        if all.count > DiagnosticBag.printLimit {
            let hidden = all.dropFirst(DiagnosticBag.printLimit)
            let noun = hidden.allSatisfy { $0.severity == .warning } ? "warnings" : "errors"
            out += "note: \(hidden.count) more \(noun) not shown\n"
        }
        return out
    }

    /// The source line with tabs and control characters made printable, clipped to a readable
    /// width around the column, and the caret's column within the printed text.
    private func clippedLine(_ loc: SourceLocation) -> (String, Int) {
        let raw = Array(source.lineText(loc.line).unicodeScalars)
        // Column is a byte column; map it to a scalar index.
        var byteCount = 0, caretIndex = raw.count
        for (i, s) in raw.enumerated() {
            if byteCount >= loc.column - 1 { caretIndex = i; break }
            byteCount += String(s).utf8.count
        }
        let printable = raw.map { s -> Character in
            s.value < 0x20 || s.value == 0x7F ? " " : Character(s)
        }
        var start = 0
        if printable.count > maxLineWidth, caretIndex > maxLineWidth / 2 {
            start = min(caretIndex - maxLineWidth / 2, printable.count - maxLineWidth + 3)
        }
        let end = min(printable.count, start + maxLineWidth)
        var text = String(printable[start..<end])
        var caret = caretIndex - start + 1
        if start > 0 { text = "..." + text; caret += 3 }
        if end < printable.count { text += "..." }
        return (text, max(1, caret))
    }
}
