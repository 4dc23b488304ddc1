/* dlc_device_host.c: the host device: tensors in host memory, GEMM and threads from OpenBLAS.
 *
 * The only runtime file that includes cblas.h or sets OpenBLAS's threads.
 *
 * Compiles to nothing under -DDLC_DEVICE_CUDA, where dlc_device_cuda.cu is the device. */
#ifndef DLC_DEVICE_CUDA
#include "dlc_runtime.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dlc_device_open(int index, int local_rank) {
    (void)local_rank;
    if (index > 0) dlc_die(2, "--device: this trainer runs on the host, device 0; got %d (a GPU needs --backend cuda)", index);
}

void dlc_device_close(void) {}

const char *dlc_device_name(void) { return "host"; }

int dlc_device_is_host(void) { return 1; }

/* OpenBLAS's own: joins its worker threads (a later multi-threaded call would start them
 * again). Weak, so that a BLAS without it links too. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void dlc_device_threads(int threads, int calls_blas) {
    if (threads <= 0 && calls_blas) return; /* OpenBLAS's default */
    int n = threads > 0 ? threads : 1;
    openblas_set_num_threads(n);
    /* OpenBLAS starts its workers when it loads, and an idle worker spins in sched_yield for
     * 2^28 clock ticks (about 0.1 s) before it sleeps, and again after every call it serves;
     * with one thread they never get work, so they go now rather than burn a core. */
    if (n == 1 && blas_thread_shutdown_) blas_thread_shutdown_();
}

/* ---- Memory ------------------------------------------------------------------------------- */

void *dlc_device_alloc(size_t bytes) {
    void *p = dlc_aligned_alloc(bytes);
    memset(p, 0, bytes);
    return p;
}

void dlc_device_free(void *p) { free(p); }

void dlc_device_zero(void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
}

void dlc_device_copy_in(void *dst, const void *src_host, size_t bytes) {
    if (bytes && dst != src_host) memmove(dst, src_host, bytes);
}

void dlc_device_copy_out(void *dst_host, const void *src, size_t bytes) {
    if (bytes && dst_host != src) memmove(dst_host, src, bytes);
}

/* Host memory is device memory: a copy ahead is done when it returns. */
void *dlc_device_host_alloc(size_t bytes) { return dlc_device_alloc(bytes); }

void dlc_device_host_free(void *p) { free(p); }

void dlc_device_copy_ahead(int slot, void *dst, const void *src_host, size_t bytes) {
    (void)slot;
    dlc_device_copy_in(dst, src_host, bytes);
}

void dlc_device_ahead_use(int slot) { (void)slot; }

void dlc_device_ahead_host_ready(int slot) { (void)slot; }

void dlc_device_sync(void) {}

int dlc_device_can_hold(size_t bytes) {
    (void)bytes;
    return 1; /* the data set is in this memory already */
}

/* ---- Work --------------------------------------------------------------------------------- */

void dlc_device_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, lda, b, ldb, beta, c, ldc);
}

void dlc_device_rows(void *dst, const void *src, const int64_t *order, int64_t start, int64_t count, size_t row_bytes) {
    for (int64_t i = 0; i < count; i++) {
        int64_t from = order ? order[start + i] : start + i;
        memcpy((char *)dst + (size_t)i * row_bytes, (const char *)src + (size_t)from * row_bytes, row_bytes);
    }
}

void dlc_device_scale_add(float *sum, const float *g, float mul, float div, int first, int64_t n) {
    for (int64_t i = 0; i < n; i++) sum[i] = (first ? 0.0f : sum[i]) + g[i] * mul / div;
}

static void sgd(const dlc_update *u, float *p, const float *grad, float *buf, int64_t n) {
    const float wd = u->weight_decay, mu = u->momentum, lr = u->lr;
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (wd != 0.0f) g = g + wd * p[i];
        if (mu != 0.0f) {
            buf[i] = u->first ? g : buf[i] * mu + g; /* dampening 0 */
            g = u->nesterov ? g + mu * buf[i] : buf[i];
        }
        p[i] = p[i] + -lr * g;
    }
}

static void adam(const dlc_update *u, float *p, const float *grad, float *m, float *v, int64_t n) {
    const float w1 = u->w1, beta2 = u->beta2, w2 = u->w2, eps = u->eps, wd = u->weight_decay;
    const float shrink = u->shrink, step_size = u->step_size, bc2_sqrt = u->bc2_sqrt;
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (u->decoupled) p[i] = p[i] * shrink;
        else if (wd != 0.0f) g = g + wd * p[i];
        /* exp_avg.lerp_(grad, 1 - beta1): torch's lerp switches formula at weight 0.5. */
        m[i] = w1 < 0.5f ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1);
        v[i] = v[i] * beta2 + w2 * g * g;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] = p[i] + -step_size * (m[i] / denom);
    }
}

static void adagrad(const dlc_update *u, float *p, const float *grad, float *sum, int64_t n) {
    const float lr = u->lr, eps = u->eps, wd = u->weight_decay;
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (wd != 0.0f) g = g + wd * p[i];
        sum[i] = sum[i] + g * g;
        p[i] = p[i] + -lr * (g / (sqrtf(sum[i]) + eps));
    }
}

void dlc_device_update(const dlc_update *u, float *params, const float *grads, float *slot0, float *slot1, int64_t n) {
    switch (u->kind) {
    case DLC_UPDATE_SGD: sgd(u, params, grads, slot0, n); break;
    case DLC_UPDATE_ADAM: adam(u, params, grads, slot0, slot1, n); break;
    case DLC_UPDATE_ADAGRAD: adagrad(u, params, grads, slot0, n); break;
    }
}

/* The host has no link of its own: MPI reaches host memory directly. */
int dlc_device_allreduce_sum(float *buf, int64_t n) {
    (void)buf;
    (void)n;
    return 0;
}

/* The runtime's own loop (dlc_metrics.c) reads host memory, which is this device's. */
void dlc_device_count(const dlc_count *c, const void *output, const void *target, double *sum) {
    dlc_count_host(c, output, target, sum);
}

#endif /* DLC_DEVICE_CUDA */
