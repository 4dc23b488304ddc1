import ArgumentParser
import DLCDriver
import Foundation

/// Every command reports failures the same way: the message on stderr, exit status 1.

/// Writes a line to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
}

/// A stage's product, or its rendered diagnostics on stderr and exit status 1.
func valueOrExit<T>(_ result: Result<T, CompileFailure>) throws -> T {
    switch result {
    case .success(let value): return value
    case .failure(let f):
        FileHandle.standardError.write(Data(f.rendered.utf8))
        throw ExitCode(1)
    }
}

/// Runs a build; a `TrainerBuildError` (what to install, or where the generated code was kept)
/// goes to stderr with exit status 1.
func reportingBuildErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as TrainerBuildError {
        printError(error.message)
        throw ExitCode(1)
    }
}

/// Prints a model's compile warnings (if any) on stderr; the command goes on.
func printWarnings(_ pipeline: Pipeline) {
    let text = pipeline.renderedWarnings()
    if !text.isEmpty { FileHandle.standardError.write(Data(text.utf8)) }
}
