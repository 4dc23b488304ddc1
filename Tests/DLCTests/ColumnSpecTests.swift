import DLCDriver
import DLCIR
import Foundation
import XCTest

/// The column language (docs/language.md, "Columns") has one implementation,
/// codegen/dlc_columns.c: `dlc gradcheck` (CSVData) and the trainers resolve specs alike.
final class ColumnSpecTests: XCTestCase {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-columns-\(getpid())")

    override func setUp() {
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: work)
    }

    /// A file whose header has a range-like name (`1-2`) and a number (`3`) among its names.
    func csv(header: Bool = true) throws -> CSVData {
        let url = work.appendingPathComponent(header ? "with_header.csv" : "no_header.csv")
        var text = header ? "p0,p1,p2,p3,label,1-2,3\n" : ""
        text += "0.5,1.5,2.5,3.5,1,7,8\n-1,-2,-3,-4,0,9,10\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
        return try CSVData(path: url.path)
    }

    func testResolvesEveryKindOfItem() throws {
        let data = try csv()
        let cases: [(String, [Int])] = [
            ("label", [4]),                   // a header name
            ("0", [0]), ("0-3", [0, 1, 2, 3]),   // an index, a range of indices
            ("p0-p3", [0, 1, 2, 3]),          // a range of header names (rejected by the old Swift parser)
            ("p1-label", [1, 2, 3, 4]),
            (" \"p2\" , 4", [2, 4]),          // spaces and quotes trimmed
            ("1-2", [5]), ("3", [6]),         // a header name wins over an index or a range
            ("p3,p0,p3", [3, 0, 3]),          // in the order written, repeats kept
        ]
        for (spec, expected) in cases {
            XCTAssertEqual(try data.columnIndices(spec), expected, spec)
        }
    }

    func testBadSpecsAreErrorsNamingTheItem() throws {
        let data = try csv()
        let cases: [(String, String)] = [
            ("nope", "no column 'nope'"),
            ("p3-p1", "column range 'p3-p1' is backwards"),
            ("5-9", "column 9 is out of range (the file has 7 columns, numbered from 0)"),
            ("p0,,p1", "empty item in the column list 'p0,,p1'"),
            ("p0,", "empty item in the column list 'p0,'"),
        ]
        for (spec, message) in cases {
            XCTAssertThrowsError(try data.columnIndices(spec), spec) { error in
                XCTAssertTrue("\(error)".hasSuffix(":1:1: error: " + message), "\(spec): \(error)")
            }
        }
        let bare = try csv(header: false)
        XCTAssertEqual(try bare.columnIndices("1-3"), [1, 2, 3])
        XCTAssertThrowsError(try bare.columnIndices("label")) { error in
            XCTAssertTrue("\(error)".hasSuffix(":1:1: error: no column 'label' (the file has no header)"), "\(error)")
        }
    }

    /// The same spec through `dlc gradcheck` and through a compiled trainer.
    func testGradcheckAndTrainerAcceptTheSameRanges() throws {
        _ = try csv()
        let model = work.appendingPathComponent("ranges.dl")
        try """
            model ranges {
                input  x: f32[N, 4]
                target y: f32[N, 1]
                layer fc = Linear(4, 1)
                forward {
                    pred = fc(x)
                    output pred
                    loss mse(pred, y)
                }
                train {
                    data "with_header.csv"
                    columns x: "p0-p3", y: "label"
                }
            }
            """.write(to: model, atomically: true, encoding: .utf8)
        let check = try Run.dlc(["gradcheck", model.path])
        XCTAssertEqual(check.status, 0, check.stderr + check.stdout)
        XCTAssertTrue(check.stdout.contains("gradcheck passed"), check.stdout)
        let exe = work.appendingPathComponent("ranges")
        let built = try Run.dlc(["compile", model.path, "-o", exe.path])
        XCTAssertEqual(built.status, 0, built.stderr)
        let trained = try Run.run(exe, ["train", "--epochs", "1"], in: work)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("train ranges: 2 rows"), trained.stdout)
    }
}
