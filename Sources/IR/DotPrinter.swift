/// `dlc compile --emit dot` (spec section 11): a training graph as Graphviz dot, for `dot -Tsvg`.
///
/// - The forward pass (what the loss and the outputs need) and the backward pass (what only the
///   gradients need) are two clusters; the leaves they share stand above both.
/// - Kinds of value are told apart by shape and colour (a legend says which): inputs (blue) and
///   targets (orange) are trapezia, params green boxes, gradients red double boxes, the loss a
///   double octagon, outputs bold; operations are white rounded boxes, numbers plain text.
/// - Each node shows its name (or number) and operation; each edge the type of the value on it.
///
/// Deterministic: it depends only on the graph, like the IR text.
public enum DotPrinter {
    public static func print(_ g: Graph) -> String {
        let forward = forwardValues(g)
        let gradients = Dictionary(g.gradients.map { ($0.value, $0.name) }, uniquingKeysWith: { a, _ in a })
        let outputs = Set(g.outputs.map(\.value))
        var lines = [
            "digraph \(quote(g.name)) {",
            "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, label=\(quote("\(g.name): training graph after the passes")), labelloc=t];",
            "  node [fontname=\"Helvetica\", fontsize=10, style=\"filled,rounded\", shape=box, fillcolor=white, color=\"#555555\"];",
            "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#777777\", fontcolor=\"#444444\"];",
        ]
        var leaves: [String] = [], forwardNodes: [String] = [], backwardNodes: [String] = []
        for n in g.nodes {
            let line = "  " + node(n, in: g, gradient: gradients[n.id], output: outputs.contains(n.id))
            switch n.op {
            case .input, .param: leaves.append(line)
            default:
                if forward.contains(n.id) { forwardNodes.append("  " + line) } else { backwardNodes.append("  " + line) }
            }
        }
        lines.append("  { rank=source;")
        lines += leaves.map { "  " + $0 }
        lines.append("  }")
        lines += cluster("forward", "forward", "#f4f8ff", forwardNodes)
        lines += cluster("backward", "backward (reverse-mode AD)", "#fff6f4", backwardNodes)
        for n in g.nodes {
            for o in n.operands where o.index < g.nodes.count {
                lines.append("  \(id(o)) -> \(id(n.id)) [label=\(quote(" " + IRText.type(g.type(of: o))))];")
            }
        }
        lines += legend()
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Values the loss or an output needs: the forward pass. The rest serve only the gradients.
    static func forwardValues(_ g: Graph) -> Set<ValueID> {
        var needed = Set(g.outputs.map(\.value) + (g.loss.map { [$0] } ?? []))
        for n in g.nodes.reversed() where needed.contains(n.id) {
            for o in n.operands { needed.insert(o) }
        }
        return needed
    }

    static func node(_ n: Node, in g: Graph, gradient: String?, output: Bool) -> String {
        let name = IRText.value(n.id, in: g)
        var attributes: [String]
        switch n.op {
        case .input(let data):
            let isTarget = g.dataDecl(named: data)?.role == .target
            attributes = ["label=\(quote("\(isTarget ? "target" : "input") \(data)\n\(IRText.type(n.type))"))",
                          "shape=invtrapezium", "style=filled", "fillcolor=\(quote(isTarget ? "#ffd8a8" : "#a5d8ff"))"]
        case .param(let p):
            attributes = ["label=\(quote("param \(p)\n\(IRText.type(n.type))"))", "shape=box", "style=filled",
                          "fillcolor=\"#b2f2bb\""]
        case .constant:
            attributes = ["label=\(quote(IRPrinter.constant(n.op.constantValue, n.type.dtype)))", "shape=plaintext", "style=\"\"",
                          "fontsize=9"]
        default:
            let op = IRPrinter(showLocations: false).opText(n, in: g).split(separator: " ").first.map(String.init) ?? ""
            let attrs = IRPrinter.attributes(n.op).map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            let title = gradient.map { "grad \($0)" } ?? name
            attributes = ["label=\(quote(title + "\n" + op + (attrs.isEmpty ? "" : " {\(attrs)}")))"]
        }
        if gradient != nil { attributes += ["fillcolor=\"#ffc9c9\"", "peripheries=2"] }
        if n.id == g.loss { attributes += ["shape=doubleoctagon", "fillcolor=\"#ffec99\"", "style=filled"] }
        if output { attributes += ["penwidth=2.5"] }
        return "\(id(n.id)) [\(attributes.joined(separator: ", "))];"
    }

    static func cluster(_ key: String, _ title: String, _ colour: String, _ nodes: [String]) -> [String] {
        guard !nodes.isEmpty else { return [] }
        return ["  subgraph cluster_\(key) {",
                "    label=\(quote(title)); style=\"rounded,filled\"; fillcolor=\(quote(colour)); color=\"#bbbbbb\";"]
            + nodes + ["  }"]
    }

    /// One node of each kind, in a row.
    static func legend() -> [String] {
        [
            "  subgraph cluster_legend {",
            "    label=\"legend\"; style=rounded; color=\"#bbbbbb\"; fontsize=10;",
            "    legend_input [label=\"input\", shape=invtrapezium, style=filled, fillcolor=\"#a5d8ff\"];",
            "    legend_target [label=\"target\", shape=invtrapezium, style=filled, fillcolor=\"#ffd8a8\"];",
            "    legend_param [label=\"param\", shape=box, style=filled, fillcolor=\"#b2f2bb\"];",
            "    legend_op [label=\"operation\"];",
            "    legend_output [label=\"output\", penwidth=2.5];",
            "    legend_loss [label=\"loss\", shape=doubleoctagon, style=filled, fillcolor=\"#ffec99\"];",
            "    legend_gradient [label=\"gradient\", peripheries=2, fillcolor=\"#ffc9c9\"];",
            "    { rank=same; legend_input; legend_target; legend_param; legend_op; legend_output; legend_loss; legend_gradient; }",
            "    legend_input -> legend_target -> legend_param -> legend_op -> legend_output -> legend_loss -> legend_gradient [style=invis];",
            "  }",
        ]
    }

    static func id(_ v: ValueID) -> String { "v\(v.index)" }

    /// A dot string literal: quotes and backslashes escaped, newlines as line breaks.
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}

private extension Op {
    var constantValue: Double {
        if case .constant(let v) = self { return v }
        return 0
    }
}
