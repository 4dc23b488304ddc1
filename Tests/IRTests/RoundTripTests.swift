import DLCDiagnostics
import XCTest
@testable import DLCIR

/// print -> parse gives back an equal graph, and print(parse(print(g))) == print(g).
final class RoundTripTests: XCTestCase {
    func assertRoundTrip(_ g: Graph, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(verify(g), [], "fixture does not verify", file: file, line: line)
        let text = printIR(g)
        do {
            let back = try parseIR(text)
            XCTAssertEqual(back, g, "parse(print(g)) != g for\n\(text)", file: file, line: line)
            XCTAssertEqual(printIR(back), text, file: file, line: line)
        } catch {
            XCTFail("\(error)\n\(text)", file: file, line: line)
        }
    }

    func testEveryOp() { assertRoundTrip(Fixtures.everyOp()) }
    func testSmall() { assertRoundTrip(Fixtures.small()) }
    func testOddNames() { assertRoundTrip(Fixtures.oddNames()) }
    func testEmptyGraph() { assertRoundTrip(Graph(name: "empty")) }

    func testEveryTrainConfig() {
        for kind in Optimizer.Kind.allCases {
            for schedule in Fixtures.schedules {
                for metric in [nil] + Metric.allCases {
                    for batch in [nil, 17] {
                        var g = Fixtures.small()
                        g.train = Fixtures.trainConfig(kind, schedule, metric, batch: batch)
                        g.train.normalize = ["x", "t"]
                        g.train.columns = [ColumnBinding(name: "t", columns: "y"), ColumnBinding(name: "x", columns: "0,1")]
                        assertRoundTrip(g)
                    }
                }
            }
        }
    }

    func testOptimizerDefaultsRoundTrip() {
        for kind in Optimizer.Kind.allCases {
            var g = Graph(name: "g")
            g.train.optimizer = .defaults(kind)
            assertRoundTrip(g)
        }
    }

    func testDoublesKeepTheirBits() {
        let values: [Double] = [0.1, 0.01, 1e-08, 1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -0.0, 1e16, 123456789.125,
                                .infinity, -.infinity, 1.0 / 3.0, 2]
        var g = Graph(name: "numbers")
        for v in values { g.emit(.constant(v), [], declared: f32()) }
        // i32 constants print as integers, but -0.0 keeps its sign.
        for v: Double in [0, -0.0, 2, -7, 2147483647, -2147483648] { g.emit(.constant(v), [], declared: i32()) }
        g.params = values.filter(\.isFinite).enumerated().map {
            ParamDecl(name: "p\($0.offset)", type: f32(), initializer: .constant($0.element))
        }
        g.train.validation = 0.30000000000000004
        assertRoundTrip(g)
        let back = try! parseIR(printIR(g))
        XCTAssertEqual(back.nodes.count, g.nodes.count)
        for (a, b) in zip(back.nodes, g.nodes) {
            guard case .constant(let x) = a.op, case .constant(let y) = b.op else { return XCTFail() }
            XCTAssertEqual(x.bitPattern, y.bitPattern)
        }
    }

    /// Text written by hand: comments, blank lines, spacing, `f32[]`, attributes in another
    /// order, a left-out false flag, integers for doubles, `%INDEX` uses of a named value.
    func testHandWrittenText() throws {
        let text = """
            # a comment before the graph

            graph  hand{   # trailing comment
            \tinput x : f32 [ N , 3 ]
              param w: f32[] = 2
              # a comment line
              %x: f32[N,3] = input x
              %1 : f32[] = param w       # not a location
              %2: f32[N,3] = mul %0,%1   #   4 : 7
              %s: f32[N] = sum %2 {keepdim: false, axes: [1]}
              %4: f32[N] = max %2 {axes: [1]}
              %5: f32 = mean %s {axes: [0]}  # 9:1
              %6: f32 = pow %5 {exponent: 2}
              loss %6
            }
            train {
              epochs 3
              optimizer adam(weight_decay: 0, eps: 1e-8, beta2: 0.999, beta1: 0.9, lr: 1)
            }
            """
        let g = try parseIR(text)
        XCTAssertEqual(g.name, "hand")
        XCTAssertEqual(g.params, [ParamDecl(name: "w", type: f32(), initializer: .constant(2))])
        XCTAssertEqual(g.nodes.count, 7)
        XCTAssertNil(g.nodes[1].location)
        XCTAssertEqual(g.nodes[2].location, SourceLocation(line: 4, column: 7))
        XCTAssertEqual(g.nodes[2].operands, [ValueID(0), ValueID(1)])
        XCTAssertEqual(g.nodes[3].op, .reduce(.sum, axes: [1], keepdim: false))
        XCTAssertEqual(g.nodes[4].op, .reduce(.max, axes: [1], keepdim: false))
        XCTAssertEqual(g.nodes[6].op, .pow(2))
        XCTAssertEqual(g.loss, ValueID(6))
        var expectedTrain = TrainConfig()
        expectedTrain.epochs = 3
        expectedTrain.optimizer = Optimizer(kind: .adam, lr: 1)
        XCTAssertEqual(g.train, expectedTrain)
        XCTAssertEqual(try parseIR(printIR(g)), g)
    }

    func testNoTrainBlockMeansDefaults() throws {
        let g = try parseIR("graph g {\n}\n")
        XCTAssertEqual(g, Graph(name: "g"))
        XCTAssertEqual(try parseIR("graph g {\n}"), Graph(name: "g"))  // no final newline
    }

    func testParseWithoutVerifyKeepsAnIllTypedGraph() throws {
        let text = "graph g {\n  %0: f32[3] = constant 1\n}\n"
        XCTAssertThrowsError(try parseIR(text))
        let g = try parseIR(text, verify: false)
        XCTAssertEqual(g.nodes[0].type, f32(3))
        XCTAssertEqual(verify(g).count, 1)
    }
}
