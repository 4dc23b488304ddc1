/* dlc_kernels.h: small scalar helpers that generated kernels call, with the semantics of the
 * reference interpreter (Sources/Interpreter): PyTorch's NaN propagation and kinks, Python's
 * integer division, and i32 arithmetic that wraps instead of overflowing. Under nvcc they are
 * `__host__ __device__`: the CUDA backend's kernels call the same definitions.
 *
 * The helper of an elementwise op NAME (Sources/IR/Op.swift) that a printer has no special
 * form for is dlc_NAME for f32 and dlc_NAME_i32 for i32: the C printer calls it by that name,
 * and the LLVM backend through an external copy its C descriptor defines. */
#ifndef DLC_KERNELS_H
#define DLC_KERNELS_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define DLC_HD static inline __host__ __device__
#else
#define DLC_HD static inline
#endif

/* NaN-propagating maximum / minimum, like torch.maximum. */
DLC_HD float dlc_maxf(float a, float b) { return (a != a || a > b) ? a : (b != b ? b : (a == b ? a : b)); }
DLC_HD float dlc_minf(float a, float b) { return (a != a || a < b) ? a : (b != b ? b : (a == b ? a : b)); }
DLC_HD float dlc_relu(float x) { return x > 0.0f ? x : (x != x ? x : 0.0f); }
DLC_HD float dlc_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
DLC_HD float dlc_signf(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? x : 0.0f)); }

/* i32 arithmetic modulo 2^32, as the interpreter defines it (signed overflow is undefined in C). */
DLC_HD int32_t dlc_add_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
DLC_HD int32_t dlc_sub_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
DLC_HD int32_t dlc_mul_i32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }
DLC_HD int32_t dlc_neg_i32(int32_t a) { return (int32_t)(0u - (uint32_t)a); }
DLC_HD int32_t dlc_abs_i32(int32_t a) { return a < 0 ? dlc_neg_i32(a) : a; }
DLC_HD int32_t dlc_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
DLC_HD int32_t dlc_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* Python's // and % (the result of % takes the divisor's sign); division by zero gives 0
 * here, and is reported by the interpreter. */
DLC_HD int32_t dlc_floordiv_i32(int32_t a, int32_t b) {
    if (b == 0) return 0;
    if (b == -1) return dlc_neg_i32(a);
    int32_t q = a / b;
    return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}
DLC_HD int32_t dlc_mod_i32(int32_t a, int32_t b) {
    if (b == 0 || b == -1) return 0;
    int32_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

/* f32 -> i32 toward zero, saturating instead of undefined outside the range. */
DLC_HD int32_t dlc_to_i32(float x) {
    if (x != x) return 0;
    if (x >= 2147483647.0f) return INT32_MAX;
    if (x <= -2147483648.0f) return INT32_MIN;
    return (int32_t)x;
}
#endif
