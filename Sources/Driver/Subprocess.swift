import Foundation

/// What a finished child process left behind.
struct ProcessOutcome: Sendable {
    /// The exit status (a signal's number + 128 when it was killed).
    let status: Int32
    /// Standard output and standard error, interleaved as written.
    let output: String

    var succeeded: Bool { status == 0 }
}

/// Runs a program to completion, capturing its output.
enum Subprocess {
    /// Runs `executable` (an absolute path) with `arguments`. Throws only when the program
    /// cannot be started; a failing program is an outcome with a nonzero status.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> ProcessOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        // One pipe for both streams: a compiler's diagnostics read best in the order written,
        // and reading a single pipe to its end cannot deadlock on the other one filling up.
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        // Not waitUntilExit(): on Linux it polls in 50 ms steps, a third of a cached build's
        // time over its three commands. The termination handler fires as the child is reaped.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        exited.wait()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return ProcessOutcome(status: status, output: String(decoding: data, as: UTF8.self))
    }
}

/// A command line as a user would type it (for logs and error messages).
func shellQuoted(_ words: [String]) -> String {
    words.map { word in
        let plain = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}
