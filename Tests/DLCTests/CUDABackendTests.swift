import DLCBackendKit
import DLCDiagnostics
import DLCDriver
import Foundation
import XCTest

/// The CUDA backend without a GPU:
/// - every model's and test program's .cu is built with the host C++ compiler against the CPU
///   emulation of CUDA and cuBLAS (codegen/dlc_cuda_emulation.h) and checked against the
///   interpreter with the kernel harness, as the C backend is (`HarnessComparison`), at batch
///   1, 5 and 13, with the threads of each block run in forward and in reverse order (a missing
///   barrier gives different numbers in the two), and once more under AddressSanitizer and
///   UBSan;
/// - every .cu compiles with nvcc for sm_80 and sm_90 with warnings as errors (when nvcc is
///   there: scripts/install-deps.sh --cuda installs it, and scripts/test.sh sets DLC_NVCC);
/// - `dlc compile --backend cuda --emulate` builds a trainer whose training log matches the C
///   trainer's.
final class CUDABackendTests: XCTestCase {
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-cuda-backend-\(getpid())")
    var work: URL { Self.work }

    override class func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    static var cxx: String {
        ProcessInfo.processInfo.environment["CXX"] ?? (["/usr/bin/g++", "/usr/bin/clang++", "/usr/bin/c++"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "c++")
    }

    /// The C compiler of the same family (the sanitizers' runtimes must match).
    static var cc: String {
        let c = cxx.replacingOccurrences(of: "clang++", with: "clang").replacingOccurrences(of: "g++", with: "gcc")
        return c == cxx ? HarnessComparison.compiler : c
    }

    static var codegen: String { Golden.root.appendingPathComponent("codegen").path }
    /// The runtime's device folder: the CUDA device and context, the emulation.
    static var device: String { codegen + "/device" }

    /// Compiles with `compiler`, failing with its output.
    static func compile(_ compiler: String, _ arguments: [String], what: String) throws {
        let r = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [compiler] + arguments)
        guard r.status == 0 else { throw DataFailure(message: "\(what) does not build:\n\(r.stderr)\(r.stdout)") }
    }

    /// The runtime's CUDA context, the emulation and the kernel harness, compiled once per set
    /// of flags (plain, or with the sanitizers).
    static func sharedObjects(_ flags: [String], tag: String) throws -> [String] {
        let objects = ["context", "emulation", "harness"].map { work.appendingPathComponent("\($0)-\(tag).o").path }
        if FileManager.default.fileExists(atPath: objects[2]) { return objects }
        let cxxFlags = ["-std=c++17", "-O1", "-DDLC_CUDA_EMULATE", "-Wall", "-Wextra", "-Werror", "-I", codegen, "-I", device] + flags
        try compile(cxx, cxxFlags + ["-x", "c++", "-c", device + "/dlc_cuda_context.cu", "-o", objects[0]], what: "dlc_cuda_context.cu")
        try compile(cxx, cxxFlags + ["-c", device + "/dlc_cuda_emulation.cpp", "-o", objects[1]], what: "dlc_cuda_emulation.cpp")
        try compile(cc, ["-O1", "-std=c11", "-I", codegen] + flags
            + ["-c", HarnessComparison.harnessSource.path, "-o", objects[2]], what: "the kernel harness")
        return objects
    }

    static let sanitizers = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]

    /// The model's .cu and C descriptor, as `--emit cuda` and `--backend cuda --emit c` print them.
    static func files(_ p: Pipeline) throws -> (cu: String, descriptor: String) {
        switch p.generatedFiles(Backends.named("cuda")!, for: .unspecified) {
        case .success(let files):
            return (files.first { $0.stage == "cuda" }!.contents, files.first { $0.stage == "c" }!.contents)
        case .failure(let f): throw DataFailure(message: f.rendered)
        }
    }

    /// Builds the model's .cu (emulated) and descriptor with the kernel harness.
    func buildHarness(_ p: Pipeline, name: String, flags: [String] = [], tag: String = "plain") throws -> URL {
        let files = try Self.files(p)
        let cu = work.appendingPathComponent("\(name).cu"), descriptor = work.appendingPathComponent("\(name)_descriptor.c")
        let exe = work.appendingPathComponent("\(name)-\(tag)")
        try files.cu.write(to: cu, atomically: true, encoding: .utf8)
        try files.descriptor.write(to: descriptor, atomically: true, encoding: .utf8)
        let shared = try Self.sharedObjects(flags, tag: tag)
        let model = work.appendingPathComponent("\(name)-\(tag).o").path, desc = work.appendingPathComponent("\(name)-d-\(tag).o").path
        try Self.compile(Self.cxx, ["-std=c++17", "-O1", "-DDLC_CUDA_EMULATE", "-Wall", "-Wextra", "-Werror", "-I", Self.codegen]
            + flags + ["-x", "c++", "-c", cu.path, "-o", model], what: "\(name).cu")
        try Self.compile(Self.cc, ["-O1", "-std=c11", "-Wall", "-Werror", "-I", Self.codegen] + flags
            + ["-c", descriptor.path, "-o", desc], what: "\(name)'s descriptor")
        try Self.compile(Self.cxx, [model, desc] + shared + flags + ["-lopenblas", "-lm", "-o", exe.path], what: "\(name)'s harness")
        return exe
    }

    /// Forward and reverse thread order at batch 1, 5 and 13.
    var comparison: HarnessComparison {
        var c = HarnessComparison(backend: "CUDA (emulated)", work: work)
        c.runs = [["DLC_EMULATE_ORDER": "forward"], ["DLC_EMULATE_ORDER": "reverse"]]
        return c
    }

    func testModelsMatchInterpreter() throws {
        XCTAssertGreaterThanOrEqual(try comparison.checkModels(build: { try self.buildHarness($0, name: $1) }), 15)
    }

    func testProgramsMatchInterpreter() throws {
        XCTAssertGreaterThanOrEqual(try comparison.checkPrograms(build: { try self.buildHarness($0, name: $1) }), 25)
    }

    /// Every model and test program once under AddressSanitizer and UBSan (batch 5).
    func testUnderSanitizers() throws {
        var c = HarnessComparison(backend: "CUDA (emulated, sanitized)", work: work)
        c.batches = [5]
        c.runs = [["ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"]]
        let build = { (p: Pipeline, name: String) in try self.buildHarness(p, name: name, flags: Self.sanitizers, tag: "asan") }
        XCTAssertGreaterThanOrEqual(try c.checkModels(build: build) + c.checkPrograms(build: build), 40)
    }

    /// nvcc from DLC_NVCC (scripts/test.sh sets it to the toolkit `install-deps.sh --cuda`
    /// installs), or nil: the check is then skipped, saying why.
    static var nvcc: String? {
        guard let path = ProcessInfo.processInfo.environment["DLC_NVCC"], !path.isEmpty else { return nil }
        return path
    }

    /// Every model's and test program's .cu, and the runtime's CUDA files, compile with nvcc
    /// for sm_80 and sm_90 with warnings as errors (two compilations at a time).
    func testEveryCUDAFileCompilesWithNVCC() throws {
        guard let nvcc = Self.nvcc else { throw XCTSkip("DLC_NVCC is not set: no nvcc to compile with (scripts/test.sh sets it)") }
        var sources = ["dlc_cuda_context.cu", "dlc_device_cuda.cu"].map { URL(fileURLWithPath: Self.device + "/" + $0) }
        let programs = Golden.programs(in: Golden.root.appendingPathComponent("models"))
            + Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        for url in programs {
            let p = Pipeline(source: SourceFile(path: url.path, bytes: try [UInt8](Data(contentsOf: url))))
            let cu = work.appendingPathComponent("nvcc-" + url.deletingPathExtension().lastPathComponent + ".cu")
            try Self.files(p).cu.write(to: cu, atomically: true, encoding: .utf8)
            sources.append(cu)
        }
        let flags = ["-std=c++17", "-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90",
                     "-Werror", "all-warnings", "-Xcompiler", "-Wall,-Wextra,-Werror", "-I", Self.codegen, "-I", Self.device,
                     "-I", Self.codegen + "/comm"]
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for source in sources.enumerated().filter({ $0.offset % 2 == worker }).map(\.element) {
                do {
                    // Objects go to the scratch folder: never beside the runtime's sources.
                    let object = Self.work.appendingPathComponent(source.lastPathComponent + ".o").path
                    let r = try Run.run(URL(fileURLWithPath: nvcc), flags + ["-c", source.path, "-o", object])
                    if r.status != 0 { failures.add("\(source.lastPathComponent):\n\(r.stderr)\(r.stdout)") }
                } catch {
                    failures.add("\(source.lastPathComponent): \(error)")
                }
            }
        }
        for f in failures.all { XCTFail("nvcc: " + f) }
        XCTAssertGreaterThanOrEqual(sources.count, 42)
    }

    /// Deterministic sums: no generated kernel and no runtime CUDA file uses an atomic add (or
    /// any atomic but the compare-and-swap that keeps the first index fault), whose order of
    /// arrival would change a float sum's rounding from run to run.
    func testNoAtomicAddsInAnyCUDASource() throws {
        var sources: [(String, String)] = []
        for name in ["dlc_cuda_context.cu", "dlc_device_cuda.cu"] {
            sources.append((name, try String(contentsOfFile: Self.device + "/" + name, encoding: .utf8)))
        }
        sources.append(("dlc_cuda.h", try String(contentsOfFile: Self.codegen + "/dlc_cuda.h", encoding: .utf8)))
        let programs = Golden.programs(in: Golden.root.appendingPathComponent("models"))
            + Golden.programs(in: Golden.directory.appendingPathComponent("programs"))
        for url in programs {
            let p = Pipeline(source: SourceFile(path: url.path, bytes: try [UInt8](Data(contentsOf: url))))
            sources.append((url.lastPathComponent, try Self.files(p).cu))
        }
        XCTAssertGreaterThanOrEqual(sources.count, 42)
        let atomic = try NSRegularExpression(pattern: #"\batomic(?!CAS\(&f->flag)\w*\s*\("#)
        for (name, text) in sources {
            let hits = atomic.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) }
            XCTAssertEqual(hits, [], "\(name) uses atomics")
        }
    }

    /// The CUDA device with NCCL (`--backend cuda --mpi`): compiles with nvcc for sm_80 and
    /// sm_90, warnings as errors, against the NCCL wheel's header beside nvcc's
    /// (scripts/install-deps.sh --cuda installs both).
    func testTheCUDADeviceWithNCCLCompilesWithNVCC() throws {
        guard let nvcc = Self.nvcc else { throw XCTSkip("DLC_NVCC is not set: no nvcc to compile with (scripts/test.sh sets it)") }
        // The wheels' layout: nvidia/cu13/bin/nvcc and nvidia/nccl/include/nccl.h.
        let nvidia = URL(fileURLWithPath: nvcc).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let include = nvidia.appendingPathComponent("nccl/include").path
        guard FileManager.default.fileExists(atPath: include + "/nccl.h") else {
            return XCTFail("no nccl.h in \(include): scripts/install-deps.sh --cuda installs it beside nvcc")
        }
        let object = work.appendingPathComponent("device-nccl.o").path
        let r = try Run.run(URL(fileURLWithPath: nvcc), [
            "-std=c++17", "-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90", "-Werror",
            "all-warnings", "-Xcompiler", "-Wall,-Wextra,-Werror", "-DDLC_CUDA_NCCL", "-I", include, "-I", Self.codegen, "-I",
            Self.device, "-I", Self.codegen + "/comm", "-c", Self.device + "/dlc_device_cuda.cu", "-o", object])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let symbols = try Run.run(URL(fileURLWithPath: "/usr/bin/nm"), [object])
        XCTAssertTrue(symbols.stdout.contains("ncclAllReduce"), "the NCCL build calls no ncclAllReduce:\n\(symbols.stdout)")
    }

    /// A kernel that reads another thread's write without a barrier: the emulation's two
    /// orders must disagree on it (or the order switch would test nothing).
    func testReverseOrderExposesAMissingBarrier() throws {
        let source = work.appendingPathComponent("race.cu")
        try """
            #include "dlc_cuda.h"
            #include <stdio.h>
            __global__ void neighbour(float *out) {
                __shared__ float cell[64];
                cell[threadIdx.x] = (float)threadIdx.x;
                /* missing: __syncthreads(); */
                out[threadIdx.x] = cell[(threadIdx.x + 1) % 64];
            }
            extern "C" void dlc_index_error(const char *where, long idx, long size) { (void)where; (void)idx; (void)size; exit(3); }
            int main(void) {
                float *out;
                cudaMalloc(&out, 64 * sizeof(float));
                DLC_LAUNCH(neighbour, 1, 64, (cudaStream_t)0, out);
                printf("%g\\n", (double)out[0]);
                return 0;
            }
            """.write(to: source, atomically: true, encoding: .utf8)
        let exe = work.appendingPathComponent("race")
        let shared = try Self.sharedObjects([], tag: "plain")
        try Self.compile(Self.cxx, ["-std=c++17", "-DDLC_CUDA_EMULATE", "-I", Self.codegen, "-x", "c++", source.path, "-x", "none",
                                    shared[0], shared[1], "-lopenblas", "-o", exe.path], what: "race.cu")
        let forward = try Run.run(exe, [], environment: ["DLC_EMULATE_ORDER": "forward"])
        let reverse = try Run.run(exe, [], environment: ["DLC_EMULATE_ORDER": "reverse"])
        XCTAssertEqual(forward.status, 0, forward.stderr)
        XCTAssertEqual(reverse.status, 0, reverse.stderr)
        XCTAssertNotEqual(forward.stdout, reverse.stdout, "both orders read the neighbour's cell the same way")
    }

    /// A barrier inside a branch some threads skip is a deadlock: the emulation says which kernel.
    func testBarrierNotReachedByEveryThreadIsReported() throws {
        let source = work.appendingPathComponent("deadlock.cu")
        try """
            #include "dlc_cuda.h"
            __global__ void half_barrier(float *out) {
                if (threadIdx.x < 32) __syncthreads();
                out[threadIdx.x] = 1.0f;
            }
            extern "C" void dlc_index_error(const char *where, long idx, long size) { (void)where; (void)idx; (void)size; exit(3); }
            int main(void) {
                float *out;
                cudaMalloc(&out, 64 * sizeof(float));
                DLC_LAUNCH(half_barrier, 1, 64, (cudaStream_t)0, out);
                return 0;
            }
            """.write(to: source, atomically: true, encoding: .utf8)
        let exe = work.appendingPathComponent("deadlock")
        let shared = try Self.sharedObjects([], tag: "plain")
        try Self.compile(Self.cxx, ["-std=c++17", "-DDLC_CUDA_EMULATE", "-I", Self.codegen, "-x", "c++", source.path, "-x", "none",
                                    shared[0], shared[1], "-lopenblas", "-o", exe.path], what: "deadlock.cu")
        let r = try Run.run(exe, [])
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stderr.contains("kernel half_barrier, block 0: __syncthreads() is not reached by every thread"), r.stderr)
    }
}

/// Messages collected from parallel work.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ m: String) { lock.lock(); messages.append(m); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
}
