import DLCDiagnostics
import XCTest
@testable import DLCIR

final class PrinterTests: XCTestCase {
    /// Pins the format: a change here is a change to docs/ir.md and to every golden dump.
    func testExactTextOfASmallGraph() {
        let expected = """
            graph tiny {
              input x: f32[N,2]
              target t: f32[N,1]
              param fc.weight: f32[1,2] = uniform(-0.7071067811865475, 0.7071067811865475)
              param fc.bias: f32[1] = zeros

              %x: f32[N,2] = input x
              %t: f32[N,1] = input t
              %fc.weight: f32[1,2] = param fc.weight
              %fc.bias: f32[1] = param fc.bias
              %4: f32[N,1] = matmul %x, %fc.weight {transpose_b: true}    # 6:13
              %5: f32[N,1] = add %4, %fc.bias                             # 6:13
              %y: f32[N,1] = relu %5                                      # 6:8
              %7: f32 = mse %y, %t                                        # 7:5
              %8: f32 = constant 0.5
              %9: f32[1,2] = mul %fc.weight, %8
              output y = %y
              loss %7
              grad fc.weight = %9
              grad fc.bias = %fc.bias
            }
            train {
              optimizer sgd(lr: 0.01, momentum: 0.0, weight_decay: 0.0, nesterov: false)
              batch 64
              drop_last false
              epochs 1
              steps 1
              shuffle true
              schedule none
              accumulate 1
              metric none
              seed 0
              validation 0.0
            }

            """
        XCTAssertEqual(printIR(Fixtures.small()), expected)
    }

    func testTrainBlockWithEverySettingSet() {
        var g = Graph(name: "t")
        g.train = Fixtures.trainConfig(.sgd, .stepLR(every: 10, gamma: 0.5), .mae, batch: nil)
        let text = printIR(g)
        XCTAssertTrue(text.contains("""
            train {
              optimizer sgd(lr: 0.125, momentum: 0.9, weight_decay: 0.0005, nesterov: true)
              batch full
              drop_last true
              epochs 7
              steps 3
              shuffle false
              schedule step_lr(every: 10, gamma: 0.5)
              accumulate 4
              metric mae
              seed 42
              normalize x, t
              data "data/train set \\"v2\\".csv"
              columns x: "0-3", y: "label", t: "4,5,6"
              validation 0.2
            }
            """), text)
    }

    func testEveryOptimizerPrintsAllItsArguments() {
        for kind in Optimizer.Kind.allCases {
            let text = TrainConfigPrinter.optimizer(Optimizer.defaults(kind))
            for name in Optimizer.argumentNames(kind) { XCTAssertTrue(text.contains("\(name): "), text) }
        }
        XCTAssertEqual(TrainConfigPrinter.optimizer(.defaults(.adagrad)),
                       "adagrad(lr: 0.01, eps: 1e-10, weight_decay: 0.0)")
        XCTAssertEqual(TrainConfigPrinter.optimizer(.defaults(.adam)),
                       "adam(lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-08, weight_decay: 0.0)")
    }

    func testAttributesOfEveryAttributedOp() {
        let g = Fixtures.everyOp()
        let text = printIR(g)
        for fragment in [
            "sum %x {axes: [1], keepdim: false}", "mean %x {axes: [0, 1], keepdim: true}",
            "count %x {axes: [0, 1]}", "concat %x, %x, %x {axis: 1}", "slice %x {axis: 1, start: 1, length: 2}",
            "matmul %x, %7\n", "matmul %x, %fc1.weight {transpose_b: true}",
            "matmul %fc1.weight, %fc1.weight {transpose_a: true}\n",
            "matmul %fc1.weight, %7 {transpose_a: true, transpose_b: true}",
            "softmax %h {axis: 1}", "log_softmax %h {axis: 1}", "dropout_mask %h {p: 0.25, site: 0}",
            "argmax %h {axis: 1}", "max_mask %h {axis: 0}", "one_hot %y {classes: 3}", "pow %x {exponent: 0.5}",
            "= constant -1e-08", "%8: f32 = constant 2.0\n", "%9: i32 = constant 3\n", "= constant -inf", "= where %", "= sum_to %", "= scatter_add %y, %",
            "= nll %logp, %y", "= bce_logits %h, %t", "= floordiv %y, %", "= int %x", "= float %y",
            "param xv: f32[4,3] = xavier_uniform", "param emb: f32[5,3] = normal(0.0, 1.0)",
            "param s: f32 = 1.5", "param o: f32[3] = ones", "%d.fc1.bias: f32[3] = sum_to",
        ] {
            XCTAssertTrue(text.contains(fragment), "missing \(fragment.debugDescription) in\n\(text)")
        }
    }

    func testLocationCommentsAreAligned() {
        let lines = printIR(Fixtures.everyOp()).split(separator: "\n")
        let commented = lines.filter { $0.contains("#") }
        XCTAssertEqual(commented.count, 3)
        for line in commented {
            XCTAssertEqual(line.distance(from: line.startIndex, to: line.firstIndex(of: "#")!), 62, String(line))
        }
        XCTAssertFalse(printIR(Fixtures.everyOp(), showLocations: false).contains("#"))
    }

    func testALongNodeKeepsTwoSpacesBeforeItsLocation() {
        var g = Graph(name: "g")
        let name = String(repeating: "v", count: 70)
        g.data = [DataDecl(name: "x", role: .input, type: f32())]
        g.add(.input("x"), type: f32(), name: name, location: SourceLocation(line: 1, column: 2))
        XCTAssertTrue(printIR(g).contains("= input x  # 1:2\n"))
    }

    func testOddNamesAreQuoted() {
        let text = printIR(Fixtures.oddNames())
        for fragment in [
            "graph \"odd graph\" {", "input \"x-1\": f32[N,2]", "param \"w\\\"q\": f32[2] = ones",
            "%\"3\": f32[N,2] = input \"x-1\"", "%\"a b\\\\c\": f32[2] = param \"w\\\"q\"",
            "%\"new\\nline\\ttab\\u{1}\": f32[N,2] = add %\"3\", %\"a b\\\\c\"", "%\"ünïcödé\"",
            "%\"\": f32 = sum", "output \"out put\" = %\"ünïcödé\"", "output \"7\" = %\"new",
            "normalize \"x-1\"", "columns \"x-1\": \"a\\\"b\"",
        ] {
            XCTAssertTrue(text.contains(fragment), "missing \(fragment) in\n\(text)")
        }
    }

    func testMnemonicsAreDistinctAndAllKnown() {
        XCTAssertEqual(Set(IRText.mnemonics).count, IRText.mnemonics.count)
        for n in Fixtures.everyOp().nodes {
            XCTAssertTrue(IRText.mnemonics.contains(n.op.mnemonic), n.op.mnemonic)
        }
        XCTAssertEqual(Set(Fixtures.everyOp().nodes.map(\.op.mnemonic)), Set(IRText.mnemonics))
    }

    func testABrokenGraphStillPrints() {
        var g = Graph(name: "broken")
        g.add(.binary(.add), [ValueID(5), ValueID(-2)], type: f32())
        g.loss = ValueID(9)
        g.outputs = [NamedValue("o", ValueID(100))]
        let text = printIR(g)
        XCTAssertTrue(text.contains("%0: f32 = add %5, %-2"), text)
        XCTAssertTrue(text.contains("loss %9"), text)
        XCTAssertTrue(text.contains("output o = %100"), text)
    }

    func testPrintingIsDeterministic() {
        XCTAssertEqual(printIR(Fixtures.everyOp()), printIR(Fixtures.everyOp()))
    }
}
