import XCTest
@testable import DLCIR

final class ShapeTests: XCTestCase {
    func testBroadcast() {
        XCTAssertEqual(Shape.broadcast([.batch, .fixed(3)], [.fixed(3)]), [.batch, .fixed(3)])
        XCTAssertNil(Shape.broadcast([.batch], [.fixed(3)]))
    }
}
