/* dlc_update_rules.h: one element of an optimizer update (dlc_update, dlc_device.h) and of the
 * gradient accumulation, defined once for both devices: the host's loops (dlc_device_host.c,
 * split over the trainer's threads) and the CUDA device's grid-stride kernels
 * (dlc_device_cuda.cu) call these (DLC_HD: __host__ __device__ under nvcc).
 *
 * Every f32 operation goes through a helper that says how it is rounded:
 *   dlc_rn_add, dlc_rn_sub, dlc_rn_mul, dlc_rn_div   one rounding each, on every device;
 *   dlc_add_mul(c, a, b) = c + a * b, dlc_sub_mul(c, a, b) = c - a * b   one rounding (an FMA)
 *       on a host with FMA instructions, two on the GPU (below).
 * On the GPU (and in its CPU emulation, dlc_cuda_emulation.h) every helper is CUDA's
 * __f*_rn intrinsics, which nvcc never fuses: two roundings in dlc_add_mul and dlc_sub_mul.
 * On a host with FMA instructions (x86 with FMA under the runtime's -march=native, AArch64),
 * dlc_add_mul and dlc_sub_mul are fmaf, one rounding, whichever C compiler builds the runtime:
 * left to the compiler, clang contracted them (-ffp-contract=on, its default) and gcc in ISO
 * mode (-std=c11) did not, so the runtime of an MPI trainer, built by mpicc (gcc on Debian),
 * updated params in the last bits unlike the same trainer without --mpi. fmaf gives exactly
 * what clang's contraction gave (the checkpoints of every optimizer equal with cmp), and the
 * loops still vectorise (vfmadd*). Without FMA instructions they are two roundings everywhere.
 * The other helpers are single operations: a product passed to dlc_rn_add is never fused (a
 * compiler contracts only within one expression). So a host trainer and a GPU may differ in
 * the last bits of an update; the tests compare them within tolerances. */
#ifndef DLC_UPDATE_RULES_H
#define DLC_UPDATE_RULES_H
#include <math.h>
#include <stdint.h>

#include "dlc_device.h"
#include "dlc_kernels.h"

#if defined(__CUDA_ARCH__) || defined(DLC_CUDA_EMULATION_H)
DLC_HD float dlc_rn_add(float a, float b) { return __fadd_rn(a, b); }
DLC_HD float dlc_rn_sub(float a, float b) { return __fsub_rn(a, b); }
DLC_HD float dlc_rn_mul(float a, float b) { return __fmul_rn(a, b); }
DLC_HD float dlc_rn_div(float a, float b) { return __fdiv_rn(a, b); }
DLC_HD float dlc_add_mul(float c, float a, float b) { return __fadd_rn(c, __fmul_rn(a, b)); }
DLC_HD float dlc_sub_mul(float c, float a, float b) { return __fsub_rn(c, __fmul_rn(a, b)); }
#else
DLC_HD float dlc_rn_add(float a, float b) { return a + b; }
DLC_HD float dlc_rn_sub(float a, float b) { return a - b; }
DLC_HD float dlc_rn_mul(float a, float b) { return a * b; }
DLC_HD float dlc_rn_div(float a, float b) { return a / b; }
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
DLC_HD float dlc_add_mul(float c, float a, float b) { return fmaf(a, b, c); }
DLC_HD float dlc_sub_mul(float c, float a, float b) { return fmaf(-a, b, c); }
#else
DLC_HD float dlc_add_mul(float c, float a, float b) { return dlc_rn_add(c, dlc_rn_mul(a, b)); }
DLC_HD float dlc_sub_mul(float c, float a, float b) { return dlc_rn_sub(c, dlc_rn_mul(a, b)); }
#endif
#endif

/* Element i of each rule. A slot an update does not use (SGD's without momentum) may be NULL. */

/* The accumulated gradient: sum (or 0 at the first batch) + g * mul / div. */
DLC_HD void dlc_accumulate_rule(float *sum, const float *g, float mul, float div, int first, int64_t i) {
    sum[i] = dlc_rn_add(first ? 0.0f : sum[i], dlc_rn_div(dlc_rn_mul(g[i], mul), div));
}

/* SGD (slot buf: the momentum buffer; dampening 0). */
DLC_HD void dlc_sgd_rule(dlc_update u, float *p, const float *grad, float *buf, int64_t i) {
    float g = grad[i];
    if (u.weight_decay != 0.0f) g = dlc_add_mul(g, u.weight_decay, p[i]);
    if (u.momentum != 0.0f) {
        buf[i] = u.first ? g : dlc_add_mul(g, buf[i], u.momentum);
        g = u.nesterov ? dlc_add_mul(g, u.momentum, buf[i]) : buf[i];
    }
    p[i] = dlc_add_mul(p[i], -u.lr, g);
}

/* Adam and AdamW (slots m: exp_avg, v: exp_avg_sq). */
DLC_HD void dlc_adam_rule(dlc_update u, float *p, const float *grad, float *m, float *v, int64_t i) {
    float g = grad[i];
    if (u.decoupled) p[i] = dlc_rn_mul(p[i], u.shrink);
    else if (u.weight_decay != 0.0f) g = dlc_add_mul(g, u.weight_decay, p[i]);
    /* exp_avg.lerp_(grad, 1 - beta1): torch's lerp switches formula at weight 0.5. */
    m[i] = u.w1 < 0.5f ? dlc_add_mul(m[i], u.w1, dlc_rn_sub(g, m[i]))
                       : dlc_sub_mul(g, dlc_rn_sub(g, m[i]), dlc_rn_sub(1.0f, u.w1));
    v[i] = dlc_add_mul(dlc_rn_mul(dlc_rn_mul(u.w2, g), g), v[i], u.beta2);
    float denom = dlc_rn_add(dlc_rn_div(sqrtf(v[i]), u.bc2_sqrt), u.eps);
    p[i] = dlc_add_mul(p[i], -u.step_size, dlc_rn_div(m[i], denom));
}

/* Adagrad (slot sum: the sum of squared gradients). */
DLC_HD void dlc_adagrad_rule(dlc_update u, float *p, const float *grad, float *sum, int64_t i) {
    float g = grad[i];
    if (u.weight_decay != 0.0f) g = dlc_add_mul(g, u.weight_decay, p[i]);
    sum[i] = dlc_add_mul(sum[i], g, g);
    p[i] = dlc_add_mul(p[i], -u.lr, dlc_rn_div(g, dlc_rn_add(sqrtf(sum[i]), u.eps)));
}
#endif
