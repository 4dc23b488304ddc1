/// Accumulates C source lines with indentation: the descriptor, and the C-family printers.
public struct CWriter: Sendable {
    /// The lines written so far.
    public private(set) var text = ""
    private var indent = 0

    public init() {}

    /// One line at the current indentation (an empty line without it).
    public mutating func line(_ s: String = "") {
        text += s.isEmpty ? "\n" : String(repeating: "    ", count: indent) + s + "\n"
    }

    /// `head {` ... `}` around the lines `body` writes.
    public mutating func block(_ head: String, _ body: (inout CWriter) -> Void) {
        open(head)
        body(&self)
        close()
    }

    /// `head {`, indenting what follows until `close()`.
    public mutating func open(_ head: String) {
        line(head.isEmpty ? "{" : head + " {")
        indent += 1
    }

    /// The `}` of the last `open`.
    public mutating func close() {
        indent -= 1
        line("}")
    }

    /// The lines `body` writes, one level deeper than the current indentation.
    public mutating func indented(_ body: (inout CWriter) -> Void) {
        indent += 1
        body(&self)
        indent -= 1
    }

    /// Lines already written (by another writer), as they are.
    public mutating func append(_ lines: String) {
        text += lines
    }

    /// Nested `for` loops over `extents` with counters i0, i1, ...; `body` runs innermost;
    /// `innermost` (a pragma) is printed just before the innermost `for`.
    /// `starts` gives the first value of the counters it has a key for (a split kernel's chunk
    /// runs its split axis from `begin_`); the others start at 0.
    public mutating func loops(_ extents: [String], from depth: Int = 0, starts: [Int: String] = [:],
                               innermost: String? = nil, _ body: (inout CWriter) -> Void) {
        guard depth < extents.count else { return body(&self) }
        if depth == extents.count - 1, let innermost { line(innermost) }
        block("for (int64_t i\(depth) = \(starts[depth] ?? "0"); i\(depth) < \(extents[depth]); i\(depth)++)") { w in
            w.loops(extents, from: depth + 1, starts: starts, innermost: innermost, body)
        }
    }
}
