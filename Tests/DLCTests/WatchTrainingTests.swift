import Foundation
import XCTest

/// Training you can watch and stop (spec section 11): `--plot` and `dlc plot` (one renderer,
/// codegen/progress/dlc_plot.c), `early_stop` / `--early-stop`, `--save-best`.
final class WatchTrainingTests: XCTestCase {
    static let plots = Golden.directory.appendingPathComponent("plot")
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-watch-\(getpid())-\(name.hashValue)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    static var rsvgConvert: URL? {
        ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].map(URL.init(fileURLWithPath:))
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// A trainer of models/NAME.dl in the scratch folder.
    func trainer(_ name: String) throws -> URL {
        let exe = work.appendingPathComponent(name)
        let r = try Run.dlc(["compile", "models/\(name).dl", "-o", exe.path], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        return exe
    }

    /// `dlc plot` of three stored --log files (a classifier with validation and accuracy, a
    /// regressor whose loss spans decades, a model without data) against golden SVGs, each
    /// rendered to PNG by librsvg as a check that it is a picture, with its labels in it.
    func testDlcPlotOfLogsIsGoldenAndRenders() throws {
        let rsvg = try XCTUnwrap(Self.rsvgConvert, "rsvg-convert is missing: run scripts/install-deps.sh")
        for (log, labels) in [("digits", ["epoch", "loss (log scale)", "training loss", "validation loss", "validation accuracy",
                                          "lowest validation loss 0.07082 (epoch 33)"]),
                              ("cars", ["epoch", "loss (log scale)", "validation mae"]),
                              ("descend", ["update", "training loss"])] {
            let svg = work.appendingPathComponent(log + ".svg")
            let r = try Run.dlc(["plot", Self.plots.appendingPathComponent(log + "_log.csv").path, "-o", svg.path,
                                 "--title", log])
            XCTAssertEqual(r.status, 0, "\(log): \(r.stderr)")
            let text = try String(contentsOf: svg, encoding: .utf8)
            Golden.assertMatches(text, golden: Self.plots.appendingPathComponent(log + ".svg"))
            for label in labels { XCTAssertTrue(text.contains(">\(label)<"), "\(log): no '\(label)'") }
            let png = work.appendingPathComponent(log + ".png")
            let rendered = try Run.run(rsvg, [svg.path, "-o", png.path])
            XCTAssertEqual(rendered.status, 0, "\(log): rsvg-convert: \(rendered.stderr)")
            XCTAssertGreaterThan((try? Data(contentsOf: png))?.count ?? 0, 10_000, "\(log): PNG")
        }
    }

    /// `train --plot` draws after every epoch, atomically, the same picture as `dlc plot` of
    /// the run's --log.
    func testTrainerPlotIsTheChartOfItsLog() throws {
        let exe = try trainer("wine")
        let plot = work.appendingPathComponent("wine.svg"), log = work.appendingPathComponent("wine.csv")
        let r = try Run.run(exe, ["train", "--epochs", "7", "--plot", plot.path, "--log", log.path], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOf: plot, encoding: .utf8)
        // 7 epochs: a dot per epoch on each of three curves.
        XCTAssertEqual(text.components(separatedBy: "<circle").count - 1, 3 * 7)
        let again = work.appendingPathComponent("again.svg")
        let p = try Run.dlc(["plot", log.path, "-o", again.path, "--title", "wine"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(try String(contentsOf: again, encoding: .utf8), text, "trainer's chart vs dlc plot's")
        let left = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.contains(".tmp") }
        XCTAssertEqual(left, [], "temporary files left behind")
    }

    /// A resumed run's chart starts with the epochs its --log file holds: 3 epochs, then 4 more
    /// from the checkpoint, draw the chart of 7 epochs in one run.
    func testResumedPlotStartsWithTheLoggedEpochs() throws {
        let exe = try trainer("wine")
        let whole = work.appendingPathComponent("whole.svg"), wholeLog = work.appendingPathComponent("whole.csv")
        let r = try Run.run(exe, ["train", "--epochs", "7", "--plot", whole.path, "--log", wholeLog.path], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        let part = work.appendingPathComponent("part.svg"), log = work.appendingPathComponent("part.csv")
        let ckpt = work.appendingPathComponent("part.safetensors")
        let first = try Run.run(exe, ["train", "--epochs", "3", "--save", ckpt.path, "--log", log.path], in: Golden.root)
        XCTAssertEqual(first.status, 0, first.stderr)
        let rest = try Run.run(exe, ["train", "--resume", ckpt.path, "--epochs", "4", "--plot", part.path, "--log", log.path],
                               in: Golden.root)
        XCTAssertEqual(rest.status, 0, rest.stderr)
        XCTAssertEqual(rest.stderr, "")
        let text = try String(contentsOf: part, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "<circle").count - 1, 3 * 7, "a dot per epoch on each of 3 curves")
        XCTAssertTrue(text == (try String(contentsOf: whole, encoding: .utf8)), "the resumed run's chart differs from one run's")

        // A new log: the chart holds the resumed run's epochs, and a note says why.
        let alone = work.appendingPathComponent("alone.svg"), newLog = work.appendingPathComponent("new.csv")
        let fresh = try Run.run(exe, ["train", "--resume", ckpt.path, "--epochs", "2", "--plot", alone.path, "--log", newLog.path],
                                in: Golden.root)
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertTrue(fresh.stderr.hasPrefix("note: --plot draws this run's epochs only: \(newLog.path): No such file"), fresh.stderr)
        XCTAssertEqual(try String(contentsOf: alone, encoding: .utf8).components(separatedBy: "<circle").count - 1, 3 * 2)
    }

    /// `--early-stop 3` on digits (its validation loss bottoms out): training ends 3 epochs after
    /// the best one, saying so, and `--save-best` holds that epoch's params: exactly those of a
    /// run of that many epochs.
    func testEarlyStopAndSaveBest() throws {
        let exe = try trainer("digits")
        let best = work.appendingPathComponent("best.safetensors"), log = work.appendingPathComponent("log.csv")
        let r = try Run.run(exe, ["train", "--epochs", "200", "--early-stop", "3", "--save-best", best.path, "--log", log.path],
                            in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        let stop = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.hasPrefix("early stop: ") }, r.stdout)
        let bestEpoch = try XCTUnwrap(Int(stop.split(separator: " ").last!.dropLast()), String(stop))
        let rows = try TrainLog(contentsOf: log)
        let epochs = rows.column("epoch").count
        XCTAssertLessThan(epochs, 200)
        XCTAssertEqual(epochs, bestEpoch + 3, "stops `patience` epochs after the best")
        let valLoss = rows.column("val_loss")
        XCTAssertEqual(valLoss.firstIndex(of: valLoss.min()!)! + 1, bestEpoch)

        let again = work.appendingPathComponent("again.safetensors")
        let short = try Run.run(exe, ["train", "--epochs", "\(bestEpoch)", "--save", again.path], in: Golden.root)
        XCTAssertEqual(short.status, 0, short.stderr)
        XCTAssertEqual(try SafeTensors(contentsOf: best).tensors, try SafeTensors(contentsOf: again).tensors)
    }

    /// A run resumed from a checkpoint goes on counting: saved one epoch after its best and
    /// resumed, it stops at the epoch, with the params, of the run that was not interrupted (the
    /// checkpoint carries the best loss and the epochs since it).
    func testEarlyStopCarriesOverResume() throws {
        let exe = try trainer("digits")
        let whole = work.appendingPathComponent("whole.safetensors"), part = work.appendingPathComponent("part.safetensors")
        let r = try Run.run(exe, ["train", "--epochs", "200", "--early-stop", "3", "--save", whole.path], in: Golden.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        let stop = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.hasPrefix("early stop: ") }, r.stdout)
        let bestEpoch = try XCTUnwrap(Int(stop.split(separator: " ").last!.dropLast()), String(stop))

        let first = try Run.run(exe, ["train", "--epochs", "\(bestEpoch + 1)", "--early-stop", "3", "--save", part.path],
                                in: Golden.root)
        XCTAssertEqual(first.status, 0, first.stderr)
        let rest = try Run.run(exe, ["train", "--resume", part.path, "--epochs", "200", "--early-stop", "3", "--save", part.path],
                               in: Golden.root)
        XCTAssertEqual(rest.status, 0, rest.stderr)
        let restStop = rest.stdout.split(separator: "\n").last { $0.hasPrefix("early stop: ") }
        XCTAssertEqual(restStop, stop, "the resumed run's stop")
        XCTAssertEqual(rest.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.count, 2,
                       "resumed one epoch past the best: two more epochs end it\n\(rest.stdout)")
        XCTAssertTrue(try SafeTensors(contentsOf: part).tensors == SafeTensors(contentsOf: whole).tensors,
                      "the resumed run's params differ from the uninterrupted run's")
    }

    /// `early_stop patience: 2, min_delta: 0.5` in the train block: a loss that improves by less
    /// than 0.5 counts as no improvement, so training stops 2 epochs after the second.
    func testEarlyStopSettingWithMinDelta() throws {
        let model = try String(contentsOf: Golden.root.appendingPathComponent("models/digits.dl"), encoding: .utf8)
            .replacingOccurrences(of: "validation 0.2", with: "validation 0.2\n        early_stop patience: 2, min_delta: 0.5")
            .replacingOccurrences(of: "\"data/digits.csv\"", with: "\"\(Golden.root.path)/models/data/digits.csv\"")
        XCTAssertTrue(model.contains("early_stop"))
        let t = try ScratchTrainer("early-stop-setting", files: ["model.dl": model])
        defer { t.remove() }
        let r = try t.run(["train", "--log", "log.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("early stop: val_loss has not improved by more than 0.5 for 2 epochs"), r.stdout)
        let valLoss = try TrainLog(contentsOf: t.folder.appendingPathComponent("log.csv")).column("val_loss")
        // Epoch 1 sets the mark; the first epoch below mark - 0.5 resets it; two more end the run.
        var mark = Double.infinity, bad = 0, expected = 0
        for (i, v) in valLoss.enumerated() {
            if v < mark - 0.5 { mark = v; bad = 0 } else { bad += 1 }
            if bad == 2 { expected = i + 1; break }
        }
        XCTAssertEqual(valLoss.count, expected, "\(valLoss)")
    }
}
