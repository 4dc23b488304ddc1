import XCTest
import DLCIR
import DLCInterpreter
@testable import DLCAutodiff

/// A forward graph under construction, with seeded random values for its params and data.
struct Fixture {
    var graph = Graph(name: "test")
    var params: [String: Tensor] = [:]
    var feeds: [String: Tensor] = [:]
    var rng: SplitMix64
    /// The batch size that `N` takes in the feeds.
    let batch: Int

    init(seed: UInt64, batch: Int = 3) {
        rng = SplitMix64(state: seed)
        self.batch = batch
    }

    // MARK: Random numbers

    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * rng.uniform01()
    }

    /// A standard normal draw (Box–Muller).
    mutating func normal() -> Double {
        let u = 1 - rng.uniform01(), v = rng.uniform01()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + rng.below(range.count) }

    /// Values: uniform in `range`, or standard normal.
    mutating func values(_ count: Int, in range: ClosedRange<Double>? = nil) -> [Double] {
        (0..<count).map { _ in range.map { uniform($0) } ?? normal() }
    }

    // MARK: Leaves

    /// A param with fixed sizes and random values.
    @discardableResult
    mutating func param(_ name: String, _ dims: [Int], in range: ClosedRange<Double>? = nil,
                        values given: [Double]? = nil) -> ValueID {
        let type = TensorType(.f32, Shape(dims.map { .fixed($0) }))
        graph.params.append(ParamDecl(name: name, type: type, initializer: .zeros))
        params[name] = Tensor(shape: dims, scalars: given ?? values(Tensor.count(dims), in: range))
        return graph.add(.param(name), type: type, name: name)
    }

    /// An input (or target) fed with random values, or with `values`; `.batch` dims take `batch`.
    @discardableResult
    mutating func input(_ name: String, _ shape: Shape, dtype: DType = .f32, role: DataRole = .input,
                        in range: ClosedRange<Double>? = nil, values given: [Double]? = nil) -> ValueID {
        let type = TensorType(dtype, shape)
        graph.data.append(DataDecl(name: name, role: role, type: type))
        let sizes = shape.sizes(batch: batch)
        feeds[name] = Tensor(shape: sizes, scalars: given ?? values(Tensor.count(sizes), in: range))
        return graph.add(.input(name), type: type, name: name)
    }

    /// An f32 scalar literal.
    mutating func constant(_ c: Double, _ dtype: DType = .f32) -> ValueID {
        graph.add(.constant(c), type: TensorType(dtype))
    }

    // MARK: Ops

    @discardableResult
    mutating func emit(_ op: Op, _ operands: [ValueID], declared: TensorType? = nil, name: String? = nil) -> ValueID {
        graph.emit(op, operands, declared: declared, name: name)
    }

    mutating func unary(_ u: UnaryOp, _ x: ValueID) -> ValueID { emit(.unary(u), [x]) }
    mutating func binary(_ b: BinaryOp, _ x: ValueID, _ y: ValueID) -> ValueID { emit(.binary(b), [x, y]) }
    mutating func sum(_ x: ValueID, _ axes: [Int]? = nil, keepdim: Bool = false) -> ValueID {
        emit(.reduce(.sum, axes: axes ?? Array(0..<graph.type(of: x).rank), keepdim: keepdim), [x])
    }

    /// Makes the loss sum(y · W), W fixed random data of y's shape, so that every element of y
    /// has its own weight in the loss.
    mutating func weightedSumLoss(_ y: ValueID) {
        let type = graph.type(of: y)
        let w = input("loss_weights", type.shape)
        let product = binary(.mul, y, w)
        graph.loss = type.isScalar ? product : sum(product)
    }
}

// MARK: - Assertions

/// Differentiates the fixture's graph, evaluates the AD gradients with the reference
/// interpreter (double precision) and compares each param's with central differences.
/// Also checks the structure of the training graph (`assertWellFormed`).
func assertGradientsMatch(_ f: Fixture, tolerance: Double = 1e-6, mode: Interpreter.Mode = .evaluation,
                          file: StaticString = #filePath, line: UInt = #line) {
    do {
        let train = try differentiate(f.graph)
        assertWellFormed(f.graph, train, file: file, line: line)
        let names = f.graph.params.map(\.name)
        func run(_ g: Graph, _ params: [String: Tensor]) throws -> Interpreter.Values {
            // The same masks in every run.
            try Interpreter(graph: g).run(feeds: f.feeds, params: params, mode: mode,
                                          dropout: DropoutDraw(seed: 42, epoch: 0, firstRow: 0))
        }
        let values = try run(train, f.params)
        let ad = train.gradients.map { values[$0.value].scalars }
        for (name, g) in zip(names, ad) {
            XCTAssertEqual(g.count, f.params[name]!.count, "size of d.\(name)", file: file, line: line)
        }
        let results = try GradientCheck(tolerance: tolerance).run(f.graph, params: names.map { f.params[$0]!.scalars },
                                                                  gradients: ad) { theta in
            var params = f.params
            for (name, v) in zip(names, theta) { params[name] = Tensor(shape: params[name]!.shape, scalars: v) }
            return try run(f.graph, params)[f.graph.loss!].scalar!
        }
        for r in results {
            XCTAssertLessThanOrEqual(r.maxRelativeError, tolerance,
                                     "d.\(r.name)[\(r.worstIndex)]: AD \(r.analytic), numeric \(r.numeric)",
                                     file: file, line: line)
            XCTAssertTrue(r.passed(tolerance: tolerance), "d.\(r.name): \(r.skipped) elements at kinks, none checked",
                          file: file, line: line)
        }
    } catch {
        XCTFail("\(error)", file: file, line: line)
    }
}

/// The training graph keeps the forward nodes, types every node, has one gradient per param
/// with the param's type, emits no node that nothing uses, and applies the trivial
/// simplifications (no multiplying by 1, no sum_to / broadcast / reshape to the same shape).
func assertWellFormed(_ forward: Graph, _ train: Graph, file: StaticString = #filePath, line: UInt = #line) {
    let n = forward.nodes.count
    XCTAssertEqual(Array(train.nodes.prefix(n)), forward.nodes, "forward nodes changed", file: file, line: line)
    XCTAssertEqual(train.gradients.map(\.name), forward.params.map(\.name), file: file, line: line)
    for (g, p) in zip(train.gradients, forward.params) {
        XCTAssertEqual(train.type(of: g.value), p.type, "type of d.\(p.name)", file: file, line: line)
    }
    XCTAssertNoThrow(try Interpreter(graph: train).verify(), file: file, line: line)
    XCTAssertEqual(verify(train), [], file: file, line: line)

    var used = Set(train.gradients.map(\.value))
    for node in train.nodes[n...] { used.formUnion(node.operands) }
    for node in train.nodes[n...] {
        let what = "%\(node.id.index) \(node.op.mnemonic)"
        XCTAssert(used.contains(node.id), "\(what) is never used", file: file, line: line)
        let operandConstants = node.operands.map { v -> Double? in
            if case .constant(let c) = train[v].op { return c } else { return nil }
        }
        switch node.op {
        case .binary(.mul):
            XCTAssertFalse(operandConstants.contains(1), "\(what) multiplies by 1", file: file, line: line)
        case .binary(.div):
            XCTAssertNotEqual(operandConstants[1], 1, "\(what) divides by 1", file: file, line: line)
        case .sumTo, .broadcast, .reshape:
            XCTAssertNotEqual(train.type(of: node.operands[0]), node.type, "\(what) keeps the shape",
                              file: file, line: line)
        default: break
        }
    }
}

/// The AD gradients of a fixture's params, by name.
func gradients(_ f: Fixture) throws -> [String: Tensor] {
    let train = try differentiate(f.graph)
    let values = try Interpreter(graph: train).run(feeds: f.feeds, params: f.params)
    return Dictionary(uniqueKeysWithValues: train.gradients.map { ($0.name, values[$0.value]) })
}
