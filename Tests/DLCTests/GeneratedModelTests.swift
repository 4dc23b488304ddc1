import DLCDiagnostics
import DLCDriver
import DLCIR
import DLCInterpreter
import Foundation
import XCTest

/// Random valid models (`ModelGenerator`) through both backends: each must compile, and its C
/// and LLVM builds must agree with the interpreter on the loss, every gradient, the SGD step
/// and every output (`HarnessComparison`, batch sizes 1, 5 and 13).
///
/// The test runs models 0..<30. More: `DLC_GENERATED_MODELS=500` (how many) and
/// `DLC_GENERATED_FIRST=1000` (the first seed), e.g.
/// `DLC_GENERATED_MODELS=500 swift test --filter GeneratedModelTests`. A failure prints the
/// model's source; `ModelGenerator.model(seed:)` gives it again.
final class GeneratedModelTests: XCTestCase {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-generated-\(getpid())")

    override func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    static func setting(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
    }

    func testGeneratedModelsAgreeWithInterpreterOnBothBackends() throws {
        let first = Self.setting("DLC_GENERATED_FIRST", default: 0)
        let count = Self.setting("DLC_GENERATED_MODELS", default: 30)
        var failedSeeds: [Int] = []
        for seed in first..<(first + count) {
            let failuresBefore = testRun?.totalFailureCount ?? 0
            let source = ModelGenerator.model(seed: seed)
            let url = work.appendingPathComponent("generated_\(seed).dl")
            try source.write(to: url, atomically: true, encoding: .utf8)
            do {
                try check(url, seed: seed)
            } catch {
                XCTFail("generated_\(seed).dl: \(error)")
            }
            if ProcessInfo.processInfo.environment["DLC_GENERATED_PRINT"] != nil { print(source) }
            if (testRun?.totalFailureCount ?? 0) > failuresBefore {
                failedSeeds.append(seed)
                print("generated_\(seed).dl (ModelGenerator.model(seed: \(seed))):\n\(source)")
            }
        }
        if !failedSeeds.isEmpty { print("failed seeds: \(failedSeeds)") }
    }

    private func check(_ url: URL, seed: Int) throws {
        let p = Pipeline(source: SourceFile(path: url.path, bytes: try [UInt8](Data(contentsOf: url))))
        if case .failure(let f) = p.trainingGraph() {
            return XCTFail("\(url.lastPathComponent) does not compile (a generator bug, or a compiler one):\n\(f.rendered)")
        }
        let feeds = { (g: Graph, batch: Int) -> [String: Tensor] in
            var rng = SplitMix64(seed: seed, stream: .split)
            return SyntheticData.feeds(g, batch: batch, rng: &rng)
        }
        try HarnessComparison(backend: "C", work: work)
            .check(url, build: { p, n in try HarnessComparison.buildC(p, name: n, work: self.work) }, feeds: feeds)
        try HarnessComparison(backend: "LLVM", work: work)
            .check(url, build: { p, n in try HarnessComparison.buildLLVM(p, name: n + "_llvm", work: self.work) },
                   feeds: feeds)
    }
}
