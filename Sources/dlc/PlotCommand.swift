import ArgumentParser
import DLCDriver
import Foundation

/// `dlc plot METRICS.csv -o FILE.svg`: the curves of a trainer's --log file as the chart that
/// `--plot` draws (spec section 11), by the same renderer.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the loss, validation loss and metric per epoch of a --log file as an SVG chart.")

    @Argument(help: "A CSV file written by a trainer's --log.")
    var log: String

    @Option(name: .short, help: ArgumentHelp("The SVG file to write.", valueName: "file.svg"))
    var output: String

    @Option(help: "The chart's title (default: the log file's name).")
    var title: String?

    func run() throws {
        let program = try reportingBuildErrors { try Plotter().program() }
        let name = title ?? (log as NSString).lastPathComponent
        let arguments = [program, log, output, name]
        let cArguments = arguments.map { strdup($0) } + [nil]
        execv(program, cArguments)
        printError("error: cannot run the plotter '\(program)': \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
}
