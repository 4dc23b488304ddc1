import DLCDiagnostics
import Foundation
import XCTest
@testable import DLCIR

/// Malformed text gives located diagnostics, never a crash.
final class ParserErrorTests: XCTestCase {
    /// The diagnostics for `text`, failing the test if it parses.
    func diagnostics(_ text: String, verify: Bool = true, file: StaticString = #filePath,
                     line: UInt = #line) -> [Diagnostic] {
        diagnostics(bytes: Array(text.utf8), verify: verify, file: file, line: line)
    }

    func diagnostics(bytes: [UInt8], verify: Bool = true, file: StaticString = #filePath,
                     line: UInt = #line) -> [Diagnostic] {
        do {
            let g = try parseIR(SourceFile(path: "t.ir", bytes: bytes), verify: verify)
            XCTFail("parsed, expected an error: \(g)", file: file, line: line)
            return []
        } catch let e as IRParseError {
            XCTAssertFalse(e.diagnostics.isEmpty, file: file, line: line)
            return e.diagnostics
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }

    /// Exactly one diagnostic, containing `message`, at `at` (line, column).
    func assertError(_ text: String, _ message: String, at: (Int, Int), hint: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        let ds = diagnostics(text, file: file, line: line)
        guard ds.count == 1, let d = ds.first else {
            return XCTFail("expected one diagnostic, got \(ds)", file: file, line: line)
        }
        XCTAssertTrue(d.message.contains(message), "'\(d.message)' lacks '\(message)'", file: file, line: line)
        XCTAssertEqual(d.location.line, at.0, "line of \(d)", file: file, line: line)
        XCTAssertEqual(d.location.column, at.1, "column of \(d)", file: file, line: line)
        if let hint { XCTAssertEqual(d.hint, hint, file: file, line: line) }
    }

    /// A graph block around `body` lines (each indented by two spaces; the first is line 2).
    func graph(_ body: String...) -> String {
        "graph g {\n" + body.map { "  " + $0 + "\n" }.joined() + "}\n"
    }

    func testUnknownOp() {
        assertError(graph("%0: f32 = frobnicate"), "unknown op 'frobnicate'", at: (2, 13))
        assertError(graph("input x: f32", "%x: f32 = input x", "%1: f32 = reluu %x"), "unknown op 'reluu'",
                    at: (4, 13), hint: "did you mean 'relu'?")
    }

    func testBadType() {
        assertError(graph("input x: f33[N]"), "unknown element type 'f33'", at: (2, 12))
        assertError(graph("input x: f32[N,M]"), "expected a dimension (N or an integer), got 'M'", at: (2, 18))
        assertError(graph("input x: f32[N,3"), "expected ']', got end of line", at: (2, 19))
        assertError(graph("input x: [3]"), "expected a type such as f32[N,784], got '['", at: (2, 12))
    }

    func testUndefinedValue() {
        assertError(graph("%0: f32 = relu %h"), "undefined value %h", at: (2, 18))
        assertError(graph("%0: f32 = relu %0"), "undefined value %0", at: (2, 18))
        assertError(graph("%0: f32 = constant 1", "loss %1"), "undefined value %1", at: (3, 8))
        assertError(graph("output o = %nothing"), "undefined value %nothing", at: (2, 14))
    }

    func testDuplicateName() {
        assertError(graph("%a: f32 = constant 1", "%a: f32 = constant 2"), "value %a is defined twice", at: (3, 3))
    }

    func testIndexMustBeThePosition() {
        assertError(graph("%3: f32 = constant 1"), "%3 is defined as node 0", at: (2, 3))
    }

    func testABadNodeDoesNotCascade() {
        let ds = diagnostics(graph("%0: f32 = bogus", "%h: f32 = relu %0", "%2: f32 = relu %h", "%3: f32 = nope"))
        XCTAssertEqual(ds.map(\.location.line), [2, 5], "\(ds)")
    }

    func testAttributes() {
        let x = ["input x: f32[N,3]", "%x: f32[N,3] = input x"]
        func g(_ node: String) -> String { graph(x[0], x[1], node) }
        assertError(g("%1: f32[N,3] = softmax %x"), "'softmax' needs the attribute 'axis'", at: (4, 18))
        assertError(g("%1: f32[N,3] = softmax %x {axis: 1, foo: 2}"), "'softmax' has no attribute 'foo'", at: (4, 39))
        assertError(g("%1: f32[N,3] = softmax %x {axis: 1, axis: 1}"), "'softmax' has 'axis' twice", at: (4, 39))
        assertError(g("%1: f32[N,3] = softmax %x {axis: one}"), "'axis' of 'softmax' must be an integer", at: (4, 36))
        assertError(g("%1: f32[N] = sum %x {axes: 1}"), "must be a list of integers", at: (4, 30))
        assertError(g("%1: f32[N,3] = matmul %x, %x {transpose_a: yes}"), "must be true or false", at: (4, 46))
        assertError(g("%1: f32[N,3] = relu %x {"), "expected an argument name, got end of line", at: (4, 27))
        assertError(g("%1: f32 = constant x"), "expected a number, got 'x'", at: (4, 22))
        assertError(g("%1: f32[N,3] = input x {p: 1}"), "expected the end of the line, got '{'", at: (4, 26))
    }

    func testStatements() {
        assertError(graph("%0: f32 = constant 1", "loss %0", "loss %0"), "the loss is given twice", at: (4, 3))
        assertError(graph("frob x"), "expected a declaration, a node, 'output', 'loss', 'grad' or 'update', got 'frob'", at: (2, 3))
        assertError(graph("param w: f32 = gaussian(0, 1)"), "unknown initializer 'gaussian'", at: (2, 18))
        assertError(graph("param w: f32 = normal(0)"), "expected ',', got ')'", at: (2, 26))
        assertError(graph("input a.b-c: f32"), "'a.b-c' is not a name", at: (2, 9))
        assertError(graph("%0: f32 = constant 1 extra"), "expected the end of the line, got 'extra'", at: (2, 24))
    }

    func testFileStructure() {
        assertError("", "expected 'graph', got end of file", at: (1, 1))
        assertError("model m {\n}\n", "expected 'graph', got 'model'", at: (1, 1))
        assertError("graph g {\n  %0: f32 = constant 1\n", "expected '}' to close the graph block", at: (3, 1))
        assertError("graph g {\n}\nextra\n", "expected a train block or the end of the file, got 'extra'", at: (3, 1))
        assertError("graph g {\n}\ntrain {\n}\ngraph h {\n}\n", "expected the end of the file, got 'graph'", at: (5, 1))
        assertError("graph g {\n}\ntrain {\n  seed 1\n", "expected '}' to close the train block", at: (5, 1))
    }

    func testTrainSettings() {
        func t(_ line: String) -> String { "graph g {\n}\ntrain {\n  \(line)\n}\n" }
        assertError(t("epoch 3"), "unknown train setting 'epoch'", at: (4, 3), hint: "did you mean 'epochs'?")
        assertError("graph g {\n}\ntrain {\n  seed 1\n  seed 2\n}\n", "'seed' is set twice", at: (5, 3))
        assertError(t("optimizer rmsprop(lr: 0.1)"), "unknown optimizer 'rmsprop'", at: (4, 13))
        assertError(t("optimizer sgd(lr: 0.1)"), "sgd needs the argument 'momentum'", at: (4, 16))
        assertError(t("optimizer adam(lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0, momentum: 0)"),
                    "adam has no argument 'momentum'", at: (4, 81))
        assertError(t("optimizer sgd"), "expected '(', got end of line", at: (4, 16))
        assertError(t("schedule linear(epochs: 3)"), "unknown schedule 'linear'", at: (4, 12))
        assertError(t("schedule cosine(epochs: 1.5)"), "'epochs' of cosine must be an integer", at: (4, 27))
        assertError(t("metric f1"), "unknown metric 'f1'", at: (4, 10))
        assertError(t("batch all"), "expected a batch size or 'full', got 'all'", at: (4, 9))
        assertError(t("data digits.csv"), "expected a quoted path, got 'digits.csv'", at: (4, 8))
        assertError(t("columns x: 0-3"), "expected a quoted column list, got '0-3'", at: (4, 14))
        assertError(t("epochs 99999999999999999999"), "expected an integer", at: (4, 10))
    }

    func testLexicalErrors() {
        assertError(graph("input x: f32 @"), "unexpected character '@'", at: (2, 16))
        assertError(graph("output \"open = %x"), "unterminated string", at: (2, 10))
        assertError(graph("output \"a\\qb\" = %x"), "unknown escape '\\q' in a string", at: (2, 10))
        assertError(graph("output \"\\u{110000}\" = %x"), "bad \\u{...} escape", at: (2, 10))
        assertError(graph("%0: f32 = relu %"), "expected a value name or number after '%'", at: (2, 18))
        assertError(graph("%0: f32 = relu %a-b"), "'%a-b' is not a value name", at: (2, 18))
        assertError(graph("%0: f32 = relu %99999999999999999999999"), "too large", at: (2, 18))
        let ds = diagnostics(bytes: Array("graph g {\n  input x: f32 ".utf8) + [0xFF, 0xFE] + Array("\n}\n".utf8))
        XCTAssertEqual(ds.map(\.message), ["unexpected character byte 0xFF"])
        XCTAssertEqual(ds.first?.location, SourceLocation(line: 2, column: 16, offset: 25))
        let invalidInString = Array("graph \"".utf8) + [0xC3] + Array("\" {\n}\n".utf8)
        XCTAssertEqual(diagnostics(bytes: invalidInString).map(\.message), ["a string holds invalid UTF-8"])
    }

    func testVerifierProblemsAreLocated() {
        assertError(graph("%0: f32[3] = constant 1"), "a constant is a scalar, not f32[3]", at: (2, 3))
        assertError(graph("input x: f32[N,3]", "%x: f32[N,3] = input x", "%1: f32[N,4] = relu %x"),
                    "%1 (relu): has type f32[N,4], but its operands give f32[N,3]", at: (4, 3))
        assertError(graph("%0: i32 = constant 1", "loss %0"), "the loss must be an f32 scalar", at: (3, 3))
        assertError(graph("param w: f32 = 1", "grad v = %w", "%w: f32 = param w"), "undefined value %w", at: (3, 12))
        assertError(graph("%w: f32 = constant 1", "grad v = %w"), "no param is declared as 'v'", at: (3, 3))
        assertError(graph("input x: f32", "output o = %0", "%0: f32 = input x", "output o = %0"),
                    "undefined value %0", at: (3, 14))
        assertError(graph("input x: f32", "%0: f32 = input x", "output o = %0", "output o = %0"),
                    "the output 'o' is given twice", at: (5, 3))
        assertError(graph("input x: f32", "target x: f32"), "the name 'x' is declared twice", at: (3, 3))
        assertError("graph g {\n}\ntrain {\n  normalize z\n}\n", "normalize names 'z'", at: (3, 1))
    }

    func testTruncationsOfAValidDumpNeverCrash() {
        let text = Array(printIR(Fixtures.everyOp()).utf8)
        for cut in stride(from: 0, to: text.count - 1, by: 7) {
            let prefix = Array(text[..<cut])
            do {
                _ = try parseIR(SourceFile(path: "t", bytes: prefix))
            } catch let e as IRParseError {
                XCTAssertFalse(e.diagnostics.isEmpty)
            } catch {
                XCTFail("\(error)")
            }
        }
    }

    /// Random mutations of valid dumps (seeded, so a failure reproduces): each either fails with
    /// well-located diagnostics, or parses into a graph that prints and parses back to itself.
    /// IR_FUZZ_ITERATIONS and IR_FUZZ_SEED in the environment run a longer or another search.
    func testRandomMutationsGiveDiagnosticsNotCrashes() {
        let environment = ProcessInfo.processInfo.environment
        var rng = SplitMix(seed: UInt64(environment["IR_FUZZ_SEED"] ?? "") ?? 20240611)
        let bases = [Fixtures.everyOp(), Fixtures.small(), Fixtures.oddNames()].map { Array(printIR($0).utf8) }
        let interesting = Array("%{}[](),:=#\"\\\n .-+0123456789Nfi32eatrunlsxp_".utf8)
        var parsed = 0, failed = 0
        for iteration in 0..<(Int(environment["IR_FUZZ_ITERATIONS"] ?? "") ?? 3000) {
            var text = bases[iteration % bases.count]
            for _ in 0...rng.below(3) { mutate(&text, &rng, interesting) }
            do {
                let g = try parseIR(SourceFile(path: "m", bytes: text))
                parsed += 1
                guard g == g else { continue }  // a NaN constant is never equal to itself
                let again = try parseIR(printIR(g))
                XCTAssertEqual(again, g, "iteration \(iteration)")
            } catch let e as IRParseError {
                failed += 1
                let lines = text.filter { $0 == UInt8(ascii: "\n") }.count + 1
                for d in e.diagnostics {
                    XCTAssertTrue((1...lines).contains(d.location.line), "iteration \(iteration): \(d)")
                    XCTAssertGreaterThanOrEqual(d.location.column, 1, "iteration \(iteration): \(d)")
                    XCTAssertFalse(d.message.isEmpty)
                }
            } catch {
                XCTFail("iteration \(iteration): \(error)")
            }
        }
        // Both outcomes occur, so the test exercises the parser's success and failure paths.
        XCTAssertGreaterThan(parsed, 100)
        XCTAssertGreaterThan(failed, 1000)
    }

    func testRandomBytesGiveDiagnostics() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<300 {
            let bytes = (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            XCTAssertFalse(diagnostics(bytes: bytes).isEmpty)
        }
        XCTAssertFalse(diagnostics(bytes: Array("graph g {".utf8) + [0, 0, 0x80, 0x0A]).isEmpty)
    }

    private func mutate(_ text: inout [UInt8], _ rng: inout SplitMix, _ interesting: [UInt8]) {
        func randomByte() -> UInt8 {
            rng.below(4) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : interesting[rng.below(interesting.count)]
        }
        let at = rng.below(text.count + 1)
        switch rng.below(8) {
        case 0: text.insert(randomByte(), at: at)
        case 4:
            // An extreme number at a digit, to reach the size checks of the verifier.
            let extremes = ["9223372036854775807", "-9223372036854775808", "2147483648", "0", "-1", "1e999", "nan",
                            "4611686018427387904"]
            if let digit = text.indices.filter({ IRText.isDigit(text[$0]) }).randomElement(using: &rng) {
                text.replaceSubrange(digit...digit, with: Array(extremes[rng.below(extremes.count)].utf8))
            }
        case 1 where at < text.count: text[at] = randomByte()
        case 2 where at < text.count: text.removeSubrange(at..<min(text.count, at + 1 + rng.below(8)))
        case 3: text = Array(text[..<at])
        default:
            var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
            let i = rng.below(lines.count), j = rng.below(lines.count)
            switch rng.below(3) {
            case 0: lines.remove(at: i)
            case 1: lines.insert(lines[i], at: j)
            default: lines.swapAt(i, j)
            }
            text = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
        }
    }
}

/// SplitMix64, the generator of docs/rng.md; here only a seeded source of test cases.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform-ish in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}
