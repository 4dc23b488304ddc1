import DLCIR
import DLCLowering

/// What a backend prints for the parts of one entry function. `printBody` walks an entry in
/// the same order for every backend, so that the printers differ only in what they print:
///
/// - an entry that cannot run gets `unavailable` alone;
/// - otherwise `prologue` with the buffers the kernels use (pointers into the step's params,
///   grads, data and arena), then `kernel` for each kernel in order, with the IR line of the
///   node it computes, then `epilogue` (outputs copied out, the loss returned).
///
/// The signature and whatever surrounds the body stay the printer's own.
public protocol EntryPrinter {
    /// The entry cannot run: code that reports `message` and exits.
    mutating func unavailable(_ message: String)
    /// Declares the buffers the kernels use, in buffer order (an alias after its root).
    mutating func prologue(_ buffers: [Buffer])
    /// One kernel; `index` is its place in the entry, `irLine` the IR line of its node.
    mutating func kernel(_ kernel: Kernel, index: Int, irLine: String?)
    /// Copies the outputs out and returns the loss (or nothing, for predict).
    mutating func epilogue()
}

extension EntryPrinter {
    /// Prints the body of entry `e` of `program` through the hooks above.
    public mutating func printBody(of e: Entry, in program: KernelProgram) {
        if let why = e.unavailable { return unavailable(why) }
        let used = e.usedBuffers
        prologue(e.buffers.filter { used.contains(e.root($0.id)) })
        for (i, k) in e.kernels.enumerated() {
            kernel(k, index: i, irLine: k.node.map(program.graph.irLine))
        }
        epilogue()
    }
}

extension Entry {
    /// The buffers kernel `k` reads or writes, with the buffers each of them aliases (down to
    /// its root): those a function running `k` alone needs pointers to.
    public func buffersReached(by k: Kernel) -> Set<BufferID> {
        var reached = Set<BufferID>()
        for id in k.body.access.reads + k.body.access.writes {
            var b = id
            reached.insert(b)
            while case .alias(let r) = buffer(b).storage { b = r; reached.insert(b) }
        }
        return reached
    }

    /// The buffers whose memory some kernel, output or the loss uses (roots of aliases):
    /// buffers that fusion left unused get no pointer.
    public var usedBuffers: Set<BufferID> {
        Set(kernels.flatMap { $0.body.access.writes + $0.body.access.reads }.map(root) + outputs + (loss.map { [$0] } ?? []))
    }
}

extension Graph {
    /// One node as its line of the IR text form, with its source location but no location
    /// comment: the comment each printer puts before the code computing the node.
    public func irLine(_ v: ValueID) -> String {
        var text = Substring(IRPrinter(showLocations: false).nodeText(self[v], in: self))
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text) + (self[v].location.map { "   @\($0.line):\($0.column)" } ?? "")
    }
}
