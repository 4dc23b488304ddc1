import Foundation
import XCTest
@testable import DLCIR

/// The examples of docs/ir.md are real: each parses, verifies and prints back exactly.
final class DocsTests: XCTestCase {
    func testExamplesInTheDocsRoundTrip() throws {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/ir.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let blocks = text.components(separatedBy: "```ir\n").dropFirst().map {
            String($0.components(separatedBy: "```")[0])
        }
        XCTAssertEqual(blocks.count, 2)
        for block in blocks {
            do {
                let g = try parseIR(block)
                XCTAssertEqual(printIR(g), block)
            } catch {
                XCTFail("\(error)\n\(block)")
            }
        }
    }
}
