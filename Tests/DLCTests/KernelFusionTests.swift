import DLCDiagnostics
import DLCDriver
import DLCLowering
import Foundation
import XCTest

/// What elementwise fusion (`KernelFusion`) leaves in the kernel program of every model and
/// golden program: a loop that inlined its producer lists only the operands its expression
/// still reads, so the producer's result, never written any more, is read by no kernel either
/// (the memory plan, the entry prologues and the kernel functions all go by a kernel's reads).
final class KernelFusionTests: XCTestCase {
    /// The kernel program of each model in `models/` and each golden program, by file name.
    private func kernelPrograms() throws -> [(name: String, program: KernelProgram)] {
        let files = Golden.programs(in: Golden.root.appendingPathComponent("models"))
            + Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        XCTAssertGreaterThan(files.count, 40, "too few programs found: the folders moved?")
        return try files.compactMap { url in
            let p = Pipeline(source: SourceFile(path: url.standardizedFileURL.path, bytes: try [UInt8](Data(contentsOf: url))))
            switch p.kernelProgram() {
            case .success(let program): return (url.lastPathComponent, program)
            case .failure(let f):
                XCTFail("\(url.lastPathComponent) does not lower:\n\(f.rendered)")
                return nil
            }
        }
    }

    /// The operand slots an expression refers to, counted here rather than by a helper of the
    /// code under test.
    private func slots(_ x: ScalarExpr) -> Set<Int> {
        switch x {
        case .operand(let i): return [i]
        case .unary(_, let a), .pow(let a, _): return slots(a)
        case .binary(_, let a, let b): return slots(a).union(slots(b))
        case .select(let c, let a, let b): return slots(c).union(slots(a)).union(slots(b))
        }
    }

    /// Every elementwise loop (a GEMM's epilogue too) refers to each of its operand slots, and
    /// to no slot past its operand list.
    func testEveryOperandSlotIsReadByItsExpression() throws {
        var loops = 0
        for (name, program) in try kernelPrograms() {
            for e in program.entries {
                for (i, k) in e.kernels.enumerated() {
                    let loop: ElementwiseKernel
                    switch k.body {
                    case .elementwise(let x): loop = x
                    case .gemm(let g) where g.epilogue != nil: loop = g.epilogue!
                    default: continue
                    }
                    loops += 1
                    XCTAssertEqual(slots(loop.expr).sorted(), Array(loop.operands.indices),
                                   "\(name), entry \(e.kind.rawValue), kernel \(i) (\(e.buffer(loop.output).name)): "
                                   + "its expression and its operand slots differ")
                }
            }
        }
        XCTAssertGreaterThan(loops, 500, "too few elementwise loops found")
    }

    /// A kernel reads an arena buffer only after a kernel before it wrote that memory: a
    /// producer's result that fusion inlined is written by no kernel, so no kernel may still
    /// list it among its reads (the memory plan gives it no memory of its own). A GEMM's
    /// epilogue reads the product the same kernel just wrote.
    func testNoKernelReadsAnArenaBufferNothingWrote() throws {
        var reads = 0
        for (name, program) in try kernelPrograms() {
            for e in program.entries {
                var written = Set<BufferID>()
                for (i, k) in e.kernels.enumerated() {
                    let (writes, kernelReads) = k.body.access
                    var readable = written
                    if case .gemm = k.body { readable.formUnion(writes.map(e.root)) }
                    for r in kernelReads {
                        guard case .arena = e.buffer(e.root(r)).storage else { continue }
                        reads += 1
                        XCTAssertTrue(readable.contains(e.root(r)),
                                      "\(name), entry \(e.kind.rawValue), kernel \(i) reads \(e.buffer(r).name), "
                                      + "which no kernel before it wrote")
                    }
                    written.formUnion(writes.map(e.root))
                }
            }
        }
        XCTAssertGreaterThan(reads, 500, "too few arena reads found")
    }
}
