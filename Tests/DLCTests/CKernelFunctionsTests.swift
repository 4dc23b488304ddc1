import Foundation
import XCTest

/// The C printer's kernel functions (`CPrinter.kernelFunction`), read from the golden C of
/// every model and program (which `GoldenTests` hold equal to the printer's output): each
/// kernel with loops is a function of its own, so that the C compiler optimises many small
/// functions instead of one entry holding every loop (its time grows faster than a
/// function's size: LeNet's entries took 6.7 s to compile at -O3 that way), and a kernel two
/// entries share is printed once.
final class CKernelFunctionsTests: XCTestCase {
    /// The golden C files of the models and the programs.
    var goldenC: [URL] {
        ["models", "programs"].flatMap { folder -> [URL] in
            let dir = Golden.directory.appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return names.filter { $0.hasSuffix(".c") }.sorted().map { dir.appendingPathComponent($0) }
        }
    }

    /// A C file's top-level functions: name, first line and body (the lines inside the braces).
    func functions(_ text: String) -> [(name: String, head: String, body: String)] {
        var found: [(String, String, String)] = []
        var current: (name: String, head: String, body: [Substring])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let plain = line.replacingOccurrences(of: "__attribute__((noinline)) ", with: "")
            let definition = ["static ", "void ", "__attribute__((noinline)) "].contains { line.hasPrefix($0) }
            if current == nil, definition, line.hasSuffix(") {"), let paren = plain.firstIndex(of: "(") {
                let name = plain[..<paren].split(separator: " ").last.map(String.init) ?? ""
                current = (name, String(line), [])
            } else if line == "}", let c = current {
                found.append((c.name, c.head, c.body.joined(separator: "\n")))
                current = nil
            } else if current != nil {
                current!.body.append(line)
            }
        }
        return found
    }

    func testEntriesCallKernelFunctionsAndHoldNoLoops() throws {
        let entries: Set = ["train_step", "sgd_step", "eval_with_targets", "predict"]
        var checked = 0
        for url in goldenC {
            let text = try String(contentsOf: url, encoding: .utf8)
            let fs = functions(text)
            XCTAssertFalse(fs.isEmpty, url.lastPathComponent)
            for f in fs where entries.contains(f.name) {
                XCTAssertFalse(f.body.contains("for ("), "\(url.lastPathComponent): \(f.name) holds a loop")
                checked += 1
            }
            for f in fs where f.head.contains("__attribute__((noinline))") {
                XCTAssertTrue(f.body.contains("for ("), "\(url.lastPathComponent): \(f.name) has no loop")
                // Every pointer it takes is one its code uses (an operand fusion left unused
                // has no memory of its own: as a restrict pointer it would alias another).
                let words = Set(f.body.split { !($0 == "_" || $0.isLetter || $0.isNumber) })
                let list = f.head.range(of: f.name + "(").map { f.head[$0.upperBound...] } ?? ""
                let parameters = list.prefix { $0 != ")" }.split(separator: ",")
                XCTAssertFalse(parameters.isEmpty, f.head)
                XCTAssertEqual(parameters.first, "const dlc_step *s", f.head)
                for name in parameters.dropFirst().compactMap({ $0.split(separator: " ").last }) where name != "begin_" && name != "end_" {
                    XCTAssertTrue(words.contains(name), "\(url.lastPathComponent): \(f.name) takes \(name) and never uses it")
                }
                XCTAssertTrue(text.contains(" \(f.name)(s"), "\(url.lastPathComponent): \(f.name) is never called")
            }
        }
        XCTAssertGreaterThan(checked, 100, "too few entries found: the golden files moved?")
    }

    /// A kernel that reads a buffer and a view of it (one memory) takes both pointers without
    /// `restrict`; a kernel whose buffers are all distinct takes them all `restrict`.
    func testAViewAndItsBufferAreNotRestrict() throws {
        let text = try String(contentsOf: Golden.directory.appendingPathComponent("programs/alias_operands.c"), encoding: .utf8)
        let fs = functions(text)
        let both = try XCTUnwrap(fs.first { $0.name == "train_step_k0" })
        XCTAssertTrue(both.head.contains("float *const x, ") && both.head.contains("float *const v, "), both.head)
        XCTAssertFalse(both.head.contains("restrict"), both.head)
        let loss = try XCTUnwrap(fs.first { $0.name == "train_step_k1" })
        XCTAssertTrue(loss.head.contains("float *restrict const y, float *restrict const pred"), loss.head)
    }

    func testAKernelIsPrintedOnce() throws {
        var shared = 0
        for url in goldenC {
            let text = try String(contentsOf: url, encoding: .utf8)
            var seen: [String: String] = [:]
            for f in functions(text) where f.head.contains("__attribute__((noinline))") {
                let signature = String(f.head.dropFirst("__attribute__((noinline)) void ".count).drop { $0 != "(" })
                if let first = seen[signature + f.body] {
                    XCTFail("\(url.lastPathComponent): \(f.name) is \(first) again")
                }
                seen[signature + f.body] = f.name
            }
            // The sgd entry calling the train entry's kernel functions.
            if let sgd = functions(text).first(where: { $0.name == "sgd_step" }), sgd.body.contains("train_step_k") { shared += 1 }
        }
        XCTAssertGreaterThan(shared, 10, "sgd entries should reuse the train entries' forward kernels")
    }
}
