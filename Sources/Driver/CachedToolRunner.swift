import DLCBackendKit
import Foundation

/// Runs the build's tools for a backend that asks them something (the LLVM backend asks clang
/// its target). A successful run's output is kept in the build cache under the toolchain's key
/// and the arguments, so a later build asks again only after the tool changed.
public struct CachedToolRunner: ToolRunner {
    public let tools: [Tool: Toolchain]
    public let cache: BuildCache
    let environment: [String: String]
    let log: (@Sendable (String) -> Void)?

    public init(tools: [Tool: Toolchain], cache: BuildCache, environment: [String: String],
                log: (@Sendable (String) -> Void)? = nil) {
        self.tools = tools
        self.cache = cache
        self.environment = environment
        self.log = log
    }

    public func run(_ tool: Tool, _ arguments: [String]) throws -> ToolOutput {
        guard let toolchain = tools[tool] else {
            preconditionFailure("a backend ran the \(tool.role), which its `tools` does not list")
        }
        var digest = SHA256()
        digest.update(field: toolchain.key)
        for a in arguments { digest.update(field: a) }
        let file = (try cache.directory("tool-outputs") as NSString).appendingPathComponent(digest.hexDigest())
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            return ToolOutput(program: toolchain.compiler, succeeded: true, text: text)
        }
        log?(shellQuoted(toolchain.command(arguments)))
        let outcome = try toolchain.run(arguments, environment: environment)
        if outcome.succeeded { try AtomicFiles.write(outcome.output, to: file) }
        return ToolOutput(program: toolchain.compiler, succeeded: outcome.succeeded, text: outcome.output)
    }
}
