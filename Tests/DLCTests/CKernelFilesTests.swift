import DLCBackendKit
@testable import DLCBackendC
import DLCDiagnostics
import DLCDriver
import Foundation
import XCTest

/// The C backend's files: `model.c` (entries and descriptor) and the kernel functions spread
/// over up to `CKernelFiles.maximumFiles` files that the driver compiles side by side.
final class CKernelFilesTests: XCTestCase {
    func testThePartsAreContiguousBalancedAndNeverEmpty() {
        XCTAssertEqual(CKernelFiles.parts([]), [])
        XCTAssertEqual(CKernelFiles.parts([100]), [0..<1])
        // Small models: one file.
        XCTAssertEqual(CKernelFiles.parts([1000, 2000, 1500]), [0..<3])
        // 16 equal functions, 4 files' worth of text: four of four.
        XCTAssertEqual(CKernelFiles.parts(Array(repeating: 2000, count: 16)), [0..<4, 4..<8, 8..<12, 12..<16])
        // Far more text: still at most `maximumFiles`.
        XCTAssertEqual(CKernelFiles.parts(Array(repeating: 9000, count: 40)).count, CKernelFiles.maximumFiles)
        // A function larger than the rest together fills a file of its own; none is empty.
        let parts = CKernelFiles.parts([500, 30_000, 500, 500])
        XCTAssertEqual(parts.first?.lowerBound, 0)
        XCTAssertEqual(parts.last?.upperBound, 4)
        XCTAssertTrue(parts.allSatisfy { !$0.isEmpty })
        XCTAssertTrue(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        XCTAssertTrue(parts.contains(1..<2) || parts.contains { $0.contains(1) && $0.count <= 2 }, "\(parts)")
    }

    /// Every model and program: `model.c` first, then `model_kernels_N.c`, each file compiling
    /// on its own (the driver compiles them apart: a header only one file includes, or a
    /// function one file calls and another defines without a prototype, fails here), and
    /// every kernel function defined in a kernels file and declared in model.c.
    func testEachFileCompilesOnItsOwn() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-c-files-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let programs = Golden.programs(in: Golden.root.appendingPathComponent("models"))
            + Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        var split = 0
        for url in programs {
            let p = Pipeline(source: SourceFile(path: url.path, bytes: try [UInt8](Data(contentsOf: url))))
            guard let files = try? p.generatedFiles(CBackend(), for: .unspecified).get() else { continue }
            let name = url.lastPathComponent
            XCTAssertEqual(files.first?.name, "model.c", name)
            XCTAssertEqual(files.dropFirst().map(\.name), (0..<(files.count - 1)).map { "model_kernels_\($0 + 1).c" }, name)
            XCTAssertLessThanOrEqual(files.count - 1, CKernelFiles.maximumFiles, name)
            if files.count > 2 { split += 1 }
            let model = files[0].contents
            XCTAssertFalse(model.contains("__attribute__((noinline))"), "\(name): model.c defines a kernel function")
            for file in files.dropFirst() {
                for line in file.contents.split(separator: "\n") where line.hasPrefix("__attribute__((noinline)) void ") {
                    let declaration = line.dropFirst("__attribute__((noinline)) ".count).dropLast(" {".count) + ";"
                    XCTAssertTrue(model.contains("\n" + declaration + "\n"), "\(name): model.c does not declare \(declaration)")
                }
            }
            for file in files {
                let path = work.appendingPathComponent(file.name)
                try file.contents.write(to: path, atomically: true, encoding: .utf8)
                // model.c's entry prologues may name a buffer the entry never uses (unused-variable).
                let r = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
                    HarnessComparison.compiler, "-fsyntax-only", "-std=c11", "-Wall", "-Werror", "-Wno-unused-variable",
                    "-Wno-unused-but-set-variable",
                    "-I", Golden.root.appendingPathComponent("codegen").path, path.path,
                ])
                XCTAssertEqual(r.status, 0, "\(name): \(file.name) does not compile alone:\n\(r.stderr)")
            }
        }
        XCTAssertGreaterThan(split, 3, "no model's kernels span two files: the golden models shrank?")
    }
}
