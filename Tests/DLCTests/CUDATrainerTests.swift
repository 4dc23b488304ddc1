import DLCDriver
import Foundation
import XCTest

/// `dlc compile --backend cuda --emulate`: the CUDA trainer built for the CPU emulation, run
/// like the C trainer. Its training log must match the C trainer's (losses within 1e-4
/// relative, as scripts/gpu-check.sh asks of a real GPU), its checkpoints must load in the C
/// trainer and back, and a machine without a usable GPU must be told so.
final class CUDATrainerTests: XCTestCase {
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-cuda-trainer-\(getpid())")
    var work: URL { Self.work }

    override class func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    /// The model's trainer, built once per backend (`cuda` means the emulated CUDA trainer).
    func trainer(_ model: String, _ backend: String) throws -> URL {
        let exe = work.appendingPathComponent("\(model)-\(backend)")
        if FileManager.default.fileExists(atPath: exe.path) { return exe }
        let source = Golden.root.appendingPathComponent("models/\(model).dl").path
        let arguments = ["compile", source, "-o", exe.path] + (backend == "cuda" ? ["--backend", "cuda", "--emulate"] : [])
        let built = try Run.dlc(arguments)
        guard built.status == 0 else { throw DataFailure(message: "dlc compile \(model) (\(backend)): \(built.stderr)") }
        return exe
    }

    /// Dropout (counter-based on the GPU), AdamW, a validation split and shuffling: two epochs
    /// of the emulated CUDA trainer against the C trainer, epoch by epoch.
    func testDropoutModelTrainsLikeTheCTrainer() throws {
        var logs: [String: TrainLog] = [:]
        for backend in ["c", "cuda"] {
            let log = work.appendingPathComponent("log-\(backend).csv"), saved = work.appendingPathComponent("\(backend).safetensors")
            let r = try Run.run(try trainer("digits_dropout", backend),
                                ["train", "--epochs", "2", "--log", log.path, "--save", saved.path], in: work)
            XCTAssertEqual(r.status, 0, "\(backend): \(r.stderr)")
            logs[backend] = try TrainLog(contentsOf: log)
        }
        for column in ["loss", "val_loss", "accuracy"] {
            let c = logs["c"]!.column(column), cuda = logs["cuda"]!.column(column)
            XCTAssertEqual(c.count, 2, column)
            XCTAssertEqual(cuda.count, c.count, column)
            for (a, b) in zip(cuda, c) {
                XCTAssertLessThanOrEqual(abs(a - b), 1e-4 * abs(b) + 1e-6, "\(column): CUDA (emulated) \(a), C \(b)")
            }
        }
        // Each trainer evaluates the other's checkpoint as its own.
        let data = Golden.root.appendingPathComponent("models/data/digits.csv").path
        var evals: [String] = []
        for (backend, weights) in [("c", "cuda"), ("cuda", "cuda"), ("cuda", "c"), ("c", "c")] {
            let r = try Run.run(try trainer("digits_dropout", backend),
                                ["eval", "--data", data, "--weights", work.appendingPathComponent("\(weights).safetensors").path])
            XCTAssertEqual(r.status, 0, "\(backend) eval of \(weights)'s checkpoint: \(r.stderr)")
            evals.append(r.stdout)
        }
        XCTAssertEqual(evals[0], evals[1], "the C and CUDA trainers evaluate the CUDA checkpoint differently")
        XCTAssertEqual(evals[2], evals[3], "the C and CUDA trainers evaluate the C checkpoint differently")
    }

    /// Every optimizer's update runs as a kernel on the GPU: two epochs of digits with each, on
    /// the emulated CUDA trainer and the C trainer, epoch by epoch within 1e-4; then each trainer
    /// resumes the other's checkpoint (params and optimizer state) for a third epoch, and the two
    /// third epochs agree too.
    func testEveryOptimizerTrainsAndResumesLikeTheCTrainer() throws {
        let optimizers = ["sgd(lr: 0.05)", "sgd(lr: 0.05, momentum: 0.9, weight_decay: 0.001)",
                          "sgd(lr: 0.05, momentum: 0.9, nesterov: true)", "adam(lr: 0.002, weight_decay: 0.01)",
                          "adamw(lr: 0.002, weight_decay: 0.05)", "adagrad(lr: 0.05, weight_decay: 0.001)"]
        for (index, optimizer) in optimizers.enumerated() {
            var logs: [String: TrainLog] = [:]
            for backend in ["c", "cuda"] {
                let log = work.appendingPathComponent("opt\(index)-\(backend).csv")
                let saved = work.appendingPathComponent("opt\(index)-\(backend).safetensors")
                let r = try Run.run(try trainer("digits", backend), ["train", "--epochs", "2", "--optimizer", optimizer,
                                                                     "--log", log.path, "--save", saved.path], in: work)
                XCTAssertEqual(r.status, 0, "\(optimizer) \(backend): \(r.stderr)")
                logs[backend] = try TrainLog(contentsOf: log)
            }
            for (backend, other) in [("c", "cuda"), ("cuda", "c")] {
                let log = work.appendingPathComponent("opt\(index)-\(backend)-resumes-\(other).csv")
                let from = work.appendingPathComponent("opt\(index)-\(other).safetensors")
                let r = try Run.run(try trainer("digits", backend), ["train", "--epochs", "1", "--resume", from.path,
                                                                     "--optimizer", optimizer, "--log", log.path], in: work)
                XCTAssertEqual(r.status, 0, "\(optimizer) \(backend) resuming \(other): \(r.stderr)")
                logs["\(backend) resumes"] = try TrainLog(contentsOf: log)
            }
            for column in ["loss", "val_loss", "accuracy"] {
                for (a, b) in [("cuda", "c"), ("cuda resumes", "c resumes")] {
                    let x = logs[a]!.column(column), y = logs[b]!.column(column)
                    XCTAssertEqual(x.count, a == "cuda" ? 2 : 1, "\(optimizer) \(a) \(column)")
                    XCTAssertEqual(x.count, y.count, "\(optimizer) \(a) \(column)")
                    for (u, v) in zip(x, y) {
                        XCTAssertLessThanOrEqual(abs(u - v), 1e-4 * abs(v) + 1e-6, "\(optimizer) \(column): \(a) \(u), \(b) \(v)")
                    }
                }
            }
        }
    }

    /// Every kind of metric counted on the GPU (dlc_device_count) says what the C trainer's
    /// host loop says: accuracy by argmax (digits), by threshold 0.5 (wine_binary, bce) and 0
    /// (wine_hinge), mae (cars) and mse (cars with --metric mse), each trainer evaluating the
    /// same C checkpoint.
    func testEveryMetricCountedOnTheDeviceMatchesTheCTrainer() throws {
        let cases: [(model: String, metric: [String], name: String)] = [
            ("digits", [], "accuracy"), ("wine_binary", [], "accuracy"), ("wine_hinge", [], "accuracy"),
            ("cars", [], "mae"), ("cars", ["--metric", "mse"], "mse"),
        ]
        for (model, metric, name) in cases {
            let weights = work.appendingPathComponent("metric-\(model).safetensors")
            if !FileManager.default.fileExists(atPath: weights.path) {
                let r = try Run.run(try trainer(model, "c"), ["train", "--epochs", "2", "--save", weights.path], in: work)
                XCTAssertEqual(r.status, 0, "\(model): \(r.stderr)")
            }
            var values: [String: [String: Double]] = [:]
            for backend in ["c", "cuda"] {
                let r = try Run.run(try trainer(model, backend), ["eval", "--weights", weights.path] + metric, in: work)
                XCTAssertEqual(r.status, 0, "\(model) \(backend): \(r.stderr)")
                // "loss: X" and "NAME: X"
                var lines: [String: Double] = [:]
                for line in r.stdout.split(separator: "\n") {
                    let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                    if parts.count == 2, let v = Double(parts[1]) { lines[parts[0]] = v }
                }
                values[backend] = lines
            }
            for key in ["loss", name] {
                guard let c = values["c"]?[key], let cuda = values["cuda"]?[key] else {
                    XCTFail("\(model) \(metric): no \(key) in \(values)")
                    continue
                }
                XCTAssertLessThanOrEqual(abs(c - cuda), 1e-6 * abs(c) + 1e-9, "\(model) \(key): C \(c), CUDA (emulated) \(cuda)")
            }
        }
    }

    /// The same seed twice: bit-identical checkpoints.
    func testSameSeedGivesIdenticalCheckpoints() throws {
        var files: [Data] = []
        for run in 0..<2 {
            let saved = work.appendingPathComponent("seed-\(run).safetensors")
            let r = try Run.run(try trainer("digits_dropout", "cuda"), ["train", "--epochs", "1", "--save", saved.path], in: work)
            XCTAssertEqual(r.status, 0, r.stderr)
            files.append(try Data(contentsOf: saved))
        }
        XCTAssertEqual(files[0], files[1])
    }

    /// Without nvcc the build says where to get one and writes nothing; --emulate needs a
    /// backend with a device.
    func testBuildWithoutNVCCSaysWhereToGetIt() throws {
        let x = work.appendingPathComponent("x")
        let r = try Run.run(Run.dlc, ["compile", "models/digits.dl", "--backend", "cuda", "-o", x.path], in: Golden.root,
                            environment: ["DLC_NVCC": "", "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("CUDA compiler (nvcc)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("scripts/install-deps.sh --cuda installs nvcc"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: x.path))
        let wrong = try Run.run(Run.dlc, ["compile", "models/digits.dl", "--backend", "cuda", "-o", x.path], in: Golden.root,
                                environment: ["DLC_NVCC": "/nonexistent/nvcc"])
        XCTAssertEqual(wrong.status, 1, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("DLC_NVCC is set to '/nonexistent/nvcc', which is not an executable program"), wrong.stderr)
        let emulateAlone = try Run.dlc(["compile", "models/digits.dl", "--emulate", "-o", x.path], in: Golden.root)
        XCTAssertEqual(emulateAlone.status, 2, emulateAlone.stderr)
        XCTAssertTrue(emulateAlone.stderr.contains("--emulate needs a backend with a device to emulate: --backend cuda"),
                      emulateAlone.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: x.path))
    }

    /// `--emit cuda` prints the kernels with their IR lines; `--backend cuda --emit c` the descriptor.
    func testEmitCUDAAndItsDescriptor() throws {
        let cu = try Run.dlc(["compile", "models/digits.dl", "--emit", "cuda"], in: Golden.root)
        XCTAssertEqual(cu.status, 0, cu.stderr)
        for text in ["#include \"dlc_cuda.h\"", "__global__ void train_", "cublasSgemm(c->blas", "/* %logits: f32[N,10] = linear",
                     "extern \"C\" float train_step(const dlc_step *s)", "dlc_block_reduce("] {
            XCTAssertTrue(cu.stdout.contains(text), "no \(text) in:\n\(cu.stdout)")
        }
        XCTAssertFalse(cu.stdout.contains("atomicAdd"), "a float atomic makes sums nondeterministic")
        let descriptor = try Run.dlc(["compile", "models/digits.dl", "--backend", "cuda", "--emit", "c"], in: Golden.root)
        XCTAssertEqual(descriptor.status, 0, descriptor.stderr)
        XCTAssertTrue(descriptor.stdout.contains("extern float train_step(const dlc_step *s);"), descriptor.stdout)
        XCTAssertTrue(descriptor.stdout.contains("const dlc_model dlc_generated_model ="), descriptor.stdout)
    }

    /// No GPU, a --device the machine lacks, an old GPU, too little GPU memory, a failed cuBLAS
    /// call: a message and exit 1, nothing written.
    func testUnusableGPUStopsWithAMessage() throws {
        let exe = try trainer("digits", "cuda")
        let saved = work.appendingPathComponent("never.safetensors")
        let cases: [([String: String], [String], String)] = [
            (["DLC_EMULATE_DEVICES": "0"], [], "error: no CUDA GPU is available"),
            ([:], ["--device", "1"], "error: --device 1: this machine has 1 GPU (0 to 0)"),
            (["DLC_EMULATE_DEVICES": "2"], ["--device", "2"], "error: --device 2: this machine has 2 GPUs (0 to 1)"),
            (["DLC_EMULATE_COMPUTE_CAPABILITY": "7.5"], [], "has compute capability 7.5; dlc's CUDA trainers need 8.0 or newer"),
            (["DLC_EMULATE_MEMORY": "100000"], [], "out of GPU memory"),
            (["DLC_EMULATE_CUBLAS_FAIL": "3"], [], "error: cuBLAS: cublasSgemm failed: CUBLAS_STATUS_EXECUTION_FAILED"),
        ]
        for (environment, flags, message) in cases {
            let r = try Run.run(exe, ["train", "--epochs", "1", "--save", saved.path] + flags, in: work, environment: environment)
            XCTAssertEqual(r.status, 1, "\(environment) \(flags): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(environment) \(flags): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: saved.path), "\(environment) \(flags)")
        }
    }

    /// The copies between host and device that a training run makes (DLC_EMULATE_REPORT=1).
    struct Copies {
        var toDevice = 0, fromDevice = 0
        init(_ stderr: String) throws {
            let pattern = try NSRegularExpression(pattern: #"emulation: \d+ copies to the device \((\d+) bytes\), \d+ from the device \((\d+) bytes\)"#)
            let range = NSRange(stderr.startIndex..., in: stderr)
            guard let match = pattern.firstMatch(in: stderr, range: range),
                  let to = Range(match.range(at: 1), in: stderr), let from = Range(match.range(at: 2), in: stderr)
            else { throw DataFailure(message: "no copy report in: \(stderr)") }
            toDevice = Int(stderr[to])!
            fromDevice = Int(stderr[from])!
        }
    }

    /// The data set goes to the GPU once when it fits, and each batch is gathered there; the
    /// metric is counted on the GPU, so the validation outputs never come back. When the rows do
    /// not fit, batches stream over, with the same result bit for bit.
    func testDataSetCopiedOnceAndMetricsCountedOnTheDevice() throws {
        let exe = try trainer("digits", "cuda")
        // digits: 1438 training and 359 validation rows of 64 f32 pixels and an i32 label.
        let row = 64 * 4 + 4, dataBytes = (1438 + 359) * row, outputBytes = 359 * 10 * 4
        var saved: [Data] = [], toDevice: [Int] = [], waitsAhead: [Int] = []
        // The cap leaves too little free memory beside the 32 MiB cuBLAS workspace and the
        // model's buffers for the rows (half the free memory): 35 MB leaves enough.
        for (memory, resident) in [("35000000", true), ("33954432", false)] {
            let file = work.appendingPathComponent("copies-\(memory).safetensors")
            let r = try Run.run(exe, ["train", "--epochs", "2", "--save", file.path], in: work,
                                environment: ["DLC_EMULATE_REPORT": "1", "DLC_EMULATE_MEMORY": memory])
            XCTAssertEqual(r.status, 0, r.stderr)
            let copies = try Copies(r.stderr)
            if resident {
                XCTAssertGreaterThanOrEqual(copies.toDevice, dataBytes)
                XCTAssertLessThan(copies.toDevice, dataBytes * 3 / 2, "the rows of two epochs went to the device more than once")
            } else {
                // The training rows stream; the validation rows, fewer, still fit.
                XCTAssertGreaterThanOrEqual(copies.toDevice, 1438 * row * 2, "streamed rows: every epoch's batches")
            }
            // Back: a loss per step, the metric's sum per epoch, and each epoch's saved params and
            // Adam state (3 x 4810 floats); the validation outputs of both epochs would be more.
            XCTAssertLessThan(copies.fromDevice, 2 * 3 * 4810 * 4 + outputBytes, "outputs came back for the metric")
            saved.append(try Data(contentsOf: file))
            toDevice.append(copies.toDevice)
            let waits = r.stderr.split(separator: "\n").first { $0.hasSuffix("waits on copies made while a step computed") }
            waitsAhead.append(waits.flatMap { Int($0.split(separator: " ")[1]) } ?? 0)
        }
        XCTAssertEqual(saved[0], saved[1], "batches gathered on the device and streamed ones differ")
        // Streamed batches are copied ahead as predicted (the next batch while a step computes):
        // each training row crosses once an epoch, where the resident run copied them once in
        // all; a wrong guess would copy a batch twice. (Besides: each step's shuffled order.)
        let orders = 2 * 1438 * 8
        XCTAssertLessThanOrEqual(toDevice[1], toDevice[0] + 1438 * row + orders, "streamed rows were copied more than once")
        // Of each epoch's 44 full batches of 32 and the last of 30, all but the first and the
        // last (not predicted) were copied while the step before them computed.
        XCTAssertEqual(waitsAhead, [0, 2 * (44 - 1)], "batches copied ahead of their step")
    }

    /// `--device N` picks the GPU: on a machine of two, device 1 trains as device 0 does.
    func testDeviceFlagPicksTheGPU() throws {
        let exe = try trainer("digits", "cuda")
        var files: [Data] = []
        for device in ["0", "1"] {
            let saved = work.appendingPathComponent("device-\(device).safetensors")
            let r = try Run.run(exe, ["train", "--epochs", "1", "--device", device, "--save", saved.path], in: work,
                                environment: ["DLC_EMULATE_DEVICES": "2"])
            XCTAssertEqual(r.status, 0, "--device \(device): \(r.stderr)")
            files.append(try Data(contentsOf: saved))
        }
        XCTAssertEqual(files[0], files[1])
    }
}
