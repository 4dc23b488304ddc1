import Foundation
import XCTest

/// The package's root directory (this file is Tests/DriverTests/DriverTestSupport.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A hand-written stand-in for generated code, from codegen/tests/.
func standInModel(_ name: String) throws -> String {
    try String(contentsOf: packageRoot.appendingPathComponent("codegen/tests/\(name)"), encoding: .utf8)
}

/// A fresh empty directory under the system's temporary directory, removed after the test.
func temporaryDirectory(_ test: XCTestCase, _ label: String) throws -> String {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("dlc-driver-tests-\(label)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Runs a program; returns its exit status and its output (stdout and stderr together).
func runProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Writes an executable shell script.
func writeScript(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
}

/// The names in a directory.
func listing(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}
