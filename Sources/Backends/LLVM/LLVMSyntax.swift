import DLCIR
import DLCLowering

/// The target a module is printed for: the two lines clang puts at the top of a module it
/// emits (`clang -S -emit-llvm`). The driver asks the clang that builds the trainer for them;
/// `--emit llvm` prints the host's, as far as dlc knows it.
public struct LLVMTarget: Sendable, Equatable {
    public var triple: String
    public var dataLayout: String

    public init(triple: String, dataLayout: String) {
        self.triple = triple
        self.dataLayout = dataLayout
    }

    /// The target clang gives this machine by default, for the LP64 hosts dlc knows (nil
    /// elsewhere: the module then has no target lines, and clang assumes its own).
    public static var host: LLVMTarget? {
        #if arch(x86_64) && os(Linux)
        return LLVMTarget(triple: "x86_64-unknown-linux-gnu",
                          dataLayout: "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128")
        #elseif arch(arm64) && os(Linux)
        return LLVMTarget(triple: "aarch64-unknown-linux-gnu",
                          dataLayout: "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128-Fn32")
        #elseif arch(arm64) && os(macOS)
        return LLVMTarget(triple: "arm64-apple-macosx13.0.0",
                          dataLayout: "e-m:o-i64:64-i128:128-n32:64-S128-Fn32")
        #elseif arch(x86_64) && os(macOS)
        return LLVMTarget(triple: "x86_64-apple-macosx13.0.0",
                          dataLayout: "e-m:o-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128")
        #else
        return nil
        #endif
    }

    /// The target lines of a module clang printed (`target datalayout = "..."`, `target
    /// triple = "..."`); nil when either is missing.
    public static func parse(module text: String) -> LLVMTarget? {
        func quoted(after key: String) -> String? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
                  let open = line.firstIndex(of: "\""), let close = line.lastIndex(of: "\""), open < close
            else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        guard let layout = quoted(after: "target datalayout"), let triple = quoted(after: "target triple") else { return nil }
        return LLVMTarget(triple: triple, dataLayout: layout)
    }
}

/// An LLVM IR type, as printed.
struct IRType: Hashable, CustomStringConvertible {
    let text: String
    var description: String { text }

    static let i1 = IRType(text: "i1"), i8 = IRType(text: "i8"), i32 = IRType(text: "i32"), i64 = IRType(text: "i64")
    static let float = IRType(text: "float"), double = IRType(text: "double"), ptr = IRType(text: "ptr")
    static func vector(_ n: Int, _ t: IRType) -> IRType { IRType(text: "<\(n) x \(t.text)>") }

    /// The element type of a buffer of this dtype (f32 is `float`, i32 is `i32`).
    static func of(_ d: DType) -> IRType { d == .f32 ? .float : .i32 }

    var isFloatingPoint: Bool { self == .float || self == .double }
}

/// A value an instruction can use: an SSA name (`%h`) or a constant (`64`, `1.0`), typed.
struct Value {
    let ref: String
    let type: IRType
    init(_ ref: String, _ type: IRType) {
        self.ref = ref
        self.type = type
    }

    /// `float %h`: the operand as an instruction argument.
    var typed: String { "\(type) \(ref)" }

    static func i64(_ x: Int) -> Value { Value(String(x), .i64) }
    static func i32(_ x: Int32) -> Value { Value(String(x), .i32) }
    static func float(_ x: Float) -> Value { Value(LL.float(x), .float) }
    static func double(_ x: Double) -> Value { Value(LL.double(x), .double) }

    /// The integer this constant holds, when it is one.
    var constant: Int? { type == .i64 || type == .i32 ? Int(ref) : nil }
}

/// Small pieces of LLVM IR syntax.
enum LL {
    /// A float constant. LLVM reads a decimal as a double that must hold the float exactly;
    /// the 64-bit hexadecimal form of the same double always does.
    static func float(_ x: Float) -> String { double(Double(x)) }

    /// A double constant: a short decimal when it reads back exactly, else hexadecimal.
    static func double(_ x: Double) -> String {
        if x.isFinite {
            var s = "\(x)"
            if !s.contains("e") && s.count <= 14 {
                if !s.contains(".") { s += ".0" }
                return s
            }
        }
        let hex = String(x.bitPattern, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A float as C reads the literal the C backend prints for `x` (`0.1f` rounds the decimal
    /// straight to float, which is not always `Float(x)` of the nearest double).
    static func cFloat(_ x: Double) -> Float {
        if !x.isFinite { return Float(x) }
        return Float("\(x)") ?? Float(x)
    }

    /// An i32 immediate as the C backend prints it.
    static func cInt(_ x: Double) -> Int32 {
        guard x.isFinite, abs(x) < 9.0e18 else { return 0 }
        return Int32(truncatingIfNeeded: Int(x))
    }

    /// The bytes of a C string literal the C backend would print for `s` (non-ASCII and
    /// control characters but newline become '?'), NUL-terminated, as an LLVM `c"..."` array.
    static func cString(_ s: String) -> (text: String, count: Int) {
        var bytes: [UInt8] = []
        for ch in s {
            if ch == "\n" { bytes.append(10) } else if ch.isASCII, let a = ch.asciiValue, a >= 32 { bytes.append(a) } else { bytes.append(UInt8(ascii: "?")) }
        }
        bytes.append(0)
        var text = ""
        for b in bytes {
            if b >= 32 && b < 127 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                text.append(Character(UnicodeScalar(b)))
            } else {
                let h = String(b, radix: 16, uppercase: true)
                text += "\\" + (h.count == 1 ? "0" + h : h)
            }
        }
        return ("c\"" + text + "\"", bytes.count)
    }

    /// A comment line's text: one line, whatever the source held.
    static func comment(_ s: String) -> String {
        "; " + s.map { $0 == "\n" || $0 == "\r" ? " " : $0 }.map(String.init).joined()
    }

    /// An affine size as text (`64*N + 8`), for names and comments.
    static func sizeName(_ a: Affine) -> String {
        let c = a.constant < 0 ? "m\(-a.constant)" : "\(a.constant)"
        switch (a.perBatch, a.constant) {
        case (1, 0): return "N"
        case (let p, 0): return "N.x\(p)"
        case (1, _): return "N.p\(c)"
        case (let p, _): return "N.x\(p).p\(c)"
        }
    }
}
