import DLCDiagnostics
import XCTest
@testable import DLCIR

/// One test per invariant: a valid graph, broken in one way, gives exactly that problem.
final class VerifierTests: XCTestCase {
    /// `g` has exactly one problem, about `subject`, whose text contains `message`.
    func assertProblem(_ g: Graph, _ subject: VerifierProblem.Subject, _ message: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let problems = Verifier.problems(in: g)
        XCTAssertEqual(problems.count, 1, "\(problems)", file: file, line: line)
        guard let p = problems.first else { return }
        XCTAssertEqual(p.subject, subject, file: file, line: line)
        XCTAssertTrue(p.description.contains(message), "'\(p.description)' lacks '\(message)'", file: file, line: line)
        XCTAssertThrowsError(try verifyOrThrow(g), file: file, line: line)
    }

    /// `small()` with its nodes edited.
    func small(_ edit: (inout [Node]) -> Void) -> Graph {
        var g = Fixtures.small()
        var nodes = g.nodes
        edit(&nodes)
        g.replaceNodes(nodes)
        return g
    }

    func testValidGraphsHaveNoProblems() throws {
        for g in [Fixtures.everyOp(), Fixtures.small(), Fixtures.oddNames(), Graph(name: "empty")] {
            XCTAssertEqual(verify(g), [])
            XCTAssertNoThrow(try verifyOrThrow(g))
        }
    }

    func testNodeIDIsItsIndex() {
        let g = small { $0[2] = Node(id: ValueID(7), op: $0[2].op, operands: [], type: $0[2].type, name: $0[2].name) }
        assertProblem(g, .node(2), "node 2 has the id %7")
    }

    func testOperandsAreEarlierNodes() {
        for bad in [4, 9, -1] {
            let g = small { $0[4].operands[1] = ValueID(bad) }
            assertProblem(g, .node(4), "operand %\(bad) is not an earlier node")
        }
    }

    func testTypeIsWhatTheTypeRulesGive() {
        var g = Fixtures.small()
        g.add(.unary(.relu), [ValueID(0)], type: f32(N, 5))
        assertProblem(g, .node(10), "has type f32[N,5], but its operands give f32[N,2]")
    }

    func testOpIsWellTyped() {
        var g = Fixtures.small()
        let i = g.add(.constant(1), type: i32())
        g.add(.binary(.add), [ValueID(0), i], type: f32(N, 2))
        assertProblem(g, .node(11), "i32 and f32 never mix")
        var h = Fixtures.small()
        h.add(.loss(.mse), [ValueID(0)], type: f32())
        assertProblem(h, .node(10), "expects 2 operands, got 1")
    }

    func testInputLeafNamesADeclarationOfItsType() {
        assertProblem(small { $0[0].op = .input("nope") }, .node(0), "no input or target is declared as 'nope'")
        var g = Fixtures.small()
        g.data[0].type = f32(N, 3)
        assertProblem(g, .node(0), "has type f32[N,2], but input 'x' is f32[N,3]")
    }

    func testParamLeafNamesADeclarationOfItsType() {
        var g = Fixtures.small()
        g.params.removeLast()
        g.gradients.removeLast()
        assertProblem(g, .node(3), "no param is declared as 'fc.bias'")
        var h = Fixtures.small()
        h.params[0].type = f32(2, 1)
        h.gradients.removeFirst()
        assertProblem(h, .node(2), "has type f32[1,2], but param 'fc.weight' is f32[2,1]")
    }

    func testEachLeafAtMostOnce() {
        var g = Fixtures.small()
        g.emit(.input("x"), [], declared: f32(N, 2))
        assertProblem(g, .node(10), "a second leaf for the same input")
        var h = Fixtures.small()
        h.emit(.param("fc.bias"), [], declared: f32(1))
        assertProblem(h, .node(10), "a second leaf for the same param")
    }

    func testDropoutSitesAreDistinct() {
        var g = Fixtures.small()
        let x = g.nodes.first { $0.op == .input("x") }!.id
        g.emit(.dropoutMask(p: 0.5, site: 3), [x])
        XCTAssertEqual(verify(g), [])
        g.emit(.dropoutMask(p: 0.1, site: 3), [x])
        assertProblem(g, .node(11), "a second dropout_mask with site 3")
    }

    func testOutputsHoldTheBatchFirst() {
        var g = Fixtures.small()
        let x = g.nodes.first { $0.op == .input("x") }!.id
        g.outputs.append(NamedValue("xt", g.emit(.transpose, [x])))
        assertProblem(g, .output(g.outputs.count - 1), "the output 'xt' has the batch on axis 1")
    }

    func testValueNamesAreUnique() {
        var g = Fixtures.small()
        g.emit(.constant(1), [], declared: f32(), name: "y")
        assertProblem(g, .node(10), "the value name 'y' is used twice")
    }

    func testConstantsAreScalars() {
        var g = Fixtures.small()
        g.add(.constant(1), type: f32(3))
        assertProblem(g, .node(10), "a constant is a scalar, not f32[3]")
    }

    func testI32ConstantsAreIntegers() {
        for v in [0.5, 2147483648, -2147483649, .infinity, .nan] {
            var g = Fixtures.small()
            g.add(.constant(v), type: i32())
            assertProblem(g, .node(10), "an i32 constant is a 32-bit integer")
        }
    }

    func testAxesAreNormalized() {
        let cases: [(Op, String)] = [
            (.reduce(.sum, axes: [1, 0], keepdim: false), "axes [1, 0] are not normalized"),
            (.count(axes: [0, 0]), "axes [0, 0] are not normalized"),
            (.reduce(.mean, axes: [-1], keepdim: false), "axis -1 is not normalized"),
            (.softmax(axis: 2), "axis 2 is not normalized"),
            (.slice(axis: -1, start: 0, length: 1), "axis -1 is not normalized"),
        ]
        for (op, message) in cases {
            var g = Fixtures.small()
            g.add(op, [ValueID(0)], type: f32())
            assertProblem(g, .node(10), message)
        }
    }

    func testTypesAreWellFormed() {
        var g = Fixtures.small()
        g.add(.constant(1), type: TensorType(.f32, Shape([.batch, .batch])))
        XCTAssertTrue(verify(g).contains { $0.contains("holds the batch N more than once") }, "\(verify(g))")
        var h = Fixtures.small()
        h.data[0].type = f32(N, 0)
        XCTAssertTrue(verify(h).contains { $0.contains("has the dimension 0") }, "\(verify(h))")
    }

    /// Sizes the text form can spell but the type rules' arithmetic could overflow on are
    /// problems, not crashes.
    func testHugeSizesAreProblemsNotCrashes() {
        var g = Fixtures.small()
        let big = g.add(.constant(1), type: f32())
        g.add(.slice(axis: 1, start: .max, length: .max), [ValueID(0)], type: f32(N, 1))
        g.add(.oneHot(classes: .max), [ValueID(1)], type: f32(N, 1))
        let huge = g.add(.broadcast, [big], type: f32(1 << 30, 1 << 30, 1 << 30))
        g.add(.reshape, [huge], type: f32(1 << 30, 1 << 30, 1 << 30))
        g.add(.broadcast, [big], type: TensorType(.f32, Shape([.fixed(.max)])))
        let problems = verify(g)
        XCTAssertEqual(problems.count, 5, "\(problems)")
        XCTAssertTrue(problems[0].contains("slice start"), problems[0])
        XCTAssertTrue(problems[1].contains("one_hot with"), problems[1])
        XCTAssertTrue(problems[2].contains("too many elements"), problems[2])
        XCTAssertTrue(problems[3].contains("too many elements"), problems[3])
        XCTAssertTrue(problems[4].contains("dimensions are in 1...2147483647"), problems[4])
    }

    func testOutputsReferToValues() {
        var g = Fixtures.small()
        g.outputs.append(NamedValue("z", ValueID(10)))
        assertProblem(g, .output(1), "%10 is not a value of the graph")
    }

    func testOutputNamesAreUnique() {
        var g = Fixtures.small()
        g.outputs.append(NamedValue("y", ValueID(1)))
        assertProblem(g, .output(1), "the output 'y' is given twice")
    }

    func testLossRefersToAValue() {
        var g = Fixtures.small()
        g.loss = ValueID(-3)
        assertProblem(g, .loss, "%-3 is not a value of the graph")
    }

    func testLossIsAnF32Scalar() {
        var g = Fixtures.small()
        g.loss = ValueID(6)
        assertProblem(g, .loss, "the loss must be an f32 scalar, not f32[N,1]")
        g.loss = g.add(.constant(1), type: i32())
        assertProblem(g, .loss, "not i32")
    }

    func testGradientsReferToValues() {
        var g = Fixtures.small()
        g.gradients[0].value = ValueID(99)
        assertProblem(g, .gradient(0), "%99 is not a value of the graph")
    }

    func testGradientsNameParams() {
        var g = Fixtures.small()
        g.gradients[1].name = "x"
        assertProblem(g, .gradient(1), "no param is declared as 'x'")
    }

    func testGradientHasItsParamsType() {
        var g = Fixtures.small()
        g.gradients[1].value = ValueID(2)
        assertProblem(g, .gradient(1), "the gradient has type f32[1,2], but the param is f32[1]")
    }

    func testEachParamHasAtMostOneGradient() {
        var g = Fixtures.small()
        g.gradients.append(g.gradients[0])
        assertProblem(g, .gradient(2), "param 'fc.weight' has two gradients")
    }

    func testStateUpdatesNameStatesOfTheirType() {
        var g = Fixtures.everyOp()
        g.stateUpdates[0].name = "fc1.weight"
        assertProblem(g, .stateUpdate(0), "no state is declared as 'fc1.weight'")
        g = Fixtures.everyOp()
        g.stateUpdates[1].value = g.stateUpdates[0].value
        assertProblem(g, .stateUpdate(1), "the new value has type f32[3], but the state is i32")
        g = Fixtures.everyOp()
        g.stateUpdates.append(g.stateUpdates[0])
        assertProblem(g, .stateUpdate(2), "state 'bn.running_var' is updated twice")
        g = Fixtures.everyOp()
        g.stateUpdates[0].value = ValueID(9999)
        assertProblem(g, .stateUpdate(0), "%9999 is not a value of the graph")
    }

    func testStateIsDeclaredWithoutBatchAndStartsAtANumber() {
        var g = Graph(name: "g")
        g.state = [StateDecl(name: "s", type: f32(N, 3), initializer: .zeros)]
        assertProblem(g, .state(0), "cannot hold the batch N")
        g.state = [StateDecl(name: "s", type: f32(3), initializer: .normal(mean: 0, std: 1))]
        assertProblem(g, .state(0), "a state starts at zeros, ones or a number")
        g.state = [StateDecl(name: "s", type: i32(), initializer: .constant(0.5))]
        assertProblem(g, .state(0), "a state starts at zeros, ones or a number")
        g.params = [ParamDecl(name: "s", type: f32(), initializer: .zeros)]
        g.state = [StateDecl(name: "s", type: f32(), initializer: .zeros)]
        assertProblem(g, .state(0), "the name 's' is declared twice")
    }

    func testStateLeafNamesADeclarationOfItsType() {
        var g = Graph(name: "g")
        g.state = [StateDecl(name: "s", type: f32(3), initializer: .ones)]
        g.add(.state("s"), type: f32(2))
        assertProblem(g, .node(0), "has type f32[2], but state 's' is f32[3]")
        g.replaceNodes([])
        g.add(.state("t"), type: f32(3))
        assertProblem(g, .node(0), "no state is declared as 't'")
    }

    func testDeclarationNamesAreUnique() {
        var g = Fixtures.small()
        g.params.append(ParamDecl(name: "x", type: f32(), initializer: .zeros))
        assertProblem(g, .param(2), "the name 'x' is declared twice")
    }

    func testBatchOnlyFirstInData() {
        var g = Graph(name: "g")
        g.data = [DataDecl(name: "x", role: .input, type: f32(3, N))]
        assertProblem(g, .data(0), "holds the batch N after the first axis")
    }

    func testParamsAreF32WithoutBatch() {
        var g = Graph(name: "g")
        g.params = [ParamDecl(name: "w", type: i32(3), initializer: .zeros)]
        assertProblem(g, .param(0), "a param is f32, not i32[3]")
        g.params = [ParamDecl(name: "w", type: f32(N, 3), initializer: .zeros)]
        assertProblem(g, .param(0), "cannot hold the batch N")
    }

    func testInitializersAreSane() {
        let bad: [Initializer] = [.constant(.nan), .normal(mean: 0, std: -1), .uniform(low: 1, high: 0),
                                  .uniform(low: 0, high: .infinity)]
        for i in bad {
            var g = Graph(name: "g")
            g.params = [ParamDecl(name: "w", type: f32(2), initializer: i)]
            XCTAssertEqual(Verifier.problems(in: g).map(\.subject), [.param(0)], "\(i)")
        }
    }

    func testTrainSettingsAreSane() {
        let edits: [(inout TrainConfig) -> Void] = [
            { $0.batch = 0 }, { $0.accumulate = 0 }, { $0.validation = 1 }, { $0.validation = -0.1 },
            { $0.normalize = ["w"] }, { $0.normalize = ["x", "x"] },
            { $0.columns = [ColumnBinding(name: "q", columns: "1")] },
            { $0.columns = [ColumnBinding(name: "x", columns: "1"), ColumnBinding(name: "x", columns: "2")] },
        ]
        for edit in edits {
            var g = Fixtures.small()
            edit(&g.train)
            XCTAssertEqual(Verifier.problems(in: g).map(\.subject), [.train], "\(g.train)")
        }
    }

    func testProblemsPrintWithTheirSubject() {
        var g = Fixtures.small()
        g.outputs = [NamedValue("bad name", ValueID(42))]
        XCTAssertEqual(verify(g), ["output \"bad name\": %42 is not a value of the graph"])
        XCTAssertEqual("\(VerificationError(problems: Verifier.problems(in: g)))",
                       "invalid IR:\n  output \"bad name\": %42 is not a value of the graph")
    }
}
