import DLCBackendLLVM
import Foundation

/// What the LLVM backend builds a trainer from: the model's entry functions as an LLVM IR
/// module, printed once the target is known (it is clang's, asked at build time), and the C
/// descriptor linked with it.
public struct LLVMTrainerSource: Sendable {
    let printer: LLVMPrinter

    /// The model's name.
    public var name: String { printer.program.graph.name }

    /// The `.ll` module for `target` (nil: no target lines).
    public func module(for target: LLVMTarget?) -> String {
        var p = printer
        p.target = target
        return p.print()
    }

    /// The C file with `dlc_generated_model`, declaring the module's functions `extern`.
    public var descriptor: String { printer.descriptor() }
}

extension Toolchain {
    /// Flags of an LLVM IR compilation: clang optimizes the module itself at -O3 (the IR is
    /// printed unoptimized, as the C backend's source is) for the host CPU, as C models are.
    public static let irCompileFlags = ["-O3", "-march=native"]
}

extension TrainerBuilder {
    /// Builds the trainer of an LLVM backend model at `output`: the module (for the target of
    /// the compiler that builds it) and the descriptor are compiled by clang and linked with the
    /// same cached runtime objects as a C model. The output appears atomically, as in `build`;
    /// a module that does not compile is kept, and the error names it.
    @discardableResult
    public func build(llvm source: LLVMTrainerSource, output: String) throws -> TrainerBuildReport {
        try checkWritable(output)
        var builder = self
        let toolchain = try self.toolchain ?? Toolchain.find(environment: environment)
        builder.toolchain = toolchain
        let target = try llvmTarget(toolchain)
        return try builder.build(files: [GeneratedFile(name: "model.ll", contents: source.module(for: target)),
                                         GeneratedFile(name: "descriptor.c", contents: source.descriptor)],
                                 modelName: source.name, output: output)
    }

    /// The target triple and data layout `toolchain` compiles for, from the module it emits
    /// for an empty C file (`-S -emit-llvm`); kept in the cache per toolchain. A compiler that
    /// cannot emit LLVM IR (gcc) cannot build an LLVM backend model either: the error says so.
    public func llvmTarget(_ toolchain: Toolchain) throws -> LLVMTarget {
        let folder = try cache.directory("llvm-targets")
        let file = (folder as NSString).appendingPathComponent(toolchain.key)
        if let text = try? String(contentsOfFile: file, encoding: .utf8), let target = LLVMTarget.parse(module: text) {
            return target
        }
        let arguments = ["-S", "-emit-llvm", "-march=native", "-x", "c", "/dev/null", "-o", "-"]
        log?(shellQuoted(toolchain.command(arguments)))
        let outcome = try toolchain.run(arguments, environment: environment)
        guard outcome.succeeded, let target = LLVMTarget.parse(module: outcome.output) else {
            // gcc reads -emit-llvm as `-e mit-llvm` and prints assembly: only a failure's output says why.
            let output = outcome.succeeded ? "" : outcome.output.split(separator: "\n").prefix(20).joined(separator: "\n")
            throw TrainerBuildError.io(
                "the LLVM backend needs clang, and '\(toolchain.compiler)' cannot emit LLVM IR"
                    + (output.isEmpty ? "" : ":\n" + output)
                    + "\nnote: set CC to clang, or build with --backend c")
        }
        try AtomicFiles.write("target datalayout = \"\(target.dataLayout)\"\ntarget triple = \"\(target.triple)\"\n", to: file)
        return target
    }
}
