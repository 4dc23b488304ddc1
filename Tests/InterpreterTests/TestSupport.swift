import XCTest
import DLCIR
@testable import DLCInterpreter

/// Runs `graph` in evaluation mode and returns every value.
func evaluate(_ graph: Graph, feeds: [String: Tensor] = [:], params: [String: Tensor] = [:]) throws -> Interpreter.Values {
    try Interpreter(graph: graph).run(feeds: feeds, params: params)
}

/// Asserts a tensor's shape and values (to `accuracy`).
func assertTensor(_ t: Tensor, _ shape: [Int], _ values: [Double], accuracy: Double = 1e-12,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(t.shape, shape, "shape", file: file, line: line)
    XCTAssertEqual(t.scalars.count, values.count, "count", file: file, line: line)
    for (i, (a, b)) in zip(t.scalars, values).enumerated() {
        if b.isNaN {
            XCTAssertTrue(a.isNaN, "element \(i): \(a) is not NaN", file: file, line: line)
        } else if b.isInfinite {
            XCTAssertEqual(a, b, "element \(i)", file: file, line: line)
        } else {
            XCTAssertEqual(a, b, accuracy: accuracy, "element \(i) of \(t.scalars)", file: file, line: line)
        }
    }
}

/// Asserts that `body` throws an `InterpreterError` whose message contains `fragment`.
func assertInterpreterError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line,
                            _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let e as InterpreterError {
        XCTAssertTrue(e.message.contains(fragment), "'\(e.message)' lacks '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

extension Graph {
    /// An `input` leaf (declared as data too).
    mutating func input(_ name: String, _ type: TensorType, role: DataRole = .input) -> ValueID {
        data.append(DataDecl(name: name, role: role, type: type))
        return add(.input(name), type: type, name: name)
    }

    /// A `param` leaf (declared too).
    mutating func param(_ name: String, _ type: TensorType, _ initializer: Initializer = .zeros) -> ValueID {
        params.append(ParamDecl(name: name, type: type, initializer: initializer))
        return add(.param(name), type: type, name: name)
    }

    mutating func constant(_ c: Double, _ dtype: DType = .f32) -> ValueID {
        add(.constant(c), type: TensorType(dtype))
    }
}

func f32(_ dims: Dim...) -> TensorType { TensorType(.f32, Shape(dims)) }
func i32(_ dims: Dim...) -> TensorType { TensorType(.i32, Shape(dims)) }
let N = Dim.batch
func d(_ n: Int) -> Dim { .fixed(n) }
