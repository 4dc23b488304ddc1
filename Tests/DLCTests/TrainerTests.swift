import DLCDriver
import DLCIR
import DLCInterpreter
import Foundation
import XCTest

/// The compiled trainer end to end: `dlc compile` builds the binary, which trains from the
/// model's own data files; its checkpoints (safetensors) and `--log` rows are compared with the
/// reference training loop (`Trainer`, double precision) run on the same data with the same
/// configuration, and with the targets the example models were written for.
///
/// Each trainer is built once per test process (`TrainerFixtures`); every run gets its own
/// folder in one scratch directory.
final class TrainerTests: XCTestCase {
    var fixtures: TrainerFixtures { TrainerFixtures.shared }

    override class func tearDown() {
        TrainerFixtures.shared.removeScratch()
        super.tearDown()
    }

    static let models = Golden.root.appendingPathComponent("models")
    static let programs = Golden.directory.appendingPathComponent("programs")
    static func model(_ name: String) -> URL { models.appendingPathComponent(name + ".dl") }
    static func program(_ name: String) -> URL { programs.appendingPathComponent(name + ".dl") }

    // MARK: - 1. Initial params

    /// `train --steps 0 --save P` writes the params before any update: they must be exactly
    /// (f32 bit pattern) `ParamInitializer`'s, for the model's seed and for `--seed 7`: same
    /// streams, same order of draws, same rounding (docs/rng.md). Models without a data file
    /// get a small all-zero CSV (the data plays no part in initialisation).
    func testInitialParamsMatchInterpreterBitForBit() throws {
        var urls = Golden.programs(in: Self.models)
        urls += ["initializers", "layers_params", "gather_2d", "steps_no_data", "optim_sgd", "optim_adam", "listed_params"].map(Self.program)
        var checked = 0
        for url in urls {
            let m = try fixtures.model(url)
            let exe = try fixtures.trainer(url)
            // `--metric none`: the metric plays no part here (and see testEveryModelTrainsWithItsOwnSettings).
            var extra = m.graph.data.isEmpty ? [] : ["--metric", "none"]
            if !m.graph.data.isEmpty, m.graph.train.data == nil { extra += ["--data", try fixtures.zeroData(m).path] }
            for seed in [nil, 7] {
                let run = try fixtures.run(exe, ["train", "--steps", "0"] + extra + (seed.map { ["--seed", "\($0)"] } ?? []),
                                           save: true)
                let name = "\(url.lastPathComponent) seed \(seed.map(String.init) ?? "default")"
                guard let ckpt = try assertRan(run, name) else { continue }
                let expected = ParamInitializer.initialValues(m.graph.params, seed: seed ?? m.graph.train.seed)
                XCTAssertEqual(Set(ckpt.tensors.keys), Set(m.graph.params.map(\.name) + m.graph.state.map(\.name)),
                               "\(name): tensors in the checkpoint")
                XCTAssertEqual(ckpt.metadata["dlc.step"], "0", name)
                for p in m.graph.params {
                    guard let got = ckpt.tensors[p.name], let want = expected[p.name] else { continue }
                    XCTAssertEqual(got.shape, want.shape, "\(name): shape of \(p.name)")
                    let bad = zip(got.values, want.scalars).enumerated().first { $0.element.0.bitPattern != Float($0.element.1).bitPattern }
                    if let (i, (g, w)) = bad {
                        XCTFail("\(name): \(p.name)[\(i)] is \(g) in the checkpoint, \(Float(w)) from ParamInitializer")
                    }
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 2 * 20)
    }

    /// Every example model trains one epoch (one update without data) with nothing but its
    /// own train block: its `metric` must be one the trainer can compute. (line_fit's loss is
    /// an expression with no loss op, wine_hinge's target is `2 * y - 1`: the descriptor must
    /// still name their target for mae and accuracy.)
    func testEveryModelTrainsWithItsOwnSettings() throws {
        for url in Golden.programs(in: Self.models) {
            let m = try fixtures.model(url)
            var flags = m.graph.data.isEmpty ? ["--steps", "1"] : ["--epochs", "1"]
            if !m.graph.data.isEmpty, m.graph.train.data == nil { flags += ["--data", try fixtures.zeroData(m).path] }
            let run = try fixtures.run(try fixtures.trainer(url), ["train"] + flags)
            XCTAssertEqual(run.result.status, 0, "\(url.lastPathComponent): \(run.result.stderr)")
            if let metric = m.graph.train.metric, run.result.status == 0 {
                XCTAssertEqual(run.log?.columns.contains(metric.rawValue), true, "\(url.lastPathComponent): log columns")
                XCTAssertEqual(run.log?.column(metric.rawValue).last?.isFinite, true, "\(url.lastPathComponent): \(metric)")
            }
        }
    }

    // MARK: - 2. Losses and params against the reference trainer

    func testDigitsAgreesWithReferenceAcrossBatchSizes() throws {
        // Batch 32 (the model's), 7 (1438 rows = 205 batches of 7 + one of 3) and 64 (22 + one
        // of 30), the partial batch kept and dropped.
        try compare("digits", ["--epochs", "2"])
        try compare("digits", ["--epochs", "2", "--batch", "7"])
        try compare("digits", ["--epochs", "2", "--batch", "7", "--drop-last", "true"])
        try compare("digits", ["--epochs", "2", "--batch", "64"])
        try compare("digits", ["--epochs", "2", "--batch", "64", "--drop-last", "true", "--seed", "5"])
    }

    /// `--steps N` on a model with data trains until N updates, across epochs (codegen/README);
    /// the reference does the same given enough epochs, and reports the cut epoch partially.
    func testStepsCrossingEpochsAgreesWithReference() throws {
        try compare("digits", ["--steps", "50", "--batch", "64"], maxUpdates: 50)
    }

    /// lecture_mlp: batch full and reduce_on_plateau watching the training loss (no
    /// validation rows); cars: normalize with validation; wine_binary: bce on sigmoid;
    /// line_grid: gather on an `f32[N]` input.
    func testSmallModelsAgreeWithReference() throws {
        try compare("line_grid", ["--epochs", "2"])
        try compare("line_grid", ["--epochs", "2", "--batch", "40"])  // 250 rows: 6 of 40 + 10
        try compare("wine_binary", ["--epochs", "60"])                // batch full: 60 updates
        try compare("cars", ["--epochs", "5"])
        try compare("lecture_mlp", ["--epochs", "60"])                // batch full, reduce_on_plateau
    }

    /// Dropout masks come from the dropout stream in both, element by element.
    func testDropoutModelAgreesWithReference() throws {
        try compare("digits_dropout", ["--epochs", "2"])
    }

    /// The schedules and accumulation, with the learning rate of every epoch compared too:
    /// optim_sgd (nesterov momentum, weight decay, accumulate 2, step_lr every 4 epochs,
    /// drop_last, no shuffle, seed 1234, validation) for all 12 epochs, also with batch 15 and
    /// the partial batch kept (9 micro-batches: the epoch's tail updates alone); optim_adamw
    /// (adamw; reduce_on_plateau on the validation loss halves the rate twice in 40 epochs);
    /// optim_adam (cosine over T = 50 epochs, batch full; also 70 epochs: the runtime's
    /// recursive form and the reference's closed form agree past T); digits_image (sgd
    /// momentum, 8x8 inputs reshaped, accumulate 4, with step_lr halving every epoch).
    func testSchedulesAndAccumulationAgreeWithReference() throws {
        try compare(program: "optim_sgd", [])
        try compare(program: "optim_sgd", ["--drop-last", "false", "--batch", "15"])
        try compare(program: "optim_adamw", [])
        try compare(program: "optim_adam", [])
        try compare(program: "optim_adam", ["--epochs", "70"])  // past T_max = 50: the rate rises again
        try compare("digits_image", ["--epochs", "2", "--schedule", "step_lr(every: 1, gamma: 0.5)"],
                    configure: { $0.schedule = .stepLR(every: 1, gamma: 0.5) })
    }

    /// Models without data: each update is an epoch (loss, lr) in both, and the per-step lines
    /// print each scalar output after its update (`assertStepLines`).
    func testModelsWithoutDataAgreeWithReference() throws {
        try compare("descend", [])
        try compare("quadratic", ["--steps", "30"], maxUpdates: 30)
        try compare(program: "steps_no_data", ["--steps", "60"], maxUpdates: 60)
    }

    /// The descriptor gives the classes of cross_entropy's labels, and the loader refuses a
    /// label outside [0, C) at its line (exit 1, nothing trained).
    func testOutOfRangeLabelIsRefused() throws {
        let exe = try fixtures.trainer(Self.model("digits"))
        let header = (0..<64).map { "p\($0)" } + ["label"]
        let rows = (0..<5).map { r in (Array(repeating: "\(r)", count: 64) + [r == 3 ? "12" : "\(r)"]).joined(separator: ",") }
        let csv = fixtures.work.appendingPathComponent("bad_label.csv")
        try ([header.joined(separator: ",")] + rows).joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let run = try fixtures.run(exe, ["train", "--data", csv.path, "--epochs", "1"], save: true)
        XCTAssertEqual(run.result.status, 1, run.result.stdout + run.result.stderr)
        XCTAssert(run.result.stderr.contains("bad_label.csv:5:65: error: label 12 is out of range [0, 10)"), run.result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.checkpoint.path))
    }

    // MARK: - 3. Convolutional networks

    /// digits_cnn (convolutions with padding, batch normalization, max pooling) against the
    /// reference trainer: losses per epoch, params and running statistics. With SGD: the bias
    /// of c1 feeds batch normalization, which removes it, so its gradient is 0 up to rounding
    /// (~1e-7 in f32, ~1e-19 in double); Adam divides such a gradient by its own size and turns
    /// the f32 rounding into steps of lr, which the double reference does not take.
    func testDigitsCNNAgreesWithReference() throws {
        try compare("digits_cnn", ["--epochs", "1", "--optimizer", "sgd", "--lr", "0.05"])
        try compare("digits_cnn", ["--epochs", "1", "--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9"])
        try compare("digits_cnn", ["--epochs", "1", "--optimizer", "sgd", "--lr", "0.05", "--batch", "7"])
    }

    /// LeNet reads an IDX image file [n, 28, 28] into `x: f32[N, 1, 28, 28]` (and the same images
    /// as .npy [n, 1, 28, 28]), trains and evaluates; an image file whose examples hold another
    /// number of values is refused, naming the file and both counts.
    func testLeNetTrainsOnIDXImages() throws {
        let exe = try fixtures.trainer(Self.model("mnist_lenet"))
        let dir = fixtures.work.appendingPathComponent("idx")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 5, stream: .initialization)
        func idx(_ name: String, _ dims: [Int], _ values: [UInt8]) throws -> String {
            let url = dir.appendingPathComponent(name)
            try writeIDX(url, dims: dims, values: values)
            return url.path
        }
        let n = 40
        let labels = (0..<n).map { _ in UInt8(rng.below(10)) }
        // Each image holds a bright square whose place depends on its label: learnable.
        var pixels = [UInt8](repeating: 0, count: n * 784)
        for (i, l) in labels.enumerated() {
            for r in 0..<8 { for c in 0..<8 { pixels[i * 784 + (4 + r + 2 * Int(l % 5)) * 28 + 4 + c + 8 * Int(l / 5)] = 255 } }
        }
        let images = try idx("images-ubyte", [n, 28, 28], pixels), y = try idx("labels.idx", [n], labels)
        let run = try fixtures.run(exe, ["train", "--input", "x=\(images)", "--input", "y=\(y)", "--epochs", "3", "--batch", "8"],
                                   save: true)
        guard try assertRan(run, "mnist_lenet on IDX images") != nil, let log = run.log else { return }
        XCTAssertEqual(log.rows.count, 3)
        XCTAssertLessThan(log.column("loss").last ?? .nan, log.column("loss").first ?? .nan, "the loss goes down")
        let eval = try Run.run(exe, ["eval", "--input", "x=\(images)", "--input", "y=\(y)", "--weights", run.checkpoint.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertNotNil(Self.value(named: "accuracy", in: eval.stdout), eval.stdout)
        // 27x28 images do not fill [1, 28, 28].
        let short = try idx("short-ubyte", [n, 27, 28], Array(pixels.prefix(n * 756)))
        let bad = try fixtures.run(exe, ["train", "--input", "x=\(short)", "--input", "y=\(y)"])
        XCTAssertEqual(bad.result.status, 1)
        XCTAssert(bad.result.stderr.contains("short-ubyte: error: 756 values per example do not fit x (784 per example)"),
                  bad.result.stderr)
    }

    /// A batch normalization over [N, C] cannot normalise a training batch of one row: the
    /// trainer refuses the run before its first step, at the layer's call, and says how to avoid
    /// it; with drop_last the same data trains.
    func testOneRowBatchForBatchNormIsRefused() throws {
        let dir = fixtures.work.appendingPathComponent("bn_rows")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let model = dir.appendingPathComponent("bn_rows.dl")
        try """
            model bn_rows {
                input  x: f32[N, 2]
                target y: f32[N, 2]
                layer bn = BatchNorm1d(2)
                forward {
                    p = bn(x)
                    loss mse(p, y)
                }
                train {
                    batch 4
                    data "rows.csv"
                }
            }
            """.write(to: model, atomically: true, encoding: .utf8)
        try ((0..<9).map { "\($0),\(2 * $0),\($0 % 2),1" }.joined(separator: "\n") + "\n")
            .write(to: dir.appendingPathComponent("rows.csv"), atomically: true, encoding: .utf8)
        let exe = try fixtures.trainer(model)
        let run = try fixtures.run(exe, ["train"], save: true)
        XCTAssertEqual(run.result.status, 1)
        XCTAssert(run.result.stderr.contains("bn_rows.dl:6:13: a training batch of 1 row leaves batch normalization a single value per channel (9 training rows in batches of 4); use drop_last true"),
                  run.result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.checkpoint.path))
        let dropped = try fixtures.run(exe, ["train", "--drop-last", "true"])
        XCTAssertEqual(dropped.result.status, 0, dropped.result.stderr)
    }

    /// A checkpoint of digits_cnn holds exactly PyTorch's state_dict of the same network:
    /// params and running statistics as F32, num_batches_tracked as an I64 scalar (one per
    /// step). Re-saved by Python's safetensors (as `save_file(model.state_dict())` writes it)
    /// it is accepted by --weights and evaluates the same; with PyTorch installed, the network
    /// loads it with `load_state_dict(strict=True)` and its eval loss (running statistics) is
    /// dlc's.
    func testCheckpointsWithRunningStatisticsAreExchangedWithPyTorch() throws {
        let url = Self.model("digits_cnn")
        let exe = try fixtures.trainer(url)
        let run = try fixtures.run(exe, ["train", "--epochs", "1"], save: true)
        guard let ckpt = try assertRan(run, "digits_cnn one epoch") else { return }
        let expected: [String: ([Int], String)] = [
            "c1.weight": ([16, 1, 3, 3], "F32"), "c1.bias": ([16], "F32"), "bn1.weight": ([16], "F32"), "bn1.bias": ([16], "F32"),
            "bn1.running_mean": ([16], "F32"), "bn1.running_var": ([16], "F32"), "bn1.num_batches_tracked": ([], "I64"),
            "c2.weight": ([32, 16, 3, 3], "F32"), "c2.bias": ([32], "F32"), "fc.weight": ([10, 128], "F32"), "fc.bias": ([10], "F32"),
        ]
        XCTAssertEqual(Set(ckpt.tensors.keys), Set(expected.keys))
        for (name, (shape, dtype)) in expected {
            XCTAssertEqual(ckpt.tensors[name]?.shape, shape, name)
            XCTAssertEqual(ckpt.tensors[name]?.dtype, dtype, name)
        }
        XCTAssertEqual(ckpt.tensors["bn1.num_batches_tracked"]?.integers, [45], "1438 training rows in batches of 32")
        let data = Golden.root.appendingPathComponent("models/data/digits.csv").path
        let eval = try Run.run(exe, ["eval", "--data", data, "--weights", run.checkpoint.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let loss = Self.value(named: "loss", in: eval.stdout) ?? .nan

        let python = "/usr/bin/env"
        guard (try? Run.run(URL(fileURLWithPath: python), ["python3", "-c", "import numpy, safetensors"]))?.status == 0 else {
            print("note: python3 with numpy and safetensors is not installed: the re-saved checkpoint is not checked")
            return
        }
        let resaved = run.folder.appendingPathComponent("resaved.safetensors")
        let resave = try Run.run(URL(fileURLWithPath: python), ["python3", "-c", """
            import sys
            from safetensors.numpy import load_file, save_file
            t = load_file(sys.argv[1])
            assert t["bn1.num_batches_tracked"].dtype.name == "int64" and t["bn1.num_batches_tracked"].shape == ()
            save_file(t, sys.argv[2], metadata={"format": "pt"})
            """, run.checkpoint.path, resaved.path])
        XCTAssertEqual(resave.status, 0, resave.stderr)
        let again = try Run.run(exe, ["eval", "--data", data, "--weights", resaved.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, eval.stdout)
        // As an nn.Sequential would name them (its running statistics after each layer's
        // params): --init-map position reads them back in state_dict order.
        let sequential = run.folder.appendingPathComponent("sequential.safetensors")
        let rename = try Run.run(URL(fileURLWithPath: python), ["python3", "-c", """
            import sys
            from safetensors.numpy import load_file, save_file
            prefixes = {"c1.": "0.", "bn1.": "1.", "c2.": "4.", "fc.": "8."}
            t = load_file(sys.argv[1])
            save_file({next(v + k[len(p):] for p, v in prefixes.items() if k.startswith(p)): a for k, a in t.items()}, sys.argv[2])
            """, run.checkpoint.path, sequential.path])
        XCTAssertEqual(rename.status, 0, rename.stderr)
        let mapped = try Run.run(exe, ["eval", "--data", data, "--weights", sequential.path, "--init-map", "position"])
        XCTAssertEqual(mapped.status, 0, mapped.stderr)
        XCTAssertEqual(mapped.stdout, eval.stdout)

        guard (try? Run.run(URL(fileURLWithPath: python), ["python3", "-c", "import torch"]))?.status == 0 else {
            print("note: PyTorch is not installed: load_state_dict(strict=True) is not checked")
            return
        }
        let torchEval = try Run.run(URL(fileURLWithPath: python), ["python3", "-c", """
            import sys
            import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
            from safetensors.torch import load_file
            class DigitsCNN(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.c1 = nn.Conv2d(1, 16, 3, padding=1); self.bn1 = nn.BatchNorm2d(16)
                    self.c2 = nn.Conv2d(16, 32, 3, padding=1); self.fc = nn.Linear(128, 10)
                def forward(self, x):
                    h1 = F.max_pool2d(F.relu(self.bn1(self.c1(x))), 2)
                    return self.fc(torch.flatten(F.max_pool2d(F.relu(self.c2(h1)), 2), 1))
            m = DigitsCNN()
            m.load_state_dict(load_file(sys.argv[1]), strict=True)
            m.eval()
            d = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
            with torch.no_grad():
                z = m(torch.tensor(d[:, :64], dtype=torch.float32).reshape(-1, 1, 8, 8))
            print(F.cross_entropy(z, torch.tensor(d[:, 64], dtype=torch.int64)).item())
            """, run.checkpoint.path, data])
        XCTAssertEqual(torchEval.status, 0, torchEval.stderr)
        let torchLoss = Double(torchEval.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan
        XCTAssertEqual(torchLoss, loss, accuracy: 1e-5 * max(1, abs(loss)), "PyTorch's eval loss with dlc's checkpoint")
    }

    // MARK: - 4. The models' targets, with their own settings

    /// The section 9 program with its own settings (20 epochs, seed 0): at least PyTorch's
    /// validation accuracy for the same network, data and validation rows
    /// (bench/py/torch_digits_cnn.py: 0.9805 to 0.9916 over seeds 0-9, 0.9861 for seed 0's rows).
    func testDigitsCNNReachesPyTorchAccuracy() throws {
        let url = Self.model("digits_cnn")
        let run = try fixtures.run(try fixtures.trainer(url), ["train"], save: true)
        guard try assertRan(run, "digits_cnn") != nil, let log = run.log else { return }
        XCTAssertEqual(log.rows.count, 20)
        let accuracy = log.column("accuracy").last ?? .nan
        XCTAssertGreaterThanOrEqual(accuracy, 0.98, "digits_cnn: validation accuracy after 20 epochs")
        let eval = try Run.run(try fixtures.trainer(url), ["eval", "--weights", run.checkpoint.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        print("digits_cnn: validation accuracy \(accuracy), eval (all rows, running statistics) \(eval.stdout)")
    }

    func testDigitsReachesNinetyFivePercent() throws {
        let url = Self.model("digits")
        let run = try fixtures.run(try fixtures.trainer(url), ["train"], save: true)
        guard try assertRan(run, "digits") != nil, let log = run.log else { return }
        XCTAssertEqual(log.rows.count, 30)
        let accuracy = log.column("accuracy").last ?? .nan
        XCTAssertGreaterThanOrEqual(accuracy, 0.95, "digits: validation accuracy after 30 epochs")
        // eval over every row of the file with the saved params and normalize statistics.
        let eval = try Run.run(try fixtures.trainer(url), ["eval", "--weights", run.checkpoint.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let evalAccuracy = Self.value(named: "accuracy", in: eval.stdout) ?? .nan
        XCTAssertGreaterThanOrEqual(evalAccuracy, 0.95, eval.stdout)
        print("digits: validation accuracy \(accuracy), eval accuracy (all rows) \(evalAccuracy)")
    }

    func testLineGridFitsBelowTwoHundredths() throws {
        let run = try fixtures.run(try fixtures.trainer(Self.model("line_grid")), ["train"])
        guard try assertRan(run, "line_grid") != nil, let log = run.log else { return }
        let loss = log.column("loss")
        XCTAssertEqual(loss.count, 31)
        XCTAssertLessThan(loss.last ?? .nan, 0.02, "line_grid: final training loss")
        print("line_grid: final training loss \(loss.last ?? .nan)")
    }

    func testWineAndCarsTrain() throws {
        for name in ["wine", "wine_binary"] {
            let run = try fixtures.run(try fixtures.trainer(Self.model(name)), ["train"])
            guard try assertRan(run, name) != nil, let log = run.log else { continue }
            let loss = log.column("loss"), accuracy = log.column("accuracy").last ?? .nan
            XCTAssertLessThan(loss.last!, loss.first! / 4, "\(name): the training loss falls")
            XCTAssertGreaterThanOrEqual(accuracy, 0.9, "\(name): accuracy")
            print("\(name): loss \(loss.first!) -> \(loss.last!), accuracy \(accuracy)")
        }
        let run = try fixtures.run(try fixtures.trainer(Self.model("cars")), ["train"], save: true)
        guard try assertRan(run, "cars") != nil, let log = run.log else { return }
        let loss = log.column("loss"), mae = log.column("mae")
        XCTAssertLessThan(loss.last!, loss.first! / 10, "cars: the training loss falls")
        XCTAssertLessThan(mae.last!, 4.0, "cars: validation MAE in MPG")
        let eval = try Run.run(try fixtures.trainer(Self.model("cars")), ["eval", "--weights", run.checkpoint.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let evalMAE = Self.value(named: "mae", in: eval.stdout) ?? .nan
        XCTAssertLessThan(evalMAE, 4.0, eval.stdout)
        print("cars: loss \(loss.first!) -> \(loss.last!), validation MAE \(mae.last!) MPG, eval MAE (all rows) \(evalMAE) MPG")
    }

    /// descend prints x after every update (runtime: the scalar f32 outputs on each `step` line):
    /// the lecture's 0.840, 0.708, 0.606, 0.530, ... down to 0.398; the checkpoint ends there too.
    func testDescendFollowsTheLecture() throws {
        let url = Self.model("descend")
        let run = try fixtures.run(try fixtures.trainer(url), ["train"], save: true)
        guard let ckpt = try assertRan(run, "descend") else { return }
        let lines = run.result.stdout.split(separator: "\n").filter { $0.hasPrefix("step ") }
        XCTAssertEqual(lines.count, 20, run.result.stdout)
        XCTAssertEqual(lines.first.map(String.init), "step 1/20  loss -1.000000  x 0.840000  lr 0.02")
        let xs = lines.compactMap { Self.value(named: "x", in: String($0), separator: " ") }
        XCTAssertEqual(xs.count, 20, run.result.stdout)
        XCTAssertEqual(xs.prefix(4).map { String(format: "%.3f", $0) }, ["0.840", "0.708", "0.606", "0.530"])
        XCTAssertEqual(String(format: "%.3f", xs.last ?? .nan), "0.398")
        // The whole trajectory against the reference trainer's, update by update.
        let m = try fixtures.model(url)
        var trajectory: [Double] = []
        _ = try Trainer(graph: m.graph).train { _, params in trajectory.append(params["x"]!.scalars[0]) }
        XCTAssertEqual(trajectory.count, xs.count)
        for (i, (c, r)) in zip(xs, trajectory).enumerated() {
            XCTAssertEqual(c, r, accuracy: 2e-6, "descend: x after update \(i + 1)")
        }
        let x = ckpt.tensors["x"]?.values.first ?? .nan
        XCTAssertEqual(String(format: "%.3f", Double(x)), "0.398")
        XCTAssertEqual(Double(x), trajectory.last!, accuracy: 1e-6)
        print("descend: x = \(x) after 20 updates; printed \(xs.map { String(format: "%.3f", $0) }.joined(separator: ", "))")
    }

    // MARK: - 5. Determinism

    /// One seed, one result: the same checkpoint files byte for byte (split, shuffle, dropout
    /// and init all seeded); another seed gives other params.
    func testSameSeedSameCheckpointOtherSeedDiffers() throws {
        let exe = try fixtures.trainer(Self.model("digits_dropout"))
        let args = ["train", "--epochs", "1", "--seed", "3"]
        let a = try fixtures.run(exe, args, save: true), b = try fixtures.run(exe, args, save: true)
        let c = try fixtures.run(exe, ["train", "--epochs", "1", "--seed", "4"], save: true)
        guard let pa = try assertRan(a, "seed 3"), let pb = try assertRan(b, "seed 3 again"),
              let pc = try assertRan(c, "seed 4") else { return }
        XCTAssertEqual(try Data(contentsOf: a.checkpoint), try Data(contentsOf: b.checkpoint), "params file")
        XCTAssertEqual(try Data(contentsOf: a.optimizerState), try Data(contentsOf: b.optimizerState), "optimizer file")
        XCTAssertEqual(pa.tensors, pb.tensors)
        for name in pa.tensors.keys {
            XCTAssertNotEqual(pa.tensors[name], pc.tensors[name], "\(name) with seed 3 and seed 4")
        }
        XCTAssertEqual(a.log?.column("loss"), b.log?.column("loss"))
        XCTAssertNotEqual(a.log?.column("loss"), c.log?.column("loss"))
    }

    /// Seeds give independent trainings (issue 9, defect 1): the cars regressor of the course
    /// notes, trained from seeds 0–9, ends in distinct places, and most seeds reach the good
    /// fit (MSE ≈ 17.4; PyTorch's init: 9 of 10 seeds). With the old seeding every seed was the
    /// previous one's stream shifted by one draw and all ten stayed near MSE 120.
    func testSeedsAreIndependentTrainings() throws {
        let exe = try fixtures.trainer(Self.program("cars_seeds"))
        var finalLosses: [Double] = []
        for seed in 0..<10 {
            let run = try fixtures.run(exe, ["train", "--seed", "\(seed)"])
            XCTAssertEqual(run.result.status, 0, "seed \(seed): \(run.result.stderr)")
            guard let loss = run.log?.column("loss").last else { return XCTFail("seed \(seed): no --log rows") }
            finalLosses.append(loss)
        }
        XCTAssertEqual(Set(finalLosses).count, 10, "final losses \(finalLosses): two seeds trained alike")
        let goodFits = finalLosses.filter { $0 < 20 }.count
        XCTAssertGreaterThanOrEqual(goodFits, 5, "final losses \(finalLosses): the good fit (MSE < 20) on \(goodFits) of 10 seeds")
    }

    // MARK: - 6. The default data file

    /// The `data` setting is relative to the .dl file (spec section 6): a trainer compiled
    /// as `dlc compile ../models/line_fit.dl` from one folder finds its data from any other.
    func testDefaultDataIsFoundFromAnotherDirectory() throws {
        try FileManager.default.createDirectory(at: fixtures.work, withIntermediateDirectories: true)
        let exe = fixtures.work.appendingPathComponent("line_fit-relative")
        let compiledFrom = Golden.root.appendingPathComponent("Tests")
        let r = try Run.dlc(["compile", "../models/line_fit.dl", "-o", exe.path], in: compiledFrom)
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try fixtures.run(exe, ["train", "--epochs", "1"])
        XCTAssertEqual(run.result.status, 0, run.result.stderr)
        XCTAssertTrue(run.result.stdout.contains("train line_fit: "), run.result.stdout)
    }

    /// A missing default data file: the trainer says where it looked and that --data sets it.
    func testMissingDefaultDataSaysWhereItLookedAndHowToSetIt() throws {
        let folder = fixtures.work.appendingPathComponent("missing-data")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var source = try String(contentsOf: Self.model("line_fit"), encoding: .utf8)
        source = source.replacingOccurrences(of: "data \"data/cars.csv\"", with: "data \"gone/cars.csv\"")
        try source.write(to: folder.appendingPathComponent("line_fit.dl"), atomically: true, encoding: .utf8)
        let exe = folder.appendingPathComponent("trainer")
        let r = try Run.dlc(["compile", "line_fit.dl", "-o", exe.path], in: folder)
        XCTAssertEqual(r.status, 0, r.stderr)
        let run = try fixtures.run(exe, ["train", "--epochs", "1"])
        XCTAssertNotEqual(run.result.status, 0)
        let looked = folder.appendingPathComponent("gone/cars.csv").path
        XCTAssertTrue(run.result.stderr.contains(looked), run.result.stderr)
        XCTAssertTrue(run.result.stderr.contains("--data FILE"), run.result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.folder.appendingPathComponent("log.csv").path),
                       "a failed run leaves no log")
    }

    // MARK: - Comparing a trainer run with the reference

    func compare(program name: String, _ flags: [String], maxUpdates: Int? = nil,
                 configure: (inout TrainConfig) -> Void = { _ in }, file: StaticString = #filePath, line: UInt = #line) throws {
        try compare(url: Self.program(name), flags, maxUpdates: maxUpdates, configure: configure, file: file, line: line)
    }

    func compare(_ name: String, _ flags: [String], maxUpdates: Int? = nil,
                 configure: (inout TrainConfig) -> Void = { _ in }, file: StaticString = #filePath, line: UInt = #line) throws {
        try compare(url: Self.model(name), flags, maxUpdates: maxUpdates, configure: configure, file: file, line: line)
    }

    /// Trains with the trainer (`train FLAGS --log --save`) and with `Trainer` under the same
    /// configuration (FLAGS translated; `configure` for the ones not translated here), then
    /// compares every epoch's loss, validation loss and learning rate, the update count and
    /// the final params.
    func compare(url: URL, _ flags: [String], maxUpdates: Int?, configure: (inout TrainConfig) -> Void,
                 file: StaticString, line: UInt) throws {
        let m = try fixtures.model(url)
        let what = "\(m.graph.name) \(flags.joined(separator: " "))"
        var config = m.graph.train
        var i = 0
        while i + 1 < flags.count {
            let value = flags[i + 1]
            switch flags[i] {
            case "--epochs": config.epochs = Int(value)!
            case "--batch": config.batch = value == "full" ? nil : Int(value)!
            case "--drop-last": config.dropLast = value == "true"
            case "--seed": config.seed = Int(value)!
            case "--optimizer": config.optimizer = Optimizer.defaults(Optimizer.Kind(rawValue: value)!)
            case "--lr": config.optimizer.lr = Double(value)!
            case "--momentum": config.optimizer.momentum = Double(value)!
            case "--steps": if !m.graph.data.isEmpty { config.epochs = 1_000_000 }
            case "--schedule": break
            default: XCTFail("\(what): flag \(flags[i]) is not translated for the reference", file: file, line: line)
            }
            i += 2
        }
        configure(&config)

        let run = try fixtures.run(try fixtures.trainer(url), ["train"] + flags, save: true)
        guard let ckpt = try assertRan(run, what, file: file, line: line), let log = run.log else { return }
        var paramsAfter: [[String: Tensor]] = []
        let reference = try Trainer(graph: m.graph, config: config).train(data: m.data, maxUpdates: maxUpdates) { _, p in
            if m.graph.data.isEmpty { paramsAfter.append(p) }
        }
        if m.graph.data.isEmpty { try assertStepLines(run.result.stdout, m.graph, paramsAfter, what, file: file, line: line) }

        // Per epoch (per update for a model without data): the C trainer's losses are f32
        // forward passes summed in double; the reference's are double throughout, so they
        // agree to f32 rounding carried through the epochs.
        let losses = log.column("loss")
        XCTAssertEqual(losses.count, reference.epochs.count, "\(what): log rows", file: file, line: line)
        for (e, (c, r)) in zip(losses, reference.epochs).enumerated() {
            assertRelative(c, r.loss, 1e-4, "\(what): loss of epoch \(e + 1)", file: file, line: line)
            assertRelative(log.column("lr")[e], r.learningRate, 1e-7, "\(what): lr of epoch \(e + 1)", file: file, line: line)
            if let v = r.validationLoss {
                assertRelative(log.column("val_loss")[e], v, 1e-4, "\(what): val_loss of epoch \(e + 1)", file: file, line: line)
            } else if log.columns.contains("val_loss") {
                XCTAssert(log.column("val_loss")[e].isNaN, "\(what): val_loss without validation rows", file: file, line: line)
            }
        }
        XCTAssertEqual(log.column("step").last.map { Int($0) }, reference.updates, "\(what): updates", file: file, line: line)
        XCTAssertEqual(ckpt.metadata["dlc.step"], "\(reference.updates)", "\(what): dlc.step", file: file, line: line)

        // The final params. The trainer runs in f32 (params, gradients, optimizer state), the
        // reference in double: rounding differences of ~1e-7 per operation are carried through
        // every update, so over these runs (tens to a few hundred updates) the params agree to
        // about 1e-6; the bound is 1e-3, relative to the larger of the element and a tenth of
        // its tensor's largest element (an element near 0 has no meaningful relative error).
        // Some runs are chaotic, though: with ReLU and Adam, a rounding difference can flip
        // one example's unit at a kink, and Adam turns the changed gradient into a step of
        // ~lr. Then the reference disagrees with itself just as much when its initial params
        // move by one f32 ulp, so the bound is widened to 3x that self-disagreement (digits at
        // batch 7: 2e-3 absolute on one hidden unit, as in the perturbed reference).
        var worstOverall = 0.0
        defer { print("\(what): \(reference.epochs.count) epochs, \(reference.updates) updates agree; largest param difference \(worstOverall)") }
        var nudged = ParamInitializer.initialValues(m.graph.params, seed: config.seed)
        for k in nudged.keys { nudged[k]!.scalars = nudged[k]!.scalars.map { Double(Float($0).nextUp) } }
        let perturbed = try Trainer(graph: m.graph, config: config).train(data: m.data, initialParams: nudged,
                                                                           maxUpdates: maxUpdates)
        for p in m.graph.params {
            guard let got = ckpt.tensors[p.name], let want = reference.params[p.name],
                  let other = perturbed.params[p.name] else {
                XCTFail("\(what): no \(p.name)", file: file, line: line)
                continue
            }
            XCTAssertEqual(got.values.count, want.count, "\(what): size of \(p.name)", file: file, line: line)
            let scale = want.scalars.map(abs).max() ?? 0
            func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 0.1 * scale, 1e-6) }
            let spread = zip(other.scalars, want.scalars).map(relative).max() ?? 0
            let bound = max(1e-3, 3 * spread)
            var worst = (index: -1, error: 0.0)
            for (j, (c, r)) in zip(got.values, want.scalars).enumerated() {
                let error = relative(Double(c), r)
                if !(error <= worst.error) { worst = (j, error) }
            }
            worstOverall = max(worstOverall, worst.error)
            if !(worst.error <= bound) {
                XCTFail("\(what): \(p.name)[\(worst.index)] is \(got.values[worst.index]), reference \(want.scalars[worst.index]) "
                        + "(relative \(worst.error); bound \(bound))", file: file, line: line)
            }
        }
        // The state (running statistics) after the last step: a counter exactly, statistics as
        // closely as the params (they are averages of the same f32 activations).
        for st in m.graph.state {
            guard let got = ckpt.tensors[st.name], let want = reference.state[st.name] else {
                XCTFail("\(what): no state \(st.name)", file: file, line: line)
                continue
            }
            if st.type.dtype == .i32 {
                XCTAssertEqual(got.integers.map(Double.init), want.scalars, "\(what): \(st.name)", file: file, line: line)
                continue
            }
            let scale = want.scalars.map(abs).max() ?? 0
            for (j, (c, r)) in zip(got.values, want.scalars).enumerated() where !(abs(Double(c) - r) <= 1e-3 * max(abs(r), 0.1 * scale, 1e-6)) {
                XCTFail("\(what): \(st.name)[\(j)] is \(c), reference \(r)", file: file, line: line)
                break
            }
        }
    }

    /// A model without data prints `step K/N  loss L  NAME V ...  lr R` lines: each scalar f32
    /// output's value V with the params after update K, as the interpreter evaluates it.
    func assertStepLines(_ stdout: String, _ graph: Graph, _ paramsAfter: [[String: Tensor]], _ what: String,
                         file: StaticString, line: UInt) throws {
        let scalars = graph.outputs.filter { graph.type(of: $0.value) == .f32Scalar }
        let lines = stdout.split(separator: "\n").filter { $0.hasPrefix("step ") }
        XCTAssertFalse(lines.isEmpty, "\(what): no step lines", file: file, line: line)
        let interpreter = Interpreter(graph: graph)
        for text in lines {
            let fields = text.components(separatedBy: "  ")
            guard let k = Int(fields[0].dropFirst(5).prefix { $0 != "/" }), k >= 1, k <= paramsAfter.count else {
                XCTFail("\(what): cannot read '\(text)'", file: file, line: line)
                continue
            }
            let names = fields.dropFirst().map { $0.split(separator: " ").first.map(String.init) ?? "" }
            XCTAssertEqual(names, ["loss"] + scalars.map(\.name) + ["lr"], "\(what): '\(text)'", file: file, line: line)
            let values = try interpreter.run(feeds: [:], params: paramsAfter[k - 1])
            for o in scalars {
                guard let printed = Self.value(named: o.name, in: String(text), separator: " ") else { continue }
                let expected = values[o.value].scalars[0]
                if !(abs(printed - expected) <= 1e-6 + 1e-5 * abs(expected)) {
                    XCTFail("\(what): step \(k) prints \(o.name) \(printed), reference \(expected)", file: file, line: line)
                }
            }
        }
    }

    func assertRelative(_ actual: Double, _ expected: Double, _ tolerance: Double, _ what: String,
                        file: StaticString, line: UInt) {
        if !(abs(actual - expected) <= tolerance * max(abs(expected), 1e-6)) {
            XCTFail("\(what): trainer \(actual), reference \(expected)", file: file, line: line)
        }
    }

    /// The run's checkpoint, or nil after a failure naming the run.
    @discardableResult
    func assertRan(_ run: TrainerFixtures.TrainerRun, _ what: String, file: StaticString = #filePath,
                   line: UInt = #line) throws -> SafeTensors? {
        guard run.result.status == 0 else {
            XCTFail("\(what): exit \(run.result.status)\n\(run.result.stderr)\(run.result.stdout.suffix(2000))", file: file, line: line)
            return nil
        }
        guard FileManager.default.fileExists(atPath: run.checkpoint.path) else { return SafeTensors() }
        return try SafeTensors(contentsOf: run.checkpoint)
    }

    /// `NAME: VALUE` (eval) or `NAME VALUE` (progress lines) in text.
    static func value(named name: String, in text: String, separator: String = ": ") -> Double? {
        for line in text.split(separator: "\n") {
            let fields = line.components(separatedBy: "  ")
            for f in fields where f.hasPrefix(name + separator) {
                return Double(f.dropFirst(name.count + separator.count).trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }
}

/// Trainer binaries built once per test process, with each model's graph and data.
final class TrainerFixtures: @unchecked Sendable {
    static let shared = TrainerFixtures()

    let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-trainer-tests-\(getpid())")
    private let lock = NSLock()
    private var binaries: [String: URL] = [:]
    private var models: [String: Model] = [:]
    private var runs = 0

    /// A model's training graph and its data as the trainer reads it (CSV values rounded to
    /// f32, as the C runtime stores them; before any normalization).
    struct Model {
        let url: URL
        let pipeline: Pipeline
        let graph: Graph
        let data: [String: Tensor]
    }

    /// What one trainer command did: its output, and the files it wrote.
    struct TrainerRun {
        let result: ProcessResult
        let folder: URL
        var checkpoint: URL { folder.appendingPathComponent("params.safetensors") }
        var optimizerState: URL { folder.appendingPathComponent("params.optim.safetensors") }
        let log: TrainLog?
    }

    func removeScratch() { try? FileManager.default.removeItem(at: work) }

    func model(_ url: URL) throws -> Model {
        lock.lock()
        defer { lock.unlock() }
        if let m = models[url.path] { return m }
        let pipeline = try Pipeline.load(path: url.path)
        let graph: Graph
        switch pipeline.trainingGraph() {
        case .success(let g): graph = g
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
        var data: [String: Tensor] = [:]
        if let path = graph.train.data, !graph.data.isEmpty {
            let csv = try CSVData(path: pipeline.resolveDataPath(path))
            data = try csv.feeds(for: graph, columns: graph.train.columns)
            for d in graph.data where d.type.dtype == .f32 {
                data[d.name]!.scalars = data[d.name]!.scalars.map { Double(Float($0)) }
            }
        }
        let m = Model(url: url, pipeline: pipeline, graph: graph, data: data)
        models[url.path] = m
        return m
    }

    /// The trainer of a model, built by `dlc compile MODEL -o PATH` on first use.
    func trainer(_ url: URL) throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let exe = binaries[url.path] { return exe }
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let exe = work.appendingPathComponent("\(url.deletingPathExtension().lastPathComponent)-\(binaries.count)")
        let r = try Run.dlc(["compile", url.path, "-o", exe.path])
        guard r.status == 0 else { throw DataFailure(message: "dlc compile \(url.lastPathComponent) failed:\n\(r.stderr)") }
        binaries[url.path] = exe
        return exe
    }

    /// Runs `exe ARGS` in a fresh folder, with `--log log.csv` for train (and `--save
    /// params.safetensors` when asked).
    func run(_ exe: URL, _ arguments: [String], save: Bool = false) throws -> TrainerRun {
        let folder: URL = try {
            lock.lock()
            defer { lock.unlock() }
            runs += 1
            let f = work.appendingPathComponent("run-\(runs)")
            try FileManager.default.createDirectory(at: f, withIntermediateDirectories: true)
            return f
        }()
        var args = arguments
        let logFile = folder.appendingPathComponent("log.csv")
        if arguments.first == "train" { args += ["--log", logFile.path] }
        if save { args += ["--save", folder.appendingPathComponent("params.safetensors").path] }
        let result = try Run.run(exe, args, in: folder)
        let log = FileManager.default.fileExists(atPath: logFile.path) ? try TrainLog(contentsOf: logFile) : nil
        return TrainerRun(result: result, folder: folder, log: log)
    }

    /// Three rows of zeros in the model's implicit CSV layout (every input and target, in
    /// order), for models whose train block names no data file.
    func zeroData(_ m: Model) throws -> URL {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let width = m.graph.data.reduce(0) { $0 + $1.type.shape.dims.dropFirst().reduce(1) { $0 * ($1.fixedSize ?? 1) } }
        let row = Array(repeating: "0", count: width).joined(separator: ",")
        let url = work.appendingPathComponent("zeros-\(m.graph.name).csv")
        try (Array(repeating: row, count: 3).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}

/// A trainer's `--log` CSV: a header, then one row per epoch (per update without data); an
/// empty field reads as NaN.
struct TrainLog {
    var columns: [String]
    var rows: [[Double]]

    init(contentsOf url: URL) throws {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        columns = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan } }
    }

    func column(_ name: String) -> [Double] {
        guard let i = columns.firstIndex(of: name) else { return [] }
        return rows.map { i < $0.count ? $0[i] : .nan }
    }
}

extension SafeTensors {
    /// No tensors: a run that wrote no checkpoint.
    init() {}
}
