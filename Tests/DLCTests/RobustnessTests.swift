import DLCDiagnostics
import DLCDriver
import Foundation
import XCTest

/// Thousands of mutated versions of the example programs: the compiler never crashes or hangs;
/// it either succeeds or prints at least one located error. Seeded, so every run is the same.
final class RobustnessTests: XCTestCase {
    /// SplitMix64: a small, seeded generator for the mutations.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    }

    static let tokensToInsert: [String] = [
        "(", ")", "[", "]", "{", "}", ",", ":", "=", "+", "-", "*", "**", "/", "//", "@", "%", "==", "<",
        "\n", ";", "#", "\"", "1e", "1e999", "0", "-1", "2.", "N", "x", "relu(", "loss", "output", "model",
        "train", "forward", "layer", "param", "f32[", "i32", "sum(", "mean(x, 5)", "\u{FF}", "é",
    ]

    func mutate(_ source: [UInt8], _ g: inout Generator) -> [UInt8] {
        var s = source
        let n = max(1, s.count)
        switch g.below(9) {
        case 0:  // delete a byte range
            let a = g.below(n), len = 1 + g.below(12)
            s.removeSubrange(a..<min(s.count, a + len))
        case 1:  // duplicate a range
            let a = g.below(n), len = 1 + g.below(40)
            let piece = Array(s[a..<min(s.count, a + len)])
            s.insert(contentsOf: piece, at: g.below(s.count + 1))
        case 2:  // swap two ranges' first bytes
            if s.count > 2 { s.swapAt(g.below(s.count), g.below(s.count)) }
        case 3:  // truncate
            s = Array(s.prefix(g.below(n)))
        case 4:  // random bytes
            for _ in 0..<(1 + g.below(6)) where !s.isEmpty { s[g.below(s.count)] = UInt8(g.below(256)) }
        case 5:  // insert a token
            let t = Self.tokensToInsert[g.below(Self.tokensToInsert.count)]
            s.insert(contentsOf: Array(t.utf8), at: g.below(s.count + 1))
        case 6:  // a very long line
            let piece = Array((g.below(2) == 0 ? " x +" : "a").utf8)
            let line = (0..<(2000 + g.below(8000))).flatMap { _ in piece }
            s.insert(contentsOf: line, at: g.below(s.count + 1))
        case 7:  // deep nesting
            let depth = 200 + g.below(400)
            let open = g.below(2) == 0 ? "(" : "["
            let nest = String(repeating: open, count: depth) + "x" + String(repeating: open == "(" ? ")" : "]", count: depth)
            s.insert(contentsOf: Array(nest.utf8), at: g.below(s.count + 1))
        default:  // delete a whole line
            let lines = s.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            var kept = Array(lines)
            if !kept.isEmpty { kept.remove(at: g.below(kept.count)) }
            s = Array(kept.joined(separator: [UInt8(ascii: "\n")]))
        }
        return s
    }

    func testMutatedModelsNeverCrash() throws {
        let models = Golden.programs(in: Golden.root.appendingPathComponent("models"))
        XCTAssertFalse(models.isEmpty)
        let sources = try models.map { try [UInt8](Data(contentsOf: $0)) }
        var g = Generator(state: 2026)
        var failures: [String] = []
        var compiled = 0, rejected = 0
        withLargeStack {
            for i in 0..<3000 {
                var s = sources[i % sources.count]
                for _ in 0..<(1 + g.below(3)) { s = self.mutate(s, &g) }
                let pipeline = Pipeline(source: SourceFile(path: "m.dl", bytes: s))
                for stage in EmitStage.all {
                    switch pipeline.emit(stage) {
                    case .success: compiled += 1
                    case .failure(let f):
                        rejected += 1
                        // Every failure carries a located message in clang's format.
                        if f.diagnostics.diagnostics.isEmpty || !f.rendered.hasPrefix("m.dl:") || !f.rendered.contains(": error: ") {
                            failures.append("mutation \(i): unlocated failure:\n\(f.rendered)")
                        }
                    }
                }
            }
        }
        XCTAssertEqual(failures, [], failures.prefix(3).joined(separator: "\n"))
        XCTAssertGreaterThan(rejected, 1000)
        XCTAssertGreaterThan(compiled, 10)
    }
}
