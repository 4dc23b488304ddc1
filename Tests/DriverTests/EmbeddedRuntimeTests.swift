@testable import DLCDriver
import DLCRuntimeSources
import Foundation
import XCTest

/// The runtime embedded in dlc is exactly the one in codegen/ (the plugin ran on this build):
/// the C files and headers, and the CUDA device's .cu and .cpp files.
final class EmbeddedRuntimeTests: XCTestCase {
    func testEmbeddedRuntimeEqualsCodegenByteForByte() throws {
        let codegen = packageRoot.appendingPathComponent("codegen")
        // Every runtime file of codegen/ and its folders (the runtime's parts), not the harnesses.
        var paths: [String] = []
        for case let path as String in FileManager.default.enumerator(atPath: codegen.path)!
        where !path.hasPrefix("tests/") && !path.hasPrefix("fuzz/")
            && [".c", ".h", ".cu", ".cpp"].contains(where: { path.hasSuffix($0) }) {
            paths.append(path)
        }
        XCTAssertFalse(paths.isEmpty)
        XCTAssertEqual(EmbeddedRuntime.files.map(\.path).sorted(), paths.sorted())
        for file in EmbeddedRuntime.files {
            let onDisk = try Data(contentsOf: codegen.appendingPathComponent(file.path))
            XCTAssertEqual(Data(file.contents.utf8), onDisk, "\(file.path) differs from codegen/\(file.path)")
        }
    }

    func testTheRuntimeIsLaidOutByItsParts() {
        let folders = Set(EmbeddedRuntime.files.map(\.folder))
        XCTAssertEqual(folders, ["", "core", "data", "checkpoint", "progress", "device", "comm"])
        let folderOf = Dictionary(uniqueKeysWithValues: EmbeddedRuntime.files.map { ($0.name, $0.folder) })
        XCTAssertEqual(folderOf["dlc_model.h"], "", "generated code includes the contract from the top")
        XCTAssertEqual(folderOf["dlc_device.h"], "device")
        XCTAssertEqual(folderOf["dlc_device_host.c"], "device")
        XCTAssertEqual(folderOf["dlc_comm.h"], "comm")
        XCTAssertEqual(folderOf["dlc_comm_mpi.c"], "comm")
        XCTAssertEqual(Set(EmbeddedRuntime.files.map(\.name)).count, EmbeddedRuntime.files.count, "base names are unique")
    }

    func testRuntimeHasTheModelContractAndMain() {
        let names = Set(EmbeddedRuntime.files.map(\.name))
        XCTAssertTrue(names.contains("dlc_model.h"))
        XCTAssertTrue(EmbeddedRuntime.files.contains { $0.isSource && $0.contents.contains("int main(") })
    }

    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(Array("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks of padding (56 bytes of message).
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
