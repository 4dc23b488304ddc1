import DLCBackendKit
import DLCDiagnostics
import DLCDriver
import DLCIR
import DLCLowering
import Foundation
import XCTest

/// Decisions Lowering makes once for every backend, and what the printers make of them.
final class LoweringTests: XCTestCase {
    private func program(_ model: String) throws -> KernelProgram {
        let url = Golden.root.appendingPathComponent("models/\(model)")
        let p = Pipeline(source: SourceFile(path: model, bytes: try [UInt8](Data(contentsOf: url))))
        return try p.kernelProgram().get()
    }

    private func gemms(_ e: Entry) -> [GemmKernel] {
        e.kernels.compactMap { if case .gemm(let g) = $0.body { return g }; return nil }
    }

    private func sums(_ e: Entry) -> [(buffer: Buffer, count: Affine)] {
        e.kernels.compactMap { if case .sumAcrossProcesses(let b, let c) = $0.body { return (e.buffer(b), c) }; return nil }
    }

    /// Batch normalization in a data-parallel step (BatchPartition): its batch mean and
    /// variance, and the two sums of its backward pass that feed every row, are summed across
    /// processes (16 floats each, one per channel), in the train entry only; the gradients
    /// and the running statistics are not (the runtime sums the gradients once; every process
    /// computes the same running statistics from the summed ones).
    func testBatchStatisticsAreSummedAcrossProcessesOnceEach() throws {
        let p = try program("digits_cnn.dl")
        XCTAssertTrue(p.sumsAcrossProcesses)
        let train = sums(p.entry(.train))
        XCTAssertEqual(train.count, 4, train.map(\.buffer.name).joined(separator: ", "))
        for s in train {
            XCTAssertEqual(s.count, .fixed(16), s.buffer.name)
            guard case .arena = s.buffer.storage else { return XCTFail("\(s.buffer.name) is summed in \(s.buffer.storage)") }
        }
        XCTAssertEqual(Set(train.map(\.buffer.id)).count, 4, "each buffer summed once")
        for kind in [EntryKind.sgd, .eval, .predict] { XCTAssertTrue(sums(p.entry(kind)).isEmpty, "\(kind)") }
        XCTAssertNil(p.entry(.train).mixesRows)
    }

    /// A model whose step sums nothing over the batch but the loss and its gradients lowers as
    /// before: no sums across processes, no counts over the global batch.
    func testAModelWithoutBatchStatisticsSumsNothing() throws {
        let p = try program("digits.dl")
        XCTAssertFalse(p.sumsAcrossProcesses)
        for e in p.entries {
            for k in e.kernels {
                guard case .elementwise(let x) = k.body else { continue }
                XCTAssertFalse(x.operands.contains { if case .globalCount = $0 { return true }; return false },
                               "\(e.kind): \(e.buffer(x.output).name)")
            }
        }
    }

    /// A `linear` whose product can run as loops carries its bias and ReLU as the GEMM's
    /// epilogue; no separate pass over its result is left.
    func testSmallLinearCarriesItsEpilogue() throws {
        let e = try program("digits.dl").entry(.train)
        let forward = gemms(e).filter { $0.epilogue != nil }
        XCTAssertEqual(forward.count, 2, "both layers of digits fuse their bias (and ReLU)")
        for g in forward {
            XCTAssertEqual(g.epilogue?.output, g.c)
            let passes = e.kernels.filter { if case .elementwise(let x) = $0.body { return x.output == g.c }; return false }
            XCTAssertTrue(passes.isEmpty, "\(e.buffer(g.c).name) still has a pass of its own")
        }
        guard case .unary(.relu, _)? = forward.first?.epilogue?.expr else {
            return XCTFail("the first layer's epilogue applies its ReLU: \(String(describing: forward.first?.epilogue?.expr))")
        }
    }

    /// The softmax cross-entropy gradient of a training step computes from the probabilities
    /// its loss kept, so it reads those and not the logits: the logits' memory is free once the
    /// loss has run, and the gradient (their shape) takes it.
    func testSoftmaxCrossEntropyGradientReadsTheKeptProbabilitiesOnly() throws {
        let e = try program("digits.dl").entry(.train)
        let grad = try XCTUnwrap(e.kernels.first { if case .softmaxCrossEntropyGrad = $0.body { return true }; return false })
        guard case .softmaxCrossEntropyGrad(let out, let logits, let labels, let probabilities?, _, _, _) = grad.body else {
            return XCTFail("the train step's gradient reads no kept probabilities")
        }
        XCTAssertEqual(Set(grad.body.access.reads), [labels, probabilities])
        XCTAssertEqual(e.buffer(out).storage, e.buffer(logits).storage, "the gradient takes the logits' memory")
    }

    /// A product that always calls BLAS keeps its bias pass as a kernel of its own; an SGD
    /// update's GEMM (beta = 1) never carries one.
    func testLargeOrUpdatingProductsCarryNoEpilogue() throws {
        let p = try program("mnist_mlp.dl")
        let first = try XCTUnwrap(gemms(p.entry(.train)).first)
        XCTAssertEqual(GemmPolicy.callsBLAS(first), true)
        XCTAssertNil(first.epilogue)
        for g in gemms(p.entry(.sgd)) + gemms(try program("digits.dl").entry(.sgd)) where g.alphaIsNegativeLearningRate {
            XCTAssertNil(g.epilogue)
        }
    }

    /// The C of a product whose size depends on the batch tests that size once: a dead second
    /// test inside the BLAS branch was printed before.
    func testEachBatchDependentProductTestsItsSizeOnce() throws {
        for model in ["wine_hinge.dl", "digits.dl", "cars.dl", "lecture_mlp.dl"] {
            let url = Golden.root.appendingPathComponent("models/\(model)")
            let p = Pipeline(source: SourceFile(path: model, bytes: try [UInt8](Data(contentsOf: url))))
            let program = try p.kernelProgram().get()
            let dependent = program.entries.flatMap(gemms).filter { GemmPolicy.callsBLAS($0) == nil }.count
            let c = try p.emit(EmitStage(named: "c")!).get()
            XCTAssertGreaterThan(dependent, 0, model)
            // Each such product is a kernel function of its own (printed once for the entries
            // that share it): one test in each.
            let functions = c.components(separatedBy: "\n}\n")
            let tests = functions.map { $0.components(separatedBy: "<= \(GemmPolicy.smallGemm))").count - 1 }
            XCTAssertEqual(Set(tests.filter { $0 > 0 }), [1], "\(model): run-time size tests in one C function")
            XCTAssertGreaterThan(tests.reduce(0, +), 0, model)
            XCTAssertLessThanOrEqual(tests.reduce(0, +), dependent, model)
        }
    }
}

/// Lowering names buffers for no language in particular; each printer renames what its own
/// language reserves.
final class BufferNameTests: XCTestCase {
    func testLoweringNamesAreNeutralAndPrintersRenameTheirReservedWords() throws {
        let url = Golden.root.appendingPathComponent("models/line_grid.dl")
        let p = Pipeline(source: SourceFile(path: "line_grid.dl", bytes: try [UInt8](Data(contentsOf: url))))
        let names = try p.kernelProgram().get().entry(.train).buffers.map(\.name)
        XCTAssertTrue(names.contains("i") && names.contains("k"), "\(names)")
        for name in names {
            XCTAssertNotNil(name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression), name)
        }
        XCTAssertEqual(Set(names).count, names.count)
        // C reserves i and k (loop counters); LLVM IR does not.
        let c = try p.emit(EmitStage(named: "c")!).get()
        XCTAssertTrue(c.contains("float *const i_2 = ") && c.contains("int32_t *const k_2 = "), c)
        let ll = try p.emit(EmitStage(named: "llvm")!).get()
        XCTAssertTrue(ll.contains("  %i = getelementptr inbounds i8, ptr %arena") && ll.contains("  %k = getelementptr"), ll)
    }

    func testRenamingKeepsNamesUnique() {
        func buffer(_ i: Int, _ name: String) -> Buffer {
            Buffer(id: BufferID(i), name: name, type: TensorType(.f32, []), storage: .arena(offset: .zero), value: ValueID(i))
        }
        let e = Entry(kind: .train, buffers: [buffer(0, "n"), buffer(1, "n_2"), buffer(2, "x"), buffer(3, "s")], kernels: [],
                      unavailable: nil, arenaBytes: .zero, loss: nil, outputs: [])
        XCTAssertEqual(e.renamed(avoiding: ["n", "s", "s_2"]).buffers.map(\.name), ["n_3", "n_2", "x", "s_3"])
    }
}
