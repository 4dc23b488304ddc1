import DLCDiagnostics
import DLCDriver
import DLCIR
import Foundation
import XCTest

/// `dlc compile --emit dot` (spec section 11): the training graph after the passes as Graphviz
/// dot, forward and backward as two clusters, kinds of value told apart, edges labelled with
/// types. Every example model's dot is rendered by Graphviz's `dot` (scripts/install-deps.sh
/// installs it); digits' dot text is a golden file.
final class DotTests: XCTestCase {
    static var dot: URL? {
        ["/usr/bin/dot", "/usr/local/bin/dot"].map(URL.init(fileURLWithPath:)).first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    func testEveryModelRendersWithGraphviz() throws {
        let dot = try XCTUnwrap(Self.dot, "Graphviz's dot is missing: run scripts/install-deps.sh")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-dot-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        for url in Golden.programs(in: Golden.root.appendingPathComponent("models")) {
            let name = url.deletingPathExtension().lastPathComponent
            let r = try Run.dlc(["compile", url.path, "--emit", "dot"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let file = work.appendingPathComponent(name + ".dot"), svg = work.appendingPathComponent(name + ".svg")
            try r.stdout.write(to: file, atomically: true, encoding: .utf8)
            let rendered = try Run.run(dot, ["-Tsvg", file.path, "-o", svg.path])
            XCTAssertEqual(rendered.status, 0, "\(name): dot -Tsvg: \(rendered.stderr)")
            XCTAssertEqual(rendered.stderr, "", "\(name): dot warns")
            let picture = try String(contentsOf: svg, encoding: .utf8)
            XCTAssertTrue(picture.contains("<title>cluster_forward</title>"), name)

            // What the picture must show, from the graph itself.
            let p = Pipeline(source: SourceFile(path: url.lastPathComponent, bytes: [UInt8](try Data(contentsOf: url))))
            guard case .success(let g) = p.optimizedGraph() else { return XCTFail("\(name) does not compile") }
            for param in g.params { XCTAssertTrue(r.stdout.contains("label=\"param \(param.name)\\n"), "\(name): \(param.name)") }
            for grad in g.gradients where g[grad.value].operands.count > 0 {
                XCTAssertTrue(r.stdout.contains("label=\"grad \(grad.name)\\n"), "\(name): grad \(grad.name)")
            }
            let edges = g.nodes.reduce(0) { $0 + $1.operands.count }
            XCTAssertEqual(r.stdout.components(separatedBy: " -> v").count - 1, edges, "\(name): one edge per operand")
            if !g.params.isEmpty { XCTAssertTrue(r.stdout.contains("subgraph cluster_backward"), name) }
        }
    }

    func testDigitsDotIsGolden() throws {
        let url = Golden.root.appendingPathComponent("models/digits.dl")
        let p = Pipeline(source: SourceFile(path: "digits.dl", bytes: [UInt8](try Data(contentsOf: url))))
        guard case .success(let text) = p.emit(.dot) else { return XCTFail("digits does not compile") }
        Golden.assertMatches(text, golden: Golden.directory.appendingPathComponent("dot/digits.dot"))
        // Each edge carries the type of its value: the first layer reads x as f32[N,64].
        XCTAssertTrue(text.contains("v0 -> v6 [label=\" f32[N,64]\"];"), text)
    }
}
