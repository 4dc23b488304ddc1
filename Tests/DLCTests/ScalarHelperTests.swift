@testable import DLCBackendLLVM
import DLCLowering
import Foundation
import XCTest

/// The scalar helpers of codegen/dlc_kernels.h are written once: an op the LLVM printer has no
/// IR of its own for calls the helper's external copy, which the C descriptor defines from the
/// header. Here a module calls `dlc_relu` and `dlc_floordiv_i32` that way, and the results are
/// the header's.
final class ScalarHelperTests: XCTestCase {
    func testLLVMCallsTheHeadersHelpersThroughTheDescriptorsCopies() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-scalar-helpers-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let module = IRModule()
        let entry = Entry(kind: .train, buffers: [], kernels: [], unavailable: nil, arenaBytes: .zero, loss: nil, outputs: [])
        func function(_ name: String, _ type: IRType, _ body: (KernelEmitter) -> Value) -> String {
            let f = IRFunction(module: module, reserved: ["a", "b"])
            let v = body(KernelEmitter(f: f, entry: entry, sourceName: "test.dl"))
            f.emit("ret \(v.typed)")
            return f.text(signature: "define \(type) @\(name)(\(type) %a, \(type) %b)")
        }
        let relu = function("via_relu", .float) { e in e.helperCall("relu", [Value("%a", .float)], .f32) }
        let floorDiv = function("via_floordiv", .i32) { e in
            e.helperCall("floordiv", [Value("%a", .i32), Value("%b", .i32)], .i32)
        }
        XCTAssertEqual(module.externalHelpers.map(\.copyName), ["dlc_llvm_relu", "dlc_llvm_floordiv_i32"])
        let ll = ([relu, floorDiv] + module.declarations.keys.sorted().map { module.declarations[$0]! }
                  + ["attributes #1 = { nounwind willreturn memory(none) }"]).joined(separator: "\n") + "\n"
        let copies = module.externalHelpers.map(\.definition).joined(separator: "\n")
        let main = """
            #include <math.h>
            #include <stdio.h>
            #include "dlc_kernels.h"
            \(copies)
            float via_relu(float a, float b);
            int32_t via_floordiv(int32_t a, int32_t b);
            int main(void) {
                const float xs[] = {-2.0f, 0.0f, 3.5f, NAN, -INFINITY};
                for (int i = 0; i < 5; i++) {
                    const float got = via_relu(xs[i], 0.0f), want = dlc_relu(xs[i]);
                    if (!(got == want || (got != got && want != want))) { printf("relu(%g) = %g\\n", xs[i], got); return 1; }
                }
                const int32_t as[] = {7, -7, 7, -7, INT32_MIN, 5}, bs[] = {2, 2, -2, -2, -1, 0};
                for (int i = 0; i < 6; i++) {
                    if (via_floordiv(as[i], bs[i]) != dlc_floordiv_i32(as[i], bs[i])) { printf("floordiv %d\\n", i); return 1; }
                }
                return 0;
            }

            """
        let llFile = work.appendingPathComponent("m.ll"), cFile = work.appendingPathComponent("main.c")
        let exe = work.appendingPathComponent("helpers")
        try ll.write(to: llFile, atomically: true, encoding: .utf8)
        try main.write(to: cFile, atomically: true, encoding: .utf8)
        let built = try Run.run(URL(fileURLWithPath: "/usr/bin/env"), [
            HarnessComparison.compiler, "-O1", "-Wall", "-Werror", "-Wno-override-module", "-I",
            Golden.root.appendingPathComponent("codegen").path, cFile.path, llFile.path, "-lm", "-o", exe.path,
        ])
        XCTAssertEqual(built.status, 0, built.stderr + "\n" + ll)
        guard built.status == 0 else { return }
        let ran = try Run.run(exe, [])
        XCTAssertEqual(ran.status, 0, ran.stdout)
    }
}
