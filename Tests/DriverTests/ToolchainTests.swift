import DLCBackendKit
@testable import DLCDriver
import DLCRuntimeSources
import Foundation
import XCTest

/// A missing or broken toolchain reads as what to install, never as a raw compiler error.
final class ToolchainTests: XCTestCase {
    var environment: [String: String] { ProcessInfo.processInfo.environment }

    func testCCNamingANonexistentProgram() throws {
        var env = environment
        env["CC"] = "/nonexistent/bin/cc"
        let builder = TrainerBuilder(environment: env, cache: BuildCache(root: try temporaryDirectory(self, "nocc")))
        let out = try temporaryDirectory(self, "nocc-out")
        XCTAssertThrowsError(try builder.build(modelSource: "", modelName: "m", output: out + "/m")) { error in
            XCTAssertEqual(error as? TrainerBuildError, .toolVariableInvalid(.cc, value: "/nonexistent/bin/cc"))
            XCTAssertTrue("\(error)".hasPrefix("error: CC is set to '/nonexistent/bin/cc'"), "\(error)")
        }
        XCTAssertEqual(listing(out), [])
    }

    func testNoCompilerAnywhere() throws {
        var env = environment
        env["CC"] = nil
        env["PATH"] = try temporaryDirectory(self, "emptypath")
        XCTAssertThrowsError(try Toolchain.find(environment: env, fallbackPaths: [])) { error in
            guard case .toolNotFound(.cc, _)? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
            XCTAssertTrue("\(error)".hasPrefix("error: no C compiler found to build the trainer (looked for $CC, then clang on PATH"),
                          "\(error)")
            XCTAssertTrue("\(error)".contains("apt-get install clang"), "\(error)")
        }
    }

    /// Another tool a backend states is looked for the same way, and its message says what it
    /// is, which variable names it and how to install it.
    func testMissingToolOfABackendSaysWhatToInstall() throws {
        let tool = Tool(role: "CUDA compiler", variable: "DLC_TEST_NVCC", searchedNames: ["dlc-test-nvcc"],
                        searchedPaths: ["/nonexistent/cuda/bin/nvcc"], installNote: "install the CUDA toolkit")
        var env = environment
        env["PATH"] = try temporaryDirectory(self, "emptypath-tool")
        XCTAssertThrowsError(try Toolchain.find(tool, environment: env)) { error in
            XCTAssertEqual(error as? TrainerBuildError,
                           .toolNotFound(tool, searched: ["dlc-test-nvcc on PATH", "/nonexistent/cuda/bin/nvcc"]))
            XCTAssertEqual("\(error)", """
                error: no CUDA compiler found to build the trainer (looked for $DLC_TEST_NVCC, then dlc-test-nvcc on PATH, /nonexistent/cuda/bin/nvcc)
                note: install one (install the CUDA toolkit), or set DLC_TEST_NVCC to a CUDA compiler's path
                """)
        }
        env["DLC_TEST_NVCC"] = "/nonexistent/nvcc -ccbin clang"
        XCTAssertThrowsError(try Toolchain.find(tool, environment: env)) { error in
            XCTAssertEqual(error as? TrainerBuildError, .toolVariableInvalid(tool, value: "/nonexistent/nvcc -ccbin clang"))
            XCTAssertTrue("\(error)".hasPrefix("error: DLC_TEST_NVCC is set to '/nonexistent/nvcc -ccbin clang'"), "\(error)")
        }
    }

    func testCCWithArgumentsIsFoundOnPath() throws {
        var env = environment
        env["CC"] = "clang -DDLC_TEST=1"
        let toolchain = try Toolchain.find(environment: env)
        XCTAssertTrue(toolchain.compiler.hasSuffix("/clang"), toolchain.compiler)
        XCTAssertEqual(toolchain.compilerArguments, ["-DDLC_TEST=1"])
        XCTAssertFalse(toolchain.version.isEmpty)
    }

    /// A wrapper around the real compiler that pretends one piece of OpenBLAS is missing.
    func fakeCompiler(hiding what: String) throws -> Toolchain {
        let script = try temporaryDirectory(self, "fakecc") + "/fakecc"
        try writeFakeCompiler(at: script, hiding: what)
        return try Toolchain(compiler: script, environment: environment)
    }

    /// Writes the wrapper: "header" hides cblas.h, "library" hides -lopenblas, "" hides nothing.
    func writeFakeCompiler(at script: String, hiding what: String) throws {
        let real = try Toolchain.find(environment: environment)
        let check: String
        switch what {
        case "header":
            check = """
                for a in "$@"; do case "$a" in *.c) if grep -q cblas.h "$a"; then
                    echo "$a:1:10: fatal error: 'cblas.h' file not found"; exit 1; fi;; esac; done
                """
        case "library":
            check = """
                for a in "$@"; do if [ "$a" = -lopenblas ]; then
                    echo "ld: error: unable to find library -lopenblas"; exit 1; fi; done
                """
        default:
            check = ""
        }
        try writeScript("#!/bin/sh\n\(check)\nexec \(real.compiler) \"$@\"\n", to: script)
    }

    func testMissingCblasHeaderSaysWhatToInstall() throws {
        var builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "nohdr")))
        builder.toolchain = try fakeCompiler(hiding: "header")
        let out = try temporaryDirectory(self, "nohdr-out")
        XCTAssertThrowsError(try builder.build(modelSource: try standInModel("linreg_model.c"), modelName: "m", output: out + "/m")) { error in
            guard case .missingBlasHeader? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
            XCTAssertTrue("\(error)".contains("cblas.h"), "\(error)")
            XCTAssertTrue("\(error)".contains("apt-get install libopenblas-dev"), "\(error)")
        }
        XCTAssertEqual(listing(out), [])
    }

    func testTheProbesDiagnosisComesBeforeTheCompilesItRanBeside() throws {
        // With no verdict cached, the probe runs beside the runtime's and the model's compiles:
        // when both fail, the user reads what to install, not a compile error it caused.
        var builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "beside")))
        builder.toolchain = try fakeCompiler(hiding: "header")
        let broken = try XCTUnwrap(builder.runtimeFiles.firstIndex { $0.name == "dlc_train.c" })
        let file = builder.runtimeFiles[broken]
        builder.runtimeFiles[broken] = RuntimeFile(name: file.name, folder: file.folder, contents: file.contents + "int broken = ;\n")
        let out = try temporaryDirectory(self, "beside-out")
        XCTAssertThrowsError(try builder.build(modelSource: "#include \"cblas.h\"\nint x = ;\n", modelName: "m", output: out + "/m")) { error in
            guard case .missingBlasHeader? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
        }
        XCTAssertEqual(listing(out), [])
    }

    func testMissingOpenBLASLibrarySaysWhatToInstall() throws {
        var builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "nolib")))
        builder.toolchain = try fakeCompiler(hiding: "library")
        let out = try temporaryDirectory(self, "nolib-out")
        XCTAssertThrowsError(try builder.build(modelSource: try standInModel("linreg_model.c"), modelName: "m", output: out + "/m")) { error in
            guard case .missingBlasLibrary? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
            XCTAssertTrue("\(error)".contains("apt-get install libopenblas-dev"), "\(error)")
        }
        XCTAssertEqual(listing(out), [])
    }

    func testToolchainKeyFollowsTheCompiler() throws {
        let real = try Toolchain.find(environment: environment)
        let fake = try fakeCompiler(hiding: "library")
        XCTAssertNotEqual(real.key, fake.key)
        XCTAssertEqual(real.key, try Toolchain.find(environment: environment).key)
    }

    /// OpenBLAS removed after a successful build: the cached verdict no longer holds, and the
    /// failed link must still read as "install libopenblas-dev", then probe afresh.
    func testLibraryRemovedAfterACachedVerdict() throws {
        let script = try temporaryDirectory(self, "laterfake") + "/cc"
        try writeFakeCompiler(at: script, hiding: "")
        var builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "later")))
        builder.toolchain = try Toolchain(compiler: script, environment: environment)
        let out = try temporaryDirectory(self, "later-out")
        let model = try standInModel("linreg_model.c")
        try builder.build(modelSource: model, modelName: "m", output: out + "/m")

        try writeFakeCompiler(at: script, hiding: "library")
        XCTAssertThrowsError(try builder.build(modelSource: model, modelName: "m", output: out + "/m")) { error in
            guard case .missingBlasLibrary? = error as? TrainerBuildError else { return XCTFail("unexpected error \(error)") }
        }
        XCTAssertEqual(listing(out), ["m"], "the previous trainer stays")

        try writeFakeCompiler(at: script, hiding: "")
        let report = try builder.build(modelSource: model, modelName: "m", output: out + "/m")
        XCTAssertTrue(report.probedToolchain, "the stale verdict was dropped")
        XCTAssertEqual(report.runtimeObjectsCompiled, 0)
    }
}
