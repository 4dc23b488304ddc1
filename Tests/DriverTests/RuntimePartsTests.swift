@testable import DLCDriver
import DLCRuntimeSources
import XCTest

/// How the runtime's .c files are grouped into unity parts (RuntimeParts.swift). The build of
/// the parts themselves is TrainerBuilderTests'; that every file compiles beside every other is
/// codegen/tests/run.sh's.
final class RuntimePartsTests: XCTestCase {
    let runtime = EmbeddedRuntime.files
    var sources: [String] { runtime.filter(\.isSource).map(\.name).sorted() }

    func testEveryRuntimeFileIsInExactlyOnePartWhateverTheCores() {
        for cores in [1, 2, 3, 4, 8, 16, 64] {
            let parts = RuntimeParts.plan(runtime, cores: cores)
            XCTAssertEqual(parts.flatMap(\.files).sorted(), sources, "\(cores) cores")
            XCTAssertEqual(Set(parts.map(\.name)).count, parts.count, "part names are unique")
            XCTAssertFalse(parts.contains { $0.files.isEmpty }, "\(cores) cores: an empty part")
            XCTAssertEqual(RuntimeParts.plan(runtime, cores: cores), parts, "the same cores give the same parts")
        }
    }

    func testTwoCoresSplitTheHotFilesInTwoAndTheRestByLevel() {
        let parts = RuntimeParts.plan(runtime, cores: 2)
        XCTAssertEqual(parts.map(\.optimization), ["-O3", "-O3", "-O1", "-O0"])
        let hot = parts.filter { $0.optimization == "-O3" }.map { RuntimeObjects.cost($0, files: runtime) }
        XCTAssertLessThan(abs(hot[0] - hot[1]) / (hot[0] + hot[1]), 0.1, "the two -O3 parts are about as large: \(hot)")
        // More cores, more parts: each level keeps at least one, the hot one gets most.
        let many = RuntimeParts.plan(runtime, cores: 16)
        XCTAssertGreaterThan(many.filter { $0.optimization == "-O3" }.count, 8)
    }

    func testTheHotPathStaysAtO3AndTheListsNameRuntimeFiles() {
        for name in ["dlc_device_host.c", "dlc_host_gemm.c", "dlc_parallel.c", "dlc_train.c", "dlc_runner.c", "dlc_optim.c",
                     "dlc_metrics.c", "dlc_batch.c", "dlc_data.c", "dlc_data_csv.c", "dlc_data_idx.c", "dlc_data_npy.c",
                     "dlc_reader.c", "dlc_eval.c", "dlc_comm_mpi.c"] {
            XCTAssertTrue(sources.contains(name), name)
            XCTAssertEqual(RuntimeParts.optimization(of: name), "-O3", name)
        }
        // A renamed or removed file must not leave a stale name behind.
        for name in RuntimeParts.controlFiles.union(RuntimeParts.checkpointFiles) {
            XCTAssertTrue(sources.contains(name), "\(name) is listed but not in the runtime")
        }
        XCTAssertEqual(RuntimeParts.optimization(of: "dlc_cli.c"), "-O0")
        XCTAssertEqual(RuntimeParts.optimization(of: "dlc_checkpoint.c"), "-O1")
        XCTAssertEqual(RuntimeParts.optimization(of: "dlc_new_file.c"), "-O3", "a new file is hot until listed")
    }

    func testAPartDefinesTheFeatureMacroBeforeItsFiles() {
        let part = RuntimePart(name: "runtime-1.c", optimization: "-O3", files: ["dlc_a.c", "dlc_b.c"])
        let lines = part.source.split(separator: "\n").filter { $0.hasPrefix("#") }
        XCTAssertEqual(lines, ["#define _GNU_SOURCE", "#include \"dlc_a.c\"", "#include \"dlc_b.c\""])
        XCTAssertEqual(part.objectName, "runtime-1.o")
    }

    func testTheBlamedFileIsTheFirstErrorsRuntimeFile() {
        let part = RuntimePart(name: "runtime-2.c", optimization: "-O3", files: ["dlc_format.c", "dlc_train.c"])
        let clang = """
            In file included from /cache/runtime-x/runtime-2.c:7:
            /cache/runtime-x/dlc_train.c:12:3: warning: unused variable 'x' [-Wunused-variable]
            In file included from /cache/runtime-x/runtime-2.c:8:
            /cache/runtime-x/dlc_train.c:40:14: error: expected expression
            /cache/runtime-x/dlc_format.c:3:1: error: unknown type name 'nope'
            """
        XCTAssertEqual(part.blamedFile(in: clang, runtime: runtime), "core/dlc_train.c")
        let gcc = "In file included from runtime-2.c:3:\ndlc_format.c:9:5: error: expected ';' before '}' token\n"
        XCTAssertEqual(part.blamedFile(in: gcc, runtime: runtime), "progress/dlc_format.c")
        let header = "/cache/runtime-x/dlc_runtime.h:30:1: error: unknown type name 'x'\n"
        XCTAssertEqual(part.blamedFile(in: header, runtime: runtime), "core/dlc_runtime.h")
        XCTAssertEqual(part.blamedFile(in: "clang: error: unknown argument: '-fnope'\n", runtime: runtime), "runtime-2.c")
    }

    func testTheFlagsOfAPartAreEveryCompilesAtItsLevel() throws {
        let toolchain = try Toolchain.find()
        let objects = RuntimeObjects(directory: "/cache/r", objects: [], missing: [], toolchain: toolchain, flags: ["-DX"])
        let part = RuntimePart(name: "runtime-4.c", optimization: "-O0", files: ["dlc_cli.c"])
        let arguments = objects.arguments(part, output: "/cache/r/out.o")
        XCTAssertEqual(arguments, Toolchain.compileFlags.map { $0 == "-O3" ? "-O0" : $0 }
                       + ["-DX", "-I", "/cache/r", "-c", "/cache/r/runtime-4.c", "-o", "/cache/r/out.o"])
    }
}
