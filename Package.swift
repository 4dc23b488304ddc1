// swift-tools-version:6.0
// dlc: a static compute-graph compiler with ahead-of-time differentiation.
//
// One module per compiler stage, so the module graph enforces that data flows one way:
//   Diagnostics <- Syntax <- Sema -> IR <- Autodiff, Interpreter <- Driver <- dlc
import PackageDescription

/// The trainer backends, each a module in Sources/Backends/NAME (the C printer, the LLVM IR
/// printer, the CUDA printer); the driver's registry (Sources/Driver/Backends.swift) lists the same.
let backends = ["C", "LLVM", "CUDA"]

let package = Package(
    name: "dlc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dlc", targets: ["dlc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Source files, locations and clang-style located error messages.
        .target(name: "DLCDiagnostics", path: "Sources/Diagnostics"),
        // Lexer, parser and AST of the .dl language.
        .target(name: "DLCSyntax", dependencies: ["DLCDiagnostics"], path: "Sources/Syntax"),
        // The typed graph IR: types, ops, graph, printer, text parser, verifier.
        .target(name: "DLCIR", dependencies: ["DLCDiagnostics"], path: "Sources/IR"),
        // Names, consts, types, shapes: AST -> typed graph IR.
        .target(name: "DLCSema", dependencies: ["DLCSyntax", "DLCIR"], path: "Sources/Sema"),
        // The C runtime's rules the Swift side follows too, compiled from codegen/ itself (one
        // implementation each): the column language and the gradient check's kink rule.
        .target(name: "CRuntimeRules", path: "Sources/CRuntimeRules"),
        // Reverse-mode AD as an IR -> IR transform.
        .target(name: "DLCAutodiff", dependencies: ["DLCIR", "CRuntimeRules"], path: "Sources/Autodiff"),
        // Double-precision reference interpreter of the IR, the oracle for every backend.
        .target(name: "DLCInterpreter", dependencies: ["DLCIR", "DLCDiagnostics"], path: "Sources/Interpreter"),
        // Optimisation passes: fusion of the forward graph (differentiated afterwards), CSE, DCE.
        .target(name: "DLCPasses", dependencies: ["DLCIR", "DLCAutodiff"], path: "Sources/Passes"),
        // Schedule, static memory plan and the backend-neutral kernel program.
        .target(name: "DLCLowering", dependencies: ["DLCIR", "DLCDiagnostics"], path: "Sources/Lowering"),
        // What every backend shares: the entry-printing loop.
        .target(name: "DLCBackendKit", dependencies: ["DLCLowering", "DLCIR"], path: "Sources/Backends/Kit"),
        // The model descriptor every trainer links (C whatever the backend), and C syntax.
        .target(name: "DLCDescriptor", dependencies: ["DLCLowering", "DLCIR"], path: "Sources/Backends/Descriptor"),
        // The pipeline: source -> stages -> dumps / binaries; the registry of backends.
        .target(
            name: "DLCDriver",
            dependencies: ["DLCDiagnostics", "DLCSyntax", "DLCSema", "DLCIR", "DLCAutodiff", "DLCInterpreter",
                           "DLCPasses", "DLCLowering", "DLCBackendKit", "DLCRuntimeSources", "CRuntimeRules"]
                + backends.map { .target(name: "DLCBackend" + $0) },
            path: "Sources/Driver"),
    ] + backends.map { name in
        // A printer of the kernel program: a trainer backend (Sources/Backends/NAME).
        .target(name: "DLCBackend" + name, dependencies: ["DLCBackendKit", "DLCDescriptor", "DLCLowering", "DLCIR", "DLCDiagnostics"],
                path: "Sources/Backends/" + name)
    } + [
        // The C runtime (codegen/*.c, *.h) embedded as Swift strings at build time, so a built
        // dlc needs no source tree: EmbedRuntime (plugin) runs EmbedRuntimeTool over codegen/.
        .target(name: "DLCRuntimeSources", path: "Sources/RuntimeSources", plugins: ["EmbedRuntime"]),
        .plugin(name: "EmbedRuntime", capability: .buildTool(), dependencies: ["EmbedRuntimeTool"],
                path: "Plugins/EmbedRuntime"),
        .executableTarget(name: "EmbedRuntimeTool", path: "Sources/EmbedRuntimeTool"),
        .executableTarget(
            name: "dlc",
            dependencies: ["DLCDriver", "DLCBackendKit", "DLCIR", "DLCPasses", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/dlc"),
        // One test target per stage, so a stage under construction breaks only its own tests.
        .testTarget(name: "IRTests", dependencies: ["DLCIR"], path: "Tests/IRTests"),
        .testTarget(
            name: "InterpreterTests", dependencies: ["DLCIR", "DLCInterpreter"], path: "Tests/InterpreterTests"),
        .testTarget(
            name: "AutodiffTests", dependencies: ["DLCIR", "DLCAutodiff", "DLCInterpreter"],
            path: "Tests/AutodiffTests"),
        .testTarget(
            name: "DLCTests",
            dependencies: ["DLCDriver", "DLCLowering", "DLCBackendKit", "DLCBackendC", "DLCBackendLLVM", "DLCPasses", "DLCDiagnostics", "DLCSyntax", "DLCSema", "DLCIR", "DLCAutodiff", "DLCInterpreter"],
            path: "Tests/DLCTests",
            exclude: ["Golden", "Harness"]),
        .testTarget(name: "DriverTests", dependencies: ["DLCDriver", "DLCBackendKit", "DLCRuntimeSources"], path: "Tests/DriverTests"),
    ],
    swiftLanguageModes: [.v5]
)
