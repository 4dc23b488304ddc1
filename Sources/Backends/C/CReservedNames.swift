/// The names a buffer may not take in the generated C: C's keywords, the entry functions'
/// parameters and locals (`s`, `n`, `arena`, `outputs`), and the names the kernels' own code
/// uses (loop counters iN, i, j, k, l, p, q, r; locals ending in `_`, see CKernels; a split
/// kernel's chunk function's parameters). The chunk functions' names are avoided per entry.
let cReservedNames: Set<String> = [
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while",
    "n", "s", "arena", "outputs", "loss", "i", "j", "k", "o", "t", "l", "r", "p", "q",
    "i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7",
    "r_", "m_", "sum_", "e_", "lse_", "base_", "best_", "a_", "b_", "acc_", "d_", "q_", "t_", "z_", "c_", "keep_", "j_",
    "p_", "inv_", "scale_", "v_", "row_", "lr_", "tile_", "o_", "r0_", "r1_", "c0_", "c1_", "x_", "share_", "to_", "from_", "begin_", "end_", "part_", "parts_", "step_", "acc0_", "acc1_", "acc2_", "acc3_",
]
