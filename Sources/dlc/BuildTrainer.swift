import ArgumentParser
import DLCDriver
import DLCIR
import Foundation

/// `dlc compile MODEL [-o PATH] [--backend c|llvm]`: the model's C (or its LLVM IR module and
/// C descriptor), built into a trainer binary at PATH (default ./NAME). A model error exits 1
/// with its diagnostics; so does a build failure, with a message saying what to install or, for
/// a bug in dlc, where the generated file was kept.
func buildTrainer(_ pipeline: Pipeline, output: String?, backend: Backend = .c) throws {
    var builder = TrainerBuilder()
    if ProcessInfo.processInfo.environment["DLC_VERBOSE"] != nil {
        builder.log = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
    if backend == .llvm {
        let source: LLVMTrainerSource
        switch pipeline.llvmTrainer() {
        case .success(let s): source = s
        case .failure(let f):
            FileHandle.standardError.write(Data(f.rendered.utf8))
            throw ExitCode(1)
        }
        do {
            try builder.build(llvm: source, output: output ?? "./" + source.name)
        } catch let error as TrainerBuildError {
            FileHandle.standardError.write(Data((error.message + "\n").utf8))
            throw ExitCode(1)
        }
        return
    }
    let name: String, source: String
    switch pipeline.trainerSource() {
    case .success(let t): (name, source) = t
    case .failure(let f):
        FileHandle.standardError.write(Data(f.rendered.utf8))
        throw ExitCode(1)
    }
    do {
        try builder.build(modelSource: source, modelName: name, output: output ?? "./" + name)
    } catch let error as TrainerBuildError {
        FileHandle.standardError.write(Data((error.message + "\n").utf8))
        throw ExitCode(1)
    }
}
