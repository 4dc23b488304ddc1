import Foundation
import XCTest

/// `dlc`'s command line: outputs and exit statuses (spec section 8: 0 success, 1 compile
/// error, 2 usage error).
final class CLITests: XCTestCase {
    let models = Golden.root.appendingPathComponent("models")

    func testEmitIRSucceeds() throws {
        let r = try Run.dlc(["compile", "models/line_grid.dl", "--emit", "ir"], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("graph line_grid {"), r.stdout)
        XCTAssertTrue(r.stdout.contains("gather %grid, %k"), r.stdout)
        XCTAssertEqual(r.stderr, "")
    }

    func testEmitASTShowsPrecedence() throws {
        let r = try Run.dlc(["compile", "models/descend.dl", "--emit", "ast"], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        // -x ** 2 is -(x ** 2), as in Python.
        XCTAssertTrue(r.stdout.contains("loss ((-(x ** 2)) + ((10 * x) * log(x)))"), r.stdout)
    }

    func testCompileErrorExitsOneWithLocatedMessage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-cli-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = "model m {\n  param w: f32[3] = zeros\n  forward {\n    loss sum(relux(w))\n  }\n}\n"
        try source.write(to: dir.appendingPathComponent("bad.dl"), atomically: true, encoding: .utf8)
        let r = try Run.dlc(["compile", "bad.dl", "--emit", "ir"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, """
            bad.dl:4:14: error: unknown function 'relux'
                loss sum(relux(w))
                         ^
            note: did you mean 'relu'?

            """)
    }

    /// A warning goes to stderr and the command goes on: `--emit ir` prints the graph, exit 0.
    func testWarningsPrintAndTheCompileGoesOn() throws {
        let program = "Tests/DLCTests/Golden/warnings/loss_softmax_cross_entropy.dl"
        let r = try Run.dlc(["compile", program, "--emit", "ir"], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("graph iris_softmax {"), r.stdout)
        XCTAssertTrue(r.stderr.contains("\(program):10:14: warning: cross_entropy is given probabilities"), r.stderr)
        XCTAssertTrue(r.stderr.contains("note: cross_entropy takes logits"), r.stderr)
        let clean = try Run.dlc(["compile", "models/digits.dl", "--emit", "ir"], in: Golden.root)
        XCTAssertEqual(clean.stderr, "")
    }

    func testMissingFileExitsOne() throws {
        let r = try Run.dlc(["compile", "no/such/model.dl", "--emit", "ir"], in: Golden.root)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("'no/such/model.dl' does not exist"), r.stderr)
    }

    func testUsageErrorsExitTwo() throws {
        for args in [["compile"], ["compile", "models/descend.dl", "--emit", "bogus"], ["frobnicate"],
                     ["compile", "models/descend.dl", "--no-such-flag"]] {
            let r = try Run.dlc(args, in: Golden.root)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args)")
        }
    }

    func testGradcheckPassesAndFails() throws {
        let ok = try Run.dlc(["gradcheck", "models/line_grid.dl"], in: Golden.root)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("gradcheck passed"), ok.stdout)
        // No float computation is exact: a tolerance of 0 must fail, with exit status 1.
        let strict = try Run.dlc(["gradcheck", "models/line_grid.dl", "--tolerance", "0"], in: Golden.root)
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stdout.contains("gradcheck FAILED"), strict.stdout)
        let noData = try Run.dlc(["gradcheck", "models/mnist_mlp.dl"], in: Golden.root)
        XCTAssertEqual(noData.status, 1)
        XCTAssertTrue(noData.stderr.contains("give --data FILE"), noData.stderr)
    }

    func testStopAfterPrintsTheGraphAfterAPass() throws {
        let fused = try Run.dlc(["compile", "models/digits.dl", "--emit", "opt", "--stop-after", "fuse"], in: Golden.root)
        XCTAssertEqual(fused.status, 0, fused.stderr)
        XCTAssertTrue(fused.stdout.contains("softmax_cross_entropy %logits, %y"), fused.stdout)
        XCTAssertFalse(fused.stdout.contains("grad fc1.weight"), fused.stdout)
        let bad = try Run.dlc(["compile", "models/digits.dl", "--emit", "opt", "--stop-after", "nope"], in: Golden.root)
        XCTAssertEqual(bad.status, 2)
    }

    func testVersionExitsZero() throws {
        let r = try Run.dlc(["--version"], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("dlc "), r.stdout)
    }

    /// `dlc train MODEL --help` is the trainer's help for its train command, under the name
    /// the user typed (not the build cache's path of the trainer).
    func testTrainHelpNamesDlcTrain() throws {
        let r = try Run.dlc(["train", "models/descend.dl", "--help"], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("usage: dlc train models/descend.dl [options]"), r.stdout)
        XCTAssertFalse(r.stdout.contains(".cache"), r.stdout)
        XCTAssertFalse(r.stdout.contains("commands:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("--lr X"), r.stdout)
    }

    func testHelpExitsZero() throws {
        let r = try Run.dlc(["--help"], in: Golden.root)
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("compile"), r.stdout)
    }
}
