import DLCInterpreter
import Foundation
import XCTest

/// docs/rng.md, held bit for bit between the two implementations: a C program compiled against
/// codegen/dlc_rng.h prints stream states, draws, permutations and dropout bits for many seeds,
/// and the Swift side (Sources/Interpreter/Random.swift) must print the same lines.
final class RandomContractTests: XCTestCase {
    static let program = """
        #include <stdio.h>
        #include "dlc_rng.h"
        int main(void) {
            for (uint64_t seed = 0; seed < 64; seed++)
                for (uint64_t k = 1; k <= 4; k++) {
                    dlc_rng r = dlc_rng_stream(seed, k);
                    printf("stream %llu %llu %llu", (unsigned long long)seed, (unsigned long long)k,
                           (unsigned long long)r.state);
                    for (int i = 0; i < 3; i++) printf(" %llu", (unsigned long long)dlc_rng_next(&r));
                    printf(" %.17g %llu\\n", dlc_rng_uniform01(&r), (unsigned long long)dlc_rng_below(&r, 1000));
                }
            for (uint64_t seed = 0; seed < 8; seed++) {
                dlc_rng r = dlc_rng_stream(seed, DLC_STREAM_SHUFFLE);
                int64_t p[12];
                for (int i = 0; i < 12; i++) p[i] = i;
                dlc_rng_permute(&r, p, 12);
                printf("permutation %llu", (unsigned long long)seed);
                for (int i = 0; i < 12; i++) printf(" %lld", (long long)p[i]);
                printf("\\n");
            }
            for (uint64_t seed = 0; seed < 4; seed++)
                for (int64_t epoch = 0; epoch < 3; epoch++) {
                    dlc_dropout d = dlc_dropout_at(seed, epoch, 5 * epoch);
                    for (uint64_t site = 0; site < 3; site++) {
                        uint64_t s = dlc_rng_draw(d.epoch_key, site);
                        for (int64_t r = 0; r < 4; r++) {
                            uint64_t row = dlc_rng_draw(s, (uint64_t)(d.first_row + r));
                            printf("dropout %llu %lld %llu %lld", (unsigned long long)seed, (long long)epoch,
                                   (unsigned long long)site, (long long)r);
                            for (uint64_t j = 0; j < 5; j++) printf(" %llu", (unsigned long long)dlc_rng_draw(row, j));
                            printf("\\n");
                        }
                    }
                }
            return 0;
        }
        """

    /// The same lines from the Swift implementation.
    static func swiftLines() -> [String] {
        var lines: [String] = []
        for seed in 0..<64 {
            for stream in RandomStream.allCases {
                var r = SplitMix64(seed: seed, stream: stream)
                var line = "stream \(seed) \(stream.rawValue) \(r.state)"
                for _ in 0..<3 { line += " \(r.next())" }
                line += " \(String(format: "%.17g", r.uniform01())) \(r.below(1000))"
                lines.append(line)
            }
        }
        for seed in 0..<8 {
            var r = SplitMix64(seed: seed, stream: .shuffle)
            lines.append("permutation \(seed) " + r.permutation(12).map(String.init).joined(separator: " "))
        }
        for seed in 0..<4 {
            for epoch in 0..<3 {
                let d = DropoutDraw(seed: seed, epoch: epoch, firstRow: 5 * epoch)
                for site in 0..<3 {
                    for r in 0..<4 {
                        let row = DropoutDraw.rowKey(d.siteKey(site), position: d.firstRow + r)
                        let bits = (0..<5).map { String(DropoutDraw.bits(row, element: $0)) }
                        lines.append("dropout \(seed) \(epoch) \(site) \(r) " + bits.joined(separator: " "))
                    }
                }
            }
        }
        return lines
    }

    func testSwiftAndCDrawTheSameNumbers() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-rng-contract-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let source = work.appendingPathComponent("rng.c"), exe = work.appendingPathComponent("rng")
        try Self.program.write(to: source, atomically: true, encoding: .utf8)
        let built = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
            HarnessComparison.compiler, "-O1", "-std=c11", "-Wall", "-Werror",
            "-I", Golden.root.appendingPathComponent("codegen").path, source.path, "-o", exe.path,
        ])
        XCTAssertEqual(built.status, 0, built.stderr)
        let run = try Run.run(exe, [])
        XCTAssertEqual(run.status, 0, run.stderr)
        let c = run.stdout.split(separator: "\n").map(String.init)
        let swift = Self.swiftLines()
        XCTAssertEqual(c.count, swift.count)
        for (i, (a, b)) in zip(c, swift).enumerated() where a != b {
            return XCTFail("line \(i + 1): C\n  \(a)\nSwift\n  \(b)")
        }
    }
}
