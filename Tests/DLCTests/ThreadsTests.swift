import DLCBackendC
import DLCBackendLLVM
import DLCDiagnostics
import DLCDriver
import DLCLowering
import Foundation
import XCTest

/// The generated loops on the trainer's threads (`ParallelLoops`, codegen/core/dlc_parallel.c):
/// which kernels the printers split, and trainers on two threads giving one result. (The
/// kernels on two threads against the interpreter: `BackendTests` and `LLVMBackendTests`.)
final class ThreadsTests: XCTestCase {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-threads-\(getpid())")

    override func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    func program(_ path: String) throws -> KernelProgram {
        let p = try Pipeline.load(path: Golden.root.appendingPathComponent(path).path)
        switch p.kernelProgram() {
        case .success(let program): return program
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    /// Bench (a)'s train entry: the bias + ReLU and the bias add split by rows, the loss
    /// gradient by rows, the ReLU gradient with its bias sum over the 512 columns; the 10-column
    /// bias sum and every GEMM (dlc_sgemm splits those itself) stay whole.
    func testWhichKernelsOfAnMLPAreSplit() throws {
        let train = try program("bench/models/mnist_sgd.dl").entry(.train)
        var split: [String] = []
        for k in train.kernels {
            guard let s = ParallelLoops.split(k.body) else { continue }
            let kind: String
            switch k.body {
            case .elementwise(let e): kind = e.reductions.isEmpty ? "elementwise" : "elementwise+sum"
            case .reduce: kind = "reduce"
            case .softmaxCrossEntropyGrad: kind = "softmax_cross_entropy_grad"
            default: kind = "other"
            }
            split.append("\(kind) axis \(s.axis) of \(s.extent), work \(s.work)")
        }
        XCTAssertEqual(split, [
            "elementwise axis 0 of N, work 512*N",
            "elementwise axis 0 of N, work 10*N",
            "softmax_cross_entropy_grad axis 0 of N, work 10*N",
            "elementwise+sum axis 1 of 512, work 512*N",
        ])
    }

    /// The tiny lecture MLP (1-10-10-1, full batch 100) has no kernel whose work is constant and
    /// large: every split it has waits for a batch of thousands of rows, and its params' updates
    /// (at most 100 elements) are never split.
    func testTinyModelSplitsOnlyAtLargeBatches() throws {
        let p = try program("models/lecture_mlp.dl")
        for e in p.entries {
            for k in e.kernels {
                guard let s = ParallelLoops.split(k.body) else { continue }
                XCTAssertFalse(s.work.isConstant, "\(e.kind): a constant kernel of \(s.work) elements is split")
                XCTAssertGreaterThanOrEqual(s.work.value(batch: 3000) * 11, ParallelLoops.minimumWork, "\(e.kind)")
                XCTAssertLessThan(s.work.value(batch: 100), ParallelLoops.minimumWork, "\(e.kind): split at its batch of 100")
            }
        }
    }

    /// Both printers split the same kernels: one chunk function per split kernel, called
    /// through dlc_parallel_for when dlc_parallel_parts says so, on the calling thread otherwise.
    /// (The C printer prints a function once for every entry whose kernel is the same text:
    /// `CKernelFunctionsTests`.)
    func testBothPrintersOutlineTheSplitKernels() throws {
        let model = Golden.root.appendingPathComponent("bench/models/mnist_sgd.dl").path
        let c = try Run.dlc(["compile", model, "--emit", "c"]), ll = try Run.dlc(["compile", model, "--emit", "llvm"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(ll.status, 0, ll.stderr)
        let cCalls = c.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let call = line.range(of: "dlc_parallel_for(") else { return nil }
            return line[call.upperBound...].split(separator: ",")[2].trimmingCharacters(in: .whitespaces)
        }
        let llChunks = ll.stdout.split(separator: "\n").filter { $0.hasPrefix("define internal void @") }
            .map { String($0.dropFirst("define internal void @".count).prefix { $0 != "(" }).replacingOccurrences(of: ".", with: "_") }
        XCTAssertEqual(llChunks, ["train_step_k1", "train_step_k3", "train_step_k5", "train_step_k9",
                                  "sgd_step_k1", "sgd_step_k3", "sgd_step_k5", "sgd_step_k9",
                                  "eval_with_targets_k1", "eval_with_targets_k3", "predict_k1", "predict_k3"])
        // The split kernels of sgd, eval and predict are train's, wherever their memory plans put the buffers.
        XCTAssertEqual(cCalls, ["train_step_k1", "train_step_k3", "train_step_k5", "train_step_k9",
                                "train_step_k1", "train_step_k3", "train_step_k5", "train_step_k9",
                                "train_step_k1", "train_step_k3", "train_step_k1", "train_step_k3"].map { $0 + "_chunk" })
        for chunk in Set(cCalls) {
            let kernel = String(chunk.dropLast("_chunk".count))
            XCTAssertTrue(c.stdout.contains("void \(chunk)(void *args_, int64_t begin_, int64_t end_, int part_) {"), chunk)
            XCTAssertTrue(c.stdout.contains("    \(kernel)((const dlc_step *)p_[0], "), "\(chunk) calls \(kernel)")
            XCTAssertTrue(c.stdout.contains("    \(kernel)(s, "), "\(kernel) on one thread")
        }
        XCTAssertTrue(ll.stdout.contains("call i32 @dlc_parallel_parts(i64 "), "the LLVM entries ask the runtime")
        XCTAssertFalse(c.stdout.contains("cblas_sgemm("), "generated code calls dlc_sgemm")
        XCTAssertTrue(ll.stdout.contains("call void @dlc_sgemm("), "generated code calls dlc_sgemm")
    }

    /// digits (64-64-10, Adam) trained for 2 epochs on 2 threads, with every kernel a printer
    /// splits run split however small (DLC_PARALLEL_MIN_WORK=0): two runs write the same
    /// checkpoint byte for byte, and the losses match one thread's (in C and LLVM).
    func testTwoThreadsGiveOneResult() throws {
        for backend in ["c", "llvm"] {
            let exe = work.appendingPathComponent("digits-\(backend)")
            let built = try Run.dlc(["compile", Golden.root.appendingPathComponent("models/digits.dl").path,
                                     "--backend", backend, "-o", exe.path])
            XCTAssertEqual(built.status, 0, built.stderr)
            guard built.status == 0 else { continue }
            func train(_ threads: Int, _ tag: String) throws -> (params: Data, optimizer: Data, loss: [Double]) {
                let save = work.appendingPathComponent("\(backend)-\(tag).safetensors")
                let log = work.appendingPathComponent("\(backend)-\(tag).csv")
                let r = try Run.run(exe, ["train", "--epochs", "2", "--threads", "\(threads)", "--save", save.path,
                                          "--log", log.path],
                                    in: Golden.root.appendingPathComponent("models"),
                                    environment: ["DLC_PARALLEL_MIN_WORK": "0"])
                XCTAssertEqual(r.status, 0, "\(backend) --threads \(threads): \(r.stderr)")
                let optimizer = work.appendingPathComponent("\(backend)-\(tag).optim.safetensors")
                return (try Data(contentsOf: save), try Data(contentsOf: optimizer), try TrainLog(contentsOf: log).column("loss"))
            }
            let a = try train(2, "a"), b = try train(2, "b"), one = try train(1, "one")
            XCTAssertEqual(a.params, b.params, "\(backend): params after two runs on 2 threads")
            XCTAssertEqual(a.optimizer, b.optimizer, "\(backend): optimizer state after two runs on 2 threads")
            XCTAssertEqual(a.loss.count, 2)
            for (two, single) in zip(a.loss, one.loss) {
                XCTAssertEqual(two, single, accuracy: 1e-5 * abs(single), "\(backend): loss on 2 threads and on 1")
            }
        }
    }

    /// The MNIST MLP (784-512-10) at batch 64 on 2 threads: its large products split at the
    /// default sizes and take OpenBLAS's packed path, the trainer's threads calling OpenBLAS at
    /// the same time. Two runs write the same checkpoint byte for byte. (With Debian's serial
    /// OpenBLAS, whose calls share one packing buffer, every run of 20 steps differed.)
    func testConcurrentLargeProductsGiveOneResult() throws {
        let exe = work.appendingPathComponent("mnist_mlp")
        let built = try Run.dlc(["compile", Golden.root.appendingPathComponent("models/mnist_mlp.dl").path, "-o", exe.path])
        XCTAssertEqual(built.status, 0, built.stderr)
        guard built.status == 0 else { return }
        // 640 images of a fixed pseudo-random pattern (IDX, as MNIST comes), and their labels.
        func idx(_ name: String, _ dims: [Int], _ values: [UInt8]) throws -> String {
            let url = work.appendingPathComponent(name)
            try writeIDX(url, dims: dims, values: values)
            return url.path
        }
        let n = 640
        var state: UInt32 = 12345
        let pixels = (0..<n * 784).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(state >> 24)
        }
        let x = try idx("images-ubyte", [n, 28, 28], pixels), y = try idx("labels-ubyte", [n], (0..<n).map { UInt8($0 % 10) })
        func train(_ tag: String) throws -> Data {
            let save = work.appendingPathComponent("mnist-\(tag).safetensors")
            let r = try Run.run(exe, ["train", "--input", "x=\(x)", "--input", "y=\(y)", "--epochs", "2", "--threads", "2",
                                      "--save", save.path], in: work)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try Data(contentsOf: save)
        }
        let first = try train("a")
        for tag in ["b", "c"] {
            XCTAssertEqual(try train(tag), first, "params after another run on 2 threads (\(tag))")
        }
    }

    /// A bad DLC_PARALLEL_MIN_WORK stops the trainer with a message naming it.
    func testBadMinimumWorkIsRefused() throws {
        let exe = work.appendingPathComponent("digits")
        let built = try Run.dlc(["compile", Golden.root.appendingPathComponent("models/digits.dl").path, "-o", exe.path])
        XCTAssertEqual(built.status, 0, built.stderr)
        let r = try Run.run(exe, ["train", "--epochs", "1", "--threads", "2"], in: Golden.root.appendingPathComponent("models"),
                            environment: ["DLC_PARALLEL_MIN_WORK": "lots"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("DLC_PARALLEL_MIN_WORK must be a non-negative integer; got 'lots'"), r.stderr)
    }
}
