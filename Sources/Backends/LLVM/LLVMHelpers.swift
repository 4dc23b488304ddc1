/// The scalar helpers of codegen/dlc_kernels.h and codegen/dlc_rng.h that the hot loops use,
/// as internal, always inlined IR functions, statement for statement: a kernel calls
/// `@dlc.maxf` where the C backend calls `dlc_maxf`, and each is printed once, only when some
/// kernel uses it. They are here so that clang can inline and vectorise them without LTO; the
/// programs' comparison with the interpreter checks them. Any other helper is called through
/// the descriptor's external copy of the header's definition (`KernelEmitter.helperCall`).
enum Helper: String, CaseIterable, Hashable {
    case maxf = "dlc.maxf", minf = "dlc.minf", relu = "dlc.relu", sigmoid = "dlc.sigmoid", signf = "dlc.signf"
    case absI32 = "dlc.abs_i32", maxI32 = "dlc.max_i32", minI32 = "dlc.min_i32"
    case floorDivI32 = "dlc.floordiv_i32", modI32 = "dlc.mod_i32", divI32 = "dlc.div_i32"
    case rngDraw = "dlc.rng_draw", rngUnit = "dlc.rng_unit"

    var needs: [Declaration] {
        self == .sigmoid ? [.intrinsic("exp", .float)] : []
    }

    var definition: String {
        let head = "define internal"
        switch self {
        case .maxf, .minf:
            let (c, name) = self == .maxf ? ("ogt", "dlc_maxf") : ("olt", "dlc_minf")
            return """
                ; \(name)(a, b): (a != a || a \(self == .maxf ? ">" : "<") b) ? a : (b != b ? b : (a == b ? a : b)), NaN-propagating like torch.\(self == .maxf ? "maximum" : "minimum")
                \(head) float @\(rawValue)(float %a, float %b) #3 {
                entry:
                  %a.nan = fcmp une float %a, %a
                  %a.wins = fcmp \(c) float %a, %b
                  %take.a = or i1 %a.nan, %a.wins
                  %b.nan = fcmp une float %b, %b
                  %same = fcmp oeq float %a, %b
                  %tie = select i1 %same, float %a, float %b
                  %other = select i1 %b.nan, float %b, float %tie
                  %r = select i1 %take.a, float %a, float %other
                  ret float %r
                }
                """
        case .relu:
            return """
                ; dlc_relu(x): x > 0 ? x : (x != x ? x : 0)
                \(head) float @\(rawValue)(float %x) #3 {
                entry:
                  %pos = fcmp ogt float %x, 0.0
                  %nan = fcmp une float %x, %x
                  %keep = or i1 %pos, %nan
                  %r = select i1 %keep, float %x, float 0.0
                  ret float %r
                }
                """
        case .sigmoid:
            return """
                ; dlc_sigmoid(x): 1 / (1 + expf(-x))
                \(head) float @\(rawValue)(float %x) #3 {
                entry:
                  %neg = fneg float %x
                  %e = call float @llvm.exp.f32(float %neg)
                  %d = fadd float 1.0, %e
                  %r = fdiv float 1.0, %d
                  ret float %r
                }
                """
        case .signf:
            return """
                ; dlc_signf(x): x > 0 ? 1 : (x < 0 ? -1 : (x != x ? x : 0))
                \(head) float @\(rawValue)(float %x) #3 {
                entry:
                  %pos = fcmp ogt float %x, 0.0
                  %neg = fcmp olt float %x, 0.0
                  %nan = fcmp une float %x, %x
                  %zero.or.nan = select i1 %nan, float %x, float 0.0
                  %not.pos = select i1 %neg, float -1.0, float %zero.or.nan
                  %r = select i1 %pos, float 1.0, float %not.pos
                  ret float %r
                }
                """
        case .absI32:
            return """
                ; dlc_abs_i32(a): a < 0 ? -a : a, modulo 2^32
                \(head) i32 @\(rawValue)(i32 %a) #3 {
                entry:
                  %neg = icmp slt i32 %a, 0
                  %minus = sub i32 0, %a
                  %r = select i1 %neg, i32 %minus, i32 %a
                  ret i32 %r
                }
                """
        case .maxI32, .minI32:
            return """
                ; dlc_\(self == .maxI32 ? "max" : "min")_i32(a, b)
                \(head) i32 @\(rawValue)(i32 %a, i32 %b) #3 {
                entry:
                  %a.wins = icmp \(self == .maxI32 ? "sgt" : "slt") i32 %a, %b
                  %r = select i1 %a.wins, i32 %a, i32 %b
                  ret i32 %r
                }
                """
        case .floorDivI32:
            return """
                ; dlc_floordiv_i32(a, b): Python's a // b; 0 for b == 0, -a (wrapping) for b == -1
                \(head) i32 @\(rawValue)(i32 %a, i32 %b) #3 {
                entry:
                  switch i32 %b, label %divide [ i32 0, label %zero
                                                 i32 -1, label %negate ]
                zero:
                  ret i32 0
                negate:
                  %minus = sub i32 0, %a
                  ret i32 %minus
                divide:
                  %q = sdiv i32 %a, %b
                  %qb = mul i32 %q, %b
                  %inexact = icmp ne i32 %qb, %a
                  %a.neg = icmp slt i32 %a, 0
                  %b.neg = icmp slt i32 %b, 0
                  %signs.differ = xor i1 %a.neg, %b.neg
                  %down = and i1 %inexact, %signs.differ
                  %q.1 = sub i32 %q, 1
                  %r = select i1 %down, i32 %q.1, i32 %q
                  ret i32 %r
                }
                """
        case .modI32:
            return """
                ; dlc_mod_i32(a, b): Python's a % b (the divisor's sign); 0 for b == 0 or -1
                \(head) i32 @\(rawValue)(i32 %a, i32 %b) #3 {
                entry:
                  switch i32 %b, label %divide [ i32 0, label %zero
                                                 i32 -1, label %zero ]
                zero:
                  ret i32 0
                divide:
                  %m = srem i32 %a, %b
                  %nonzero = icmp ne i32 %m, 0
                  %m.neg = icmp slt i32 %m, 0
                  %b.neg = icmp slt i32 %b, 0
                  %signs.differ = xor i1 %m.neg, %b.neg
                  %fix = and i1 %nonzero, %signs.differ
                  %m.b = add i32 %m, %b
                  %r = select i1 %fix, i32 %m.b, i32 %m
                  ret i32 %r
                }
                """
        case .divI32:
            return """
                ; C's a / b on i32 (sema allows '/' on f32 only): truncating, 0 for b == 0, -a for b == -1
                \(head) i32 @\(rawValue)(i32 %a, i32 %b) #3 {
                entry:
                  switch i32 %b, label %divide [ i32 0, label %zero
                                                 i32 -1, label %negate ]
                zero:
                  ret i32 0
                negate:
                  %minus = sub i32 0, %a
                  ret i32 %minus
                divide:
                  %q = sdiv i32 %a, %b
                  ret i32 %q
                }
                """
        case .rngUnit:
            return """
                ; dlc_rng_unit(bits): (bits >> 11) * 2^-53, in [0, 1)
                \(head) double @\(rawValue)(i64 %bits) #3 {
                entry:
                  %top = lshr i64 %bits, 11
                  %u = uitofp i64 %top to double
                  %r = fmul double %u, \(LL.double(1.0 / 9007199254740992.0))  ; 2^-53
                  ret double %r
                }
                """
        case .rngDraw:
            return """
                ; dlc_rng_draw(state, index): dlc_rng_mix(state + (index + 1) * 0x9E3779B97F4A7C15)
                \(head) i64 @\(rawValue)(i64 %state, i64 %index) #3 {
                entry:
                  %count = add i64 %index, 1
                  %step = mul i64 %count, \(Int64(bitPattern: 0x9E37_79B9_7F4A_7C15))  ; 0x9E3779B97F4A7C15
                  %z.0 = add i64 %state, %step
                  %s.30 = lshr i64 %z.0, 30
                  %x.1 = xor i64 %z.0, %s.30
                  %z.1 = mul i64 %x.1, \(Int64(bitPattern: 0xBF58_476D_1CE4_E5B9))  ; 0xBF58476D1CE4E5B9
                  %s.27 = lshr i64 %z.1, 27
                  %x.2 = xor i64 %z.1, %s.27
                  %z.2 = mul i64 %x.2, \(Int64(bitPattern: 0x94D0_49BB_1331_11EB))  ; 0x94D049BB133111EB
                  %s.31 = lshr i64 %z.2, 31
                  %mixed = xor i64 %z.2, %s.31
                  ret i64 %mixed
                }
                """
        }
    }
}
