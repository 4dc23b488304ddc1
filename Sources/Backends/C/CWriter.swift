/// Accumulates C source lines with indentation.
public struct CWriter {
    public init() {}

    public private(set) var text = ""
    private var indent = 0

    public mutating func line(_ s: String = "") {
        text += s.isEmpty ? "\n" : String(repeating: "    ", count: indent) + s + "\n"
    }

    /// `head {` ... `}` around the lines `body` writes.
    public mutating func block(_ head: String, _ body: (inout CWriter) -> Void) {
        line(head.isEmpty ? "{" : head + " {")
        indent += 1
        body(&self)
        indent -= 1
        line("}")
    }

    /// Nested `for` loops over `extents` with counters i0, i1, ...; `body` runs innermost.
    public mutating func loops(_ extents: [String], from depth: Int = 0, _ body: (inout CWriter) -> Void) {
        guard depth < extents.count else { return body(&self) }
        block("for (int64_t i\(depth) = 0; i\(depth) < \(extents[depth]); i\(depth)++)") { w in
            w.loops(extents, from: depth + 1, body)
        }
    }
}
