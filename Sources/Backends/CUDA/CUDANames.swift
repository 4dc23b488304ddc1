import DLCBackendKit
import DLCDescriptor
import DLCLowering

/// Names in the generated .cu: each buffer keeps its name unless it is a word of C++, CUDA or
/// the generated code's own, or could shadow a helper (`dlc_`, `cuda`, `cublas` names): then
/// it takes the first free `NAME_2`, ... (`Entry.renamed`). And the index helpers every kernel
/// shares.
struct CUDANames {
    /// C++ keywords, CUDA's built-in names and the locals and parameters of the generated code
    /// (locals end in `_`; loop indices are i0, i1, ...).
    static let reserved: Set<String> = [
        "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char", "class", "const",
        "constexpr", "const_cast", "continue", "decltype", "default", "delete", "do", "double", "dynamic_cast",
        "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline",
        "int", "long", "mutable", "namespace", "new", "noexcept", "not", "nullptr", "operator", "or", "private",
        "protected", "public", "register", "reinterpret_cast", "return", "short", "signed", "sizeof", "static",
        "static_assert", "static_cast", "struct", "switch", "template", "this", "throw", "true", "try", "typedef",
        "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "while", "xor",
        "threadIdx", "blockIdx", "blockDim", "gridDim", "warpSize", "dim3", "uint3", "min", "max",
        "n", "s", "c", "arena", "args", "fault", "outputs", "i", "j", "k", "l",
        "e_", "o_", "r_", "acc_", "v_", "ro_", "rr_", "lane_", "warp_", "warps_", "row_", "m_", "sum_", "best_",
        "bi_", "keep_", "u_", "label_", "scale_", "total_", "outer_", "alpha_", "beta_", "lse_", "other_", "oi_",
        "base_", "x_", "w_", "rest_", "j_", "t_", "q_", "d_", "inv_", "l_", "z_", "r0_", "r1_", "c0_", "c1_", "ri0_",
        "ri1_", "ci0_", "ci1_", "wi_", "wj_", "cell_", "r", "q",
        "i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7",
    ]

    private var names: [BufferID: String] = [:]

    /// The entry with every buffer named for the .cu.
    static func renaming(_ entry: Entry) -> Entry {
        let helpers = entry.buffers.map(\.name).filter { $0.hasPrefix("dlc_") || $0.hasPrefix("cuda") || $0.hasPrefix("cublas") }
        return entry.renamed(avoiding: reserved.union(helpers))
    }

    init(_ entry: Entry) {
        for b in entry.buffers { names[b.id] = b.name }
    }

    subscript(_ b: BufferID) -> String { names[b]! }

    /// `i0 * s0 + i1 * s1 + offset` over the loop indices (zero strides dropped).
    static func index(_ strides: [Affine], offset: Affine = .zero) -> String {
        var terms = strides.enumerated().compactMap { i, s -> String? in
            s == .zero ? nil : (s == .one ? "i\(i)" : "i\(i) * \(C.size(s))")
        }
        if offset != .zero { terms.append(C.size(offset)) }
        return terms.isEmpty ? "0" : terms.joined(separator: " + ")
    }

    /// Declares the indices `i<axis>` of `axes` (row-major, the last fastest) from the flat
    /// index `flat` over their extents; `rest` names the running quotient.
    static func decompose(_ flat: String, axes: [Int], extents: [Affine], rest: String, _ w: inout CWriter) {
        guard let first = axes.first else { return }
        if axes.count == 1 { return w.line("const int64_t i\(first) = \(flat);") }
        w.line("int64_t \(rest) = \(flat);")
        for a in axes.dropFirst().reversed() {
            w.line("const int64_t i\(a) = \(rest) % \(C.size(extents[a]));")
            w.line("\(rest) /= \(C.size(extents[a]));")
        }
        w.line("const int64_t i\(first) = \(rest);")
    }

    /// The product of some extents, as C.
    static func product(_ extents: [Affine]) -> String {
        let constant = extents.filter(\.isConstant).reduce(1) { $0 * $1.constant }
        let varying = extents.filter { !$0.isConstant }.map(C.size)
        if varying.isEmpty { return String(constant) }
        return (constant == 1 ? [] : [String(constant)]).appending(contentsOf: varying).joined(separator: " * ")
    }
}

extension Array {
    func appending(contentsOf other: [Element]) -> [Element] { self + other }
}
