/* dlc_device_host.c: the host device: tensors in host memory, GEMM from OpenBLAS on the trainer's
 * threads (dlc_sgemm).
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

/* --threads N (or, without it, OpenBLAS's default count when the model calls BLAS; one thread
 * when it does not) is the count of the trainer's own threads (dlc_parallel.c), which split
 * the large GEMMs (dlc_sgemm) and optimizer updates. OpenBLAS itself runs on one thread: its
 * workers would compete with them. */
void dlc_device_threads(int threads, int calls_blas) {
    int n = threads > 0 ? threads : (calls_blas ? openblas_get_num_threads() : 1);
    dlc_parallel_init(n);
    openblas_set_num_threads(1);
    /* OpenBLAS starts its workers when it loads, and an idle worker spins in sched_yield for
     * 2^28 clock ticks (about 0.1 s) before it sleeps, and again after every call it serves;
     * with one thread they never get work, so they go now rather than burn a core. */
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

/* ---- GEMM on the trainer's threads -------------------------------------------------------- */

/* A product with fewer multiply-adds (m·n·k) runs on the calling thread: below this, waking a
 * worker and packing the shared operand twice costs about what the second core saves. */
#define GEMM_SPLIT_WORK (1L << 18)
/* Blocks of C split at multiples of this many rows or columns (OpenBLAS's register tiles). */
#define GEMM_SPLIT_UNIT 16

typedef struct {
    int split_rows; /* 1: blocks of M (rows of C and of op(A)); 0: blocks of N */
    int rows, cols; /* the whole M and N */
    int trans_a, trans_b, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_split;

static void gemm_block(void *ctx, int64_t begin, int64_t end, int part) {
    (void)part;
    const gemm_split *g = ctx;
    int whole = g->split_rows ? g->rows : g->cols;
    int from = (int)(begin * GEMM_SPLIT_UNIT), to = (int)(end * GEMM_SPLIT_UNIT);
    if (to > whole) to = whole;
    enum CBLAS_TRANSPOSE ta = g->trans_a ? CblasTrans : CblasNoTrans, tb = g->trans_b ? CblasTrans : CblasNoTrans;
    if (g->split_rows) { /* rows from..to of op(A) and C */
        const float *a = g->trans_a ? g->a + from : g->a + (size_t)from * g->lda;
        cblas_sgemm(CblasRowMajor, ta, tb, to - from, g->cols, g->k, g->alpha, a, g->lda, g->b, g->ldb, g->beta,
                    g->c + (size_t)from * g->ldc, g->ldc);
    } else { /* columns from..to of op(B) and C */
        const float *b = g->trans_b ? g->b + (size_t)from * g->ldb : g->b + from;
        cblas_sgemm(CblasRowMajor, ta, tb, g->rows, to - from, g->k, g->alpha, g->a, g->lda, b, g->ldb, g->beta,
                    g->c + from, g->ldc);
    }
}

/* Each block of C is computed by one single-threaded OpenBLAS call over the whole k. Blocks of
 * rows (each thread a contiguous part of C and of op(A), all of op(B)) unless M is the smallest
 * of M, N, K: then op(B) is the largest matrix, and blocks of columns give each thread only its
 * part of it (measured with OpenBLAS 0.3.21 on the shapes of bench (a): the forward 64×512×784
 * product takes 263 µs in row blocks and 206 µs in column blocks on 2 threads, the weight
 * gradient 512×784×64 160 µs in row blocks and 252 µs in column blocks, against 388 µs and
 * 286 µs on one). The choice and the blocks depend only on the shape and the thread count. */
void dlc_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
    int threads = dlc_parallel_threads();
    int ta = trans_a == CblasTrans, tb = trans_b == CblasTrans;
    if (order != CblasRowMajor || threads <= 1 || (int64_t)m * n * k < GEMM_SPLIT_WORK) {
        cblas_sgemm((enum CBLAS_ORDER)order, (enum CBLAS_TRANSPOSE)trans_a, (enum CBLAS_TRANSPOSE)trans_b, m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int split_rows = !(m < n && m < k);
    if ((split_rows ? m : n) < 2 * GEMM_SPLIT_UNIT) split_rows = !split_rows; /* too few blocks that way */
    gemm_split g = {split_rows, m, n, ta, tb, k, lda, ldb, ldc, alpha, beta, a, b, c};
    int units = ((g.split_rows ? m : n) + GEMM_SPLIT_UNIT - 1) / GEMM_SPLIT_UNIT;
    dlc_parallel_for(units, threads, gemm_block, &g);
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

void dlc_device_sync(void) {}

int dlc_device_can_hold(size_t bytes) {
    (void)bytes;
    return 1; /* the data set is in this memory already */
}

/* ---- Work --------------------------------------------------------------------------------- */

void dlc_device_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    dlc_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, lda, b, ldb, beta, c, ldc);
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

/* An update of at least this many elements is split across the trainer's threads, in blocks
 * of whole cache lines; each element's update reads only that element, so the result is the
 * same at any thread count. */
#define UPDATE_SPLIT_ELEMENTS (1L << 15)
#define UPDATE_SPLIT_UNIT 64

typedef struct {
    const dlc_update *u;
    float *params, *slot0, *slot1;
    const float *grads;
    int64_t n;
} update_split;

static void update_block(void *ctx, int64_t begin, int64_t end, int part) {
    (void)part;
    const update_split *w = ctx;
    int64_t from = begin * UPDATE_SPLIT_UNIT, to = end * UPDATE_SPLIT_UNIT;
    if (to > w->n) to = w->n;
    float *s0 = w->slot0 ? w->slot0 + from : NULL, *s1 = w->slot1 ? w->slot1 + from : NULL;
    switch (w->u->kind) {
    case DLC_UPDATE_SGD: sgd(w->u, w->params + from, w->grads + from, s0, to - from); break;
    case DLC_UPDATE_ADAM: adam(w->u, w->params + from, w->grads + from, s0, s1, to - from); break;
    case DLC_UPDATE_ADAGRAD: adagrad(w->u, w->params + from, w->grads + from, s0, to - from); break;
    }
}

void dlc_device_update(const dlc_update *u, float *params, const float *grads, float *slot0, float *slot1, int64_t n) {
    update_split w = {u, params, slot0, slot1, grads, n};
    int threads = dlc_parallel_threads();
    if (threads > 1 && n >= UPDATE_SPLIT_ELEMENTS)
        dlc_parallel_for((n + UPDATE_SPLIT_UNIT - 1) / UPDATE_SPLIT_UNIT, threads, update_block, &w);
    else
        update_block(&w, 0, (n + UPDATE_SPLIT_UNIT - 1) / UPDATE_SPLIT_UNIT, 0);
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
