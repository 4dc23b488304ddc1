@testable import DLCDriver
import DLCRuntimeSources
import Foundation
import XCTest

/// Building trainers from codegen/tests' hand-written models (stand-ins for generated code).
/// Needs a C compiler, OpenBLAS and zlib, as every trainer build does.
final class TrainerBuilderTests: XCTestCase {
    /// A builder with its own empty cache, for tests that count what gets compiled.
    func freshBuilder(_ label: String) throws -> TrainerBuilder {
        TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, label + "-cache")))
    }

    /// A builder whose cache the other tests share (the runtime is compiled once for them).
    static let sharedCacheRoot = (NSTemporaryDirectory() as NSString)
        .appendingPathComponent("dlc-driver-tests-shared-\(UUID().uuidString.prefix(8))")
    func sharedBuilder() -> TrainerBuilder { TrainerBuilder(cache: BuildCache(root: Self.sharedCacheRoot)) }

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: sharedCacheRoot)
        super.tearDown()
    }

    func testBuiltTrainerRunsAndSecondBuildReusesTheRuntime() throws {
        let builder = try freshBuilder("reuse")
        let out = try temporaryDirectory(self, "reuse-out")
        let binary = out + "/linreg"

        let first = try builder.build(modelSource: try standInModel("linreg_model.c"), modelName: "cars_linreg", output: binary)
        let parts = RuntimeParts.plan(EmbeddedRuntime.files, cores: RuntimeParts.cores)
        XCTAssertEqual(first.runtimeObjectsCompiled, parts.count, "a fresh cache compiles every part of the runtime")
        XCTAssertEqual(listing(first.runtimeDirectory).filter { $0.hasSuffix(".o") }.sorted(), parts.map(\.objectName).sorted())
        XCTAssertTrue(first.probedToolchain)

        let help = try runProgram(binary, ["--help"])
        XCTAssertEqual(help.status, 0, help.output)
        XCTAssertTrue(help.output.contains("usage:"), help.output)
        let info = try runProgram(binary, ["info"])
        XCTAssertEqual(info.status, 0, info.output)
        XCTAssertTrue(info.output.contains("model cars_linreg"), info.output)
        XCTAssertTrue(info.output.contains("lin.weight"), info.output)

        // Another model, same cache: only model.c is compiled, the toolchain is not re-tested.
        let second = try builder.build(modelSource: try standInModel("mlp_model.c"), modelName: "mlp", output: out + "/mlp")
        XCTAssertEqual(second.runtimeObjectsCompiled, 0)
        XCTAssertFalse(second.probedToolchain)
        XCTAssertEqual(second.runtimeDirectory, first.runtimeDirectory)
        XCTAssertEqual(try runProgram(out + "/mlp", ["--help"]).status, 0)
        // Nothing but the two trainers is left beside them.
        XCTAssertEqual(listing(out), ["linreg", "mlp"])
    }

    func testCErrorIsAnInternalErrorAndLeavesNoOutput() throws {
        let builder = sharedBuilder()
        let out = try temporaryDirectory(self, "cerror-out")
        let source = "#include \"dlc_model.h\"\nint broken(void) { return ; }\nint x = ;\n"
        XCTAssertThrowsError(try builder.build(modelSource: source, modelName: "broken", output: out + "/broken")) { error in
            guard case .modelCompileFailed(let model, let kept, let output) = error as? TrainerBuildError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(model, "broken")
            XCTAssertEqual(try? String(contentsOfFile: kept, encoding: .utf8), source, "the generated file is kept")
            XCTAssertTrue(output.contains("model.c:3"), output)
            let message = (error as! TrainerBuildError).message
            XCTAssertTrue(message.hasPrefix("error: internal compiler error:"), message)
            XCTAssertTrue(message.contains(kept), message)
            XCTAssertTrue((error as! TrainerBuildError).isInternal)
            try? FileManager.default.removeItem(atPath: (kept as NSString).deletingLastPathComponent)
        }
        XCTAssertEqual(listing(out), [], "no output and no temporary file")
    }

    func testFailedBuildLeavesThePreviousTrainerUntouched() throws {
        let builder = sharedBuilder()
        let out = try temporaryDirectory(self, "keep-out")
        let binary = out + "/trainer"
        try builder.build(modelSource: try standInModel("descend_model.c"), modelName: "descend", output: binary)
        let before = try Data(contentsOf: URL(fileURLWithPath: binary))

        // Compiles, but does not link: no dlc_generated_model.
        XCTAssertThrowsError(try builder.build(modelSource: "int unrelated = 1;\n", modelName: "nolink", output: binary)) { error in
            guard case .linkFailed(_, let kept, _)? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
            try? FileManager.default.removeItem(atPath: (kept as NSString).deletingLastPathComponent)
        }
        XCTAssertThrowsError(try builder.build(modelSource: "syntax error", modelName: "bad", output: binary)) { error in
            guard case .modelCompileFailed(_, let kept, _)? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
            try? FileManager.default.removeItem(atPath: (kept as NSString).deletingLastPathComponent)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: binary)), before)
        XCTAssertEqual(try runProgram(binary, ["--help"]).status, 0)
        XCTAssertEqual(listing(out), ["trainer"])
    }

    func testConcurrentBuildsShareOneCache() throws {
        let builder = try freshBuilder("concurrent")
        let out = try temporaryDirectory(self, "concurrent-out")
        let models = ["linreg_model.c", "grid_model.c", "descend_model.c"]
        let sources = try models.map(standInModel)
        let results = ResultBox(count: models.count)
        DispatchQueue.concurrentPerform(iterations: models.count) { i in
            results.set(i, Result { try builder.build(modelSource: sources[i], modelName: "m\(i)", output: out + "/m\(i)") })
        }
        for (i, result) in results.all.enumerated() {
            XCTAssertNoThrow(try result!.get(), "build \(i)")
            XCTAssertEqual(try runProgram(out + "/m\(i)", ["info"]).status, 0)
        }
        XCTAssertEqual(listing(out), ["m0", "m1", "m2"])
    }

    func testGeneratedFileErrorWhileTheRuntimeCompilesIsTheModelsAndTheRuntimeIsKept() throws {
        // The runtime's parts compile beside the model's file: the model's error is reported
        // as before, and the parts that compiled are in the cache for the next build.
        let builder = try freshBuilder("overlap")
        let out = try temporaryDirectory(self, "overlap-out")
        XCTAssertThrowsError(try builder.build(modelSource: "#include \"dlc_model.h\"\nint x = ;\n", modelName: "broken",
                                               output: out + "/broken")) { error in
            guard case .modelCompileFailed(_, let kept, let output)? = error as? TrainerBuildError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(output.contains("model.c:2"), output)
            try? FileManager.default.removeItem(atPath: (kept as NSString).deletingLastPathComponent)
        }
        let next = try builder.build(modelSource: try standInModel("descend_model.c"), modelName: "descend", output: out + "/descend")
        XCTAssertEqual(next.runtimeObjectsCompiled, 0, "the runtime compiled during the failed build")
        XCTAssertFalse(next.probedToolchain)
        XCTAssertEqual(try runProgram(out + "/descend", ["info"]).status, 0)
    }

    func testRuntimeCompileErrorNamesTheRuntimeFileAndLine() throws {
        // A runtime file that does not compile (a bug in dlc) is named with its folder, and the
        // compiler's output points at its line, though the file compiled inside a part.
        var builder = try freshBuilder("runtime-error")
        let out = try temporaryDirectory(self, "runtime-error-out")
        let broken = try XCTUnwrap(builder.runtimeFiles.firstIndex { $0.name == "dlc_format.c" })
        let file = builder.runtimeFiles[broken]
        let line = file.contents.split(separator: "\n", omittingEmptySubsequences: false).count
        builder.runtimeFiles[broken] = RuntimeFile(name: file.name, folder: file.folder, contents: file.contents + "int broken = ;\n")
        XCTAssertThrowsError(try builder.build(modelSource: try standInModel("descend_model.c"), modelName: "descend",
                                               output: out + "/descend")) { error in
            guard case .runtimeCompileFailed(let name, let output)? = error as? TrainerBuildError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(name, "progress/dlc_format.c")
            XCTAssertTrue(output.contains("dlc_format.c:\(line):"), output)
            let message = (error as! TrainerBuildError).message
            XCTAssertTrue(message.contains("dlc's C runtime file progress/dlc_format.c does not compile"), message)
        }
        XCTAssertEqual(listing(out), [], "no trainer and no temporary file")
    }

    func testOutputInAMissingDirectoryIsAClearError() throws {
        let builder = sharedBuilder()
        XCTAssertThrowsError(try builder.build(modelSource: "", modelName: "m", output: "/nonexistent-dir/trainer")) { error in
            XCTAssertTrue("\(error)".contains("'/nonexistent-dir' does not exist"), "\(error)")
        }
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<TrainerBuildReport, Error>?]
    init(count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ result: Result<TrainerBuildReport, Error>) {
        lock.lock()
        results[i] = result
        lock.unlock()
    }
    var all: [Result<TrainerBuildReport, Error>?] {
        lock.lock()
        defer { lock.unlock() }
        return results
    }
}
