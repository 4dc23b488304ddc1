/* dlc_device_host.c: the host device: tensors in host memory, GEMM from OpenBLAS on the trainer's
 * threads (dlc_sgemm, in dlc_host_gemm.c).
 *
 * The only runtime file that sets OpenBLAS's threads; with dlc_host_gemm.c, the only ones that
 * include cblas.h.
 *
 * Compiles to nothing under -DDLC_DEVICE_CUDA, where dlc_device_cuda.cu is the device. */
#ifndef DLC_DEVICE_CUDA
#include "dlc_runtime.h"
#include "dlc_update_rules.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own: joins its worker threads (a later multi-threaded call would start them
 * again). Weak, so that a BLAS without it links too. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

/* OpenBLAS's thread count as it loaded (OPENBLAS_NUM_THREADS, else the cores allowed): the
 * default --threads of a model that calls BLAS. 0 until dlc_device_open or dlc_device_threads. */
static int blas_default_threads;

/* dlc never runs OpenBLAS's own threads: it sets one (dlc_device_threads). OpenBLAS starts
 * its workers when it loads, and an idle worker spins in sched_yield for 2^28 clock ticks
 * (about 0.1 s) before it sleeps, and again after every call it serves; with one thread they
 * never get work, so they go before anything else (loading the data) rather than burn a core. */
static void stop_blas_threads(void) {
    if (!blas_default_threads) blas_default_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

void dlc_device_open(int index, int local_rank) {
    (void)local_rank;
    if (index > 0) dlc_die(2, "--device: this trainer runs on the host, device 0; got %d (a GPU needs --backend cuda)", index);
    stop_blas_threads();
}

void dlc_device_close(void) {}

const char *dlc_device_name(void) { return "host"; }

int dlc_device_is_host(void) { return 1; }

/* --threads N (or, without it, OpenBLAS's default count when the model calls BLAS; one thread
 * when it does not) is the count of the trainer's own threads (dlc_parallel.c), which split
 * the large GEMMs (dlc_sgemm) and optimizer updates. OpenBLAS itself runs on one thread: its
 * workers would compete with them. */
void dlc_device_threads(int threads, int calls_blas) {
    stop_blas_threads(); /* a no-op after dlc_device_open; the fuzzers set threads without it */
    dlc_parallel_init(threads > 0 ? threads : (calls_blas ? blas_default_threads : 1));
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
    for (int64_t i = 0; i < n; i++) dlc_accumulate_rule(sum, g, mul, div, first, i);
}

/* The element rules (dlc_update_rules.h) over n elements; u is the caller's copy, which no
 * store to the arrays can change, so the loops vectorise. */
static void sgd(dlc_update u, float *p, const float *grad, float *buf, int64_t n) {
    for (int64_t i = 0; i < n; i++) dlc_sgd_rule(u, p, grad, buf, i);
}

static void adam(dlc_update u, float *p, const float *grad, float *m, float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) dlc_adam_rule(u, p, grad, m, v, i);
}

static void adagrad(dlc_update u, float *p, const float *grad, float *sum, int64_t n) {
    for (int64_t i = 0; i < n; i++) dlc_adagrad_rule(u, p, grad, sum, i);
}

/* An update large enough (dlc_parallel_parts) is split across the trainer's threads, in blocks
 * of whole cache lines; each element's update reads only that element, so the result is the
 * same at any thread count. */
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
    const dlc_update u = *w->u;
    switch (u.kind) {
    case DLC_UPDATE_SGD: sgd(u, w->params + from, w->grads + from, s0, to - from); break;
    case DLC_UPDATE_ADAM: adam(u, w->params + from, w->grads + from, s0, s1, to - from); break;
    case DLC_UPDATE_ADAGRAD: adagrad(u, w->params + from, w->grads + from, s0, to - from); break;
    }
}

void dlc_device_update(const dlc_update *u, float *params, const float *grads, float *slot0, float *slot1, int64_t n) {
    update_split w = {u, params, slot0, slot1, grads, n};
    int64_t units = (n + UPDATE_SPLIT_UNIT - 1) / UPDATE_SPLIT_UNIT;
    dlc_parallel_for(units, dlc_parallel_parts(n), update_block, &w);
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
