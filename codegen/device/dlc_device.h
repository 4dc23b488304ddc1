/* dlc_device.h: where a trainer's tensors live, and the work the runtime asks of that place.
 *
 * Every tensor a step touches (params, gradients, optimizer state, the arena, a batch's rows,
 * the outputs) lives in device memory and is reached only through these calls; data loading,
 * checkpoints, the command line and progress work in host memory and cross over with
 * dlc_device_copy_in / dlc_device_copy_out. A trainer links exactly one implementation:
 *
 *     dlc_device_host.c   host memory; GEMM and threads from OpenBLAS (the default)
 *
 * A GPU device implements the same calls (cudaMalloc, cudaMemcpy, cuBLAS and a few kernels);
 * nothing else in the runtime changes. Pointers into device memory may be offset on the host
 * (p + i) and passed back to these calls, but only the device reads or writes through them.
 *
 * On a device whose memory is the host's (dlc_device_is_host), the runtime skips copies: it
 * hands the kernels host pointers in place (a batch of consecutive rows straight from the data
 * set) and reads params and outputs where they are. */
#ifndef DLC_DEVICE_H
#define DLC_DEVICE_H
#include <stddef.h>
#include <stdint.h>

/* ---- The device itself ------------------------------------------------------------------- */

/* Opens the device; called once, before any other call below. `index`: --device N, or -1 for
 * the default (in a process of an MPI job: local_rank modulo the devices present; a single
 * process: 0). `local_rank` is the process's rank among those on its machine (0 when alone).
 * Exits 1 with a message (dlc_die) when the device cannot be used. */
void dlc_device_open(int index, int local_rank);
/* Releases what dlc_device_open took (at the end of a command; nothing is called after it). */
void dlc_device_close(void);
/* For `info` and messages: "host", "cuda:0 (NVIDIA H100)". */
const char *dlc_device_name(void);
/* 1 when device memory is host memory (the runtime then passes host pointers in place). */
int dlc_device_is_host(void);
/* Threads for the device's own work: `threads` is --threads N (N >= 1), or 0 for the device's
 * default; `calls_blas` is 0 when no step of the command calls dlc_device_gemm or the BLAS
 * (the host then keeps one thread, whose idle workers would otherwise spin). */
void dlc_device_threads(int threads, int calls_blas);

/* ---- Memory ------------------------------------------------------------------------------- */

/* `bytes` of device memory, zero-filled, 64-byte aligned, at least one byte; exits 1 (out of
 * memory, naming the device) when it cannot. Free with dlc_device_free (NULL is fine). */
void *dlc_device_alloc(size_t bytes);
void dlc_device_free(void *p);
void dlc_device_zero(void *p, size_t bytes);
/* Host -> device and device -> host. dlc_device_copy_out returns when dst holds the bytes;
 * a copy in may still be under way when it returns (the host source stays valid until the
 * next dlc_device_sync or copy out). */
void dlc_device_copy_in(void *dst, const void *src_host, size_t bytes);
void dlc_device_copy_out(void *dst_host, const void *src, size_t bytes);
/* Waits until all work queued on the device is done. */
void dlc_device_sync(void);

/* Whether `bytes` more fit in device memory with room to spare for a step's own buffers: the
 * runtime then keeps a data set there and gathers each batch on the device. */
int dlc_device_can_hold(size_t bytes);

/* ---- Batches copied ahead (a data set that does not fit streams through these) -------------- */

/* `bytes` of host memory the device copies from fastest (page-locked on a GPU), zero-filled;
 * exits 1 when it cannot. Free with dlc_device_host_free (NULL is fine). */
void *dlc_device_host_alloc(size_t bytes);
void dlc_device_host_free(void *p);
/* Starts a host -> device copy that runs beside the work queued so far (on a GPU, on a copy
 * engine while the step computes), after that work is done with dst. `slot` (0 or 1) groups
 * the copies of one batch. src_host is from dlc_device_host_alloc and must not change until
 * dlc_device_ahead_host_ready(slot) returns. */
void dlc_device_copy_ahead(int slot, void *dst, const void *src_host, size_t bytes);
/* Work queued from now on runs after the copies started under `slot`. */
void dlc_device_ahead_use(int slot);
/* Returns when the copies started under `slot` are done: their host buffers may be rewritten. */
void dlc_device_ahead_host_ready(int slot);

/* ---- Work --------------------------------------------------------------------------------- */

/* Row i of dst = row (order ? order[start + i] : start + i) of src, for i < count; rows of
 * row_bytes bytes (a multiple of 4); dst and src in device memory, `order` in host memory
 * (valid until the next dlc_device_sync or copy out). A batch gathered from a data set kept on
 * the device. */
void dlc_device_rows(void *dst, const void *src, const int64_t *order, int64_t start, int64_t count, size_t row_bytes);

/* C = alpha * op(A) * op(B) + beta * C, row-major f32 (cblas_sgemm's CblasRowMajor meaning):
 * op(A) is m x k, op(B) is k x n, C is m x n; trans_a/trans_b 1 for the transpose. */
void dlc_device_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc);

/* sum[i] = (first ? 0 : sum[i]) + g[i] * mul / div for i < n, in f32, in that order (so that
 * mul = 1 gives g[i] / div exactly). Gradient accumulation (div = k) and a process's share of
 * a global batch (mul = its rows, div = the batch's rows); sum may be g. */
void dlc_device_scale_add(float *sum, const float *g, float mul, float div, int first, int64_t n);

/* One optimizer update of n floats, torch.optim's single-tensor formulas, with every scalar
 * already computed (in double, rounded to f32) by dlc_optim.c:
 *   SGD      g = grad + weight_decay * p; with momentum: buf = first ? g : buf * momentum + g,
 *            g = nesterov ? g + momentum * buf : buf;  p = p + -lr * g            (slot0 = buf)
 *   ADAM     decoupled: p = p * shrink, else g = grad + weight_decay * p;
 *            m = lerp(m, g, w1) (torch's two-sided lerp), v = v * beta2 + w2 * g * g,
 *            p = p + -step_size * (m / (sqrt(v) / bc2_sqrt + eps))       (slot0 = m, slot1 = v)
 *   ADAGRAD  g = grad + weight_decay * p; sum = sum + g * g; p = p + -lr * (g / (sqrt(sum) + eps))
 * A weight decay of 0 adds nothing (not even 0 * p, which would turn an infinite p into NaN). */
typedef enum { DLC_UPDATE_SGD, DLC_UPDATE_ADAM, DLC_UPDATE_ADAGRAD } dlc_update_kind;

typedef struct {
    dlc_update_kind kind;
    float lr;            /* sgd, adagrad */
    float weight_decay;  /* coupled: added to the gradient (sgd, adam, adagrad) */
    float momentum;      /* sgd; 0: no momentum buffer */
    int nesterov;        /* sgd */
    int first;           /* sgd: the first update (the momentum buffer starts as the gradient) */
    int decoupled;       /* adamw */
    float shrink;        /* adamw: 1 - lr * weight_decay */
    float step_size;     /* adam: lr / (1 - beta1^t) */
    float bc2_sqrt;      /* adam: sqrt(1 - beta2^t) */
    float w1;            /* adam: 1 - beta1 */
    float beta2, w2;     /* adam: beta2, 1 - beta2 */
    float eps;           /* adam, adagrad */
} dlc_update;

void dlc_device_update(const dlc_update *u, float *params, const float *grads, float *slot0, float *slot1, int64_t n);

/* ---- Across processes --------------------------------------------------------------------- */

/* The device's own link between the processes of a job (NCCL between GPUs): sums n floats of
 * device memory over every process, in place, and returns 1; returns 0 when the device has no
 * such link (the communicator then copies through host memory). Every process of the job calls
 * it together, after setup (the link is opened at the first call, so that a process failing
 * during setup cannot leave the others waiting in it). */
int dlc_device_allreduce_sum(float *buf, int64_t n);

/* One batch's part of a metric (dlc_metrics.c), counted where the outputs are, so that only
 * the sum comes back (once per evaluation):
 *   ARGMAX          items groups of `columns` output values: 1 for each whose first maximum
 *                   (NaN never wins) is the target's label (target: one value per group)
 *   ARGMAX_ONEHOT   the same against the first maximum of the target's group
 *   ABOVE           items elements: 1 where (output > cut) == (target > cut)
 *   SQUARED, ABSOLUTE   items elements: (output - target)^2, |output - target|
 * each term in double, added to *sum (device memory) in an order that is the same every run. */
typedef enum { DLC_COUNT_ARGMAX, DLC_COUNT_ARGMAX_ONEHOT, DLC_COUNT_ABOVE, DLC_COUNT_SQUARED, DLC_COUNT_ABSOLUTE } dlc_count_kind;

typedef struct {
    dlc_count_kind kind;
    int output_i32, target_i32;  /* element types: 0 f32, 1 i32 */
    int64_t items, columns;
    double cut;
} dlc_count;

void dlc_device_count(const dlc_count *c, const void *output, const void *target, double *sum);

#endif
