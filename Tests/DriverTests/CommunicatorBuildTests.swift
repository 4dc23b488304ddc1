@testable import DLCDriver
import DLCRuntimeSources
import Foundation
import XCTest

/// Trainers built with the MPI communicator (`dlc compile --mpi`). Needs Open MPI's mpicc,
/// which scripts/install-deps.sh installs; runs the trainer without mpirun (a job of one).
final class CommunicatorBuildTests: XCTestCase {
    func testEachCommunicatorLinksItsOwnSourceAndNoOther() {
        let names = { (c: Communicator) in Set(c.runtimeFiles(EmbeddedRuntime.files).map(\.name)) }
        XCTAssertTrue(names(.single).contains("dlc_comm_single.c"))
        XCTAssertFalse(names(.single).contains("dlc_comm_mpi.c"))
        XCTAssertTrue(names(.mpi).contains("dlc_comm_mpi.c"))
        XCTAssertFalse(names(.mpi).contains("dlc_comm_single.c"))
        XCTAssertTrue(names(.mpi).contains("dlc_comm.h"), "headers stay")
        XCTAssertEqual(names(.single).count, names(.mpi).count)
    }

    func testMPITrainerBuildsInItsOwnRuntimeDirectoryAndRunsAlone() throws {
        let builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "mpi-cache")))
        var mpi = builder
        mpi.communicator = .mpi
        let out = try temporaryDirectory(self, "mpi-out")
        let single = try builder.build(modelSource: try standInModel("descend_model.c"), modelName: "descend",
                                       output: out + "/descend")
        let parallel = try mpi.build(modelSource: try standInModel("descend_model.c"), modelName: "descend",
                                     output: out + "/descend_mpi")
        XCTAssertNotEqual(single.runtimeDirectory, parallel.runtimeDirectory, "the runtimes differ by their communicator")
        let alone = try runProgram(out + "/descend_mpi", ["train", "--steps", "3"])
        XCTAssertEqual(alone.status, 0, alone.output)
        XCTAssertEqual(alone.output, try runProgram(out + "/descend", ["train", "--steps", "3"]).output)
    }

    func testMissingMPICompilerWrapperSaysWhatToInstall() throws {
        var builder = TrainerBuilder(cache: BuildCache(root: try temporaryDirectory(self, "nompi-cache")))
        builder.communicator = .mpi
        builder.environment["MPICC"] = "no-such-mpicc"
        let out = try temporaryDirectory(self, "nompi-out")
        XCTAssertThrowsError(try builder.build(modelSource: try standInModel("descend_model.c"), modelName: "descend",
                                               output: out + "/descend")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("'no-such-mpicc', which is not on PATH"), message)
            XCTAssertTrue(message.contains("apt-get install openmpi-bin libopenmpi-dev"), message)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [])
    }
}
