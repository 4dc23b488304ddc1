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
            let c = try p.cSource().get()
            let tests = c.components(separatedBy: "<= \(GemmPolicy.smallGemm))").count - 1
            XCTAssertGreaterThan(dependent, 0, model)
            XCTAssertEqual(tests, dependent, "\(model): run-time size tests in the C")
        }
    }
}
