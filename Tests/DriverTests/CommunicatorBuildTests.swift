import DLCBackendKit
@testable import DLCDriver
import Foundation
import XCTest

/// Trainers built with the MPI communicator (`dlc compile --mpi`): the runtime is compiled by
/// mpicc under DLC_COMM_MPI. Needs Open MPI (scripts/install-deps.sh installs it); the trainer
/// runs here without mpirun, as a job of one process. codegen/tests/mpi.sh runs them under mpirun.
final class CommunicatorBuildTests: XCTestCase {
    func testTheMPIRuntimeIsBuiltByMPICCWithItsDefine() {
        let single = RuntimeBuild.standard(BuildOptions())
        let mpi = RuntimeBuild.standard(BuildOptions(communicator: .mpi))
        XCTAssertEqual(single.compiler, .cc)
        XCTAssertEqual(mpi.compiler, .mpicc)
        XCTAssertEqual(mpi.defines, ["-DDLC_COMM_MPI"])
        XCTAssertEqual(mpi.libraries, single.libraries)
        XCTAssertNotEqual(BuildOptions(communicator: .mpi).key, BuildOptions().key, "the cache keeps them apart")
        // The C backend's file needs the C compiler whatever builds the runtime.
        XCTAssertEqual(Backends.named("c")!.tools(BuildOptions(communicator: .mpi)), [.cc, .mpicc])
    }

    func testMPITrainerBuildsInItsOwnRuntimeDirectoryAndRunsAlone() throws {
        let builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "mpi-cache")))
        let out = try temporaryDirectory(self, "mpi-out")
        let pipeline = try Pipeline.load(path: packageRoot.appendingPathComponent("models/descend.dl").path)
        let single = try builder.build(try pipeline.trainerSource(Backends.default).get(), output: out + "/descend")
        let parallel = try builder.build(try pipeline.trainerSource(Backends.default, options: BuildOptions(communicator: .mpi)).get(),
                                         output: out + "/descend_mpi")
        XCTAssertNotEqual(single.runtimeDirectory, parallel.runtimeDirectory)
        XCTAssertTrue(parallel.toolchain.compiler.hasSuffix("mpicc") || parallel.toolchain.tool == .mpicc,
                      parallel.toolchain.compiler)
        let alone = try runProgram(out + "/descend_mpi", ["train", "--steps", "3"])
        XCTAssertEqual(alone.status, 0, alone.output)
        XCTAssertEqual(alone.output, try runProgram(out + "/descend", ["train", "--steps", "3"]).output)
    }

    func testMissingMPICompilerWrapperSaysWhatToInstall() {
        XCTAssertThrowsError(try Toolchain.find(.mpicc, environment: ["PATH": "/nonexistent"], fallbackPaths: [])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("no MPI C compiler wrapper (mpicc) found"), message)
            XCTAssertTrue(message.contains("apt-get install openmpi-bin libopenmpi-dev"), message)
            XCTAssertTrue(message.contains("set MPICC"), message)
        }
    }
}
