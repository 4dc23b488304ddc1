/* dlc_device_cuda.cu: the CUDA device (codegen/dlc_device.h): params, gradients, optimizer
 * state, the arena and each batch's rows in GPU memory; products through cuBLAS; gradient
 * accumulation and the optimizer updates as kernels. It shares the context of the generated
 * entries (dlc_cuda_context.cu: one stream, one cuBLAS handle), so that every step's work is
 * ordered on one stream and the host waits only where a value comes back (the loss, once per
 * step; outputs, params and optimizer state when the runtime copies them out).
 *
 * The updates and the gradient accumulation are the element rules the host runs too
 * (dlc_update_rules.h, with CUDA's unfused roundings); each element is one thread's, so an
 * update is deterministic.
 *
 * Built with -DDLC_CUDA_NCCL (dlc compile --backend cuda --mpi, when NCCL is found beside nvcc),
 * the processes of an MPI job sum their gradients GPU to GPU with NCCL on the step's stream;
 * MPI only hands NCCL its unique id. Without it they go through host memory by MPI. */
#include "dlc_cuda.h"

#include <stdarg.h>
#include <string.h>
#ifdef DLC_CUDA_NCCL
#include <nccl.h>
#endif

extern "C" {
#include "dlc_comm.h"
#include "dlc_device.h"
#include "dlc_count_item.h"
#include "dlc_update_rules.h"
[[noreturn]] void dlc_die(int code, const char *fmt, ...);
}

static char device_name[320];
#ifdef DLC_CUDA_NCCL
static ncclComm_t nccl; /* the job's NCCL link, opened at the first all-reduce */
#endif

extern "C" void dlc_device_open(int index, int local_rank) {
    int count = 0;
    if (index < 0) {
        /* One GPU per process of a machine, in turn, when --device is not given. */
        index = cudaGetDeviceCount(&count) == cudaSuccess && count > 0 ? local_rank % count : 0;
    }
    dlc_cuda_context *c = dlc_cuda_open(index);
    cudaDeviceProp prop;
    dlc_cuda_check(cudaGetDeviceProperties(&prop, c->device), "cudaGetDeviceProperties");
    snprintf(device_name, sizeof device_name, "cuda:%d (%s)", c->device, prop.name);
}

extern "C" void dlc_device_close(void) {
    dlc_cuda_check(cudaStreamSynchronize(dlc_cuda_get()->stream), "the last step");
#ifdef DLC_CUDA_NCCL
    if (nccl) ncclCommDestroy(nccl);
#endif
}

extern "C" const char *dlc_device_name(void) { return device_name; }

extern "C" int dlc_device_is_host(void) { return 0; }

/* The GPU's work needs no host threads; the host's BLAS is never called. */
extern "C" void dlc_device_threads(int threads, int calls_blas) {
    (void)threads;
    (void)calls_blas;
}

/* ---- Memory ------------------------------------------------------------------------------- */

extern "C" void *dlc_device_alloc(size_t bytes) {
    dlc_cuda_context *c = dlc_cuda_get();
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation) {
        size_t free_bytes = 0, total = 0;
        cudaGetLastError();
        cudaMemGetInfo(&free_bytes, &total);
        dlc_die(1, "out of GPU memory: %zu more bytes do not fit on %s (%zu MiB free of %zu MiB)", bytes, device_name,
                free_bytes >> 20, total >> 20);
    }
    dlc_cuda_check(e, "cudaMalloc");
    dlc_cuda_check(cudaMemsetAsync(p, 0, bytes ? bytes : 1, c->stream), "cudaMemsetAsync");
    return p;
}

extern "C" void dlc_device_free(void *p) {
    if (!p) return;
    dlc_cuda_check(cudaStreamSynchronize(dlc_cuda_get()->stream), "cudaStreamSynchronize");
    dlc_cuda_check(cudaFree(p), "cudaFree");
}

extern "C" void dlc_device_zero(void *p, size_t bytes) {
    if (bytes) dlc_cuda_check(cudaMemsetAsync(p, 0, bytes, dlc_cuda_get()->stream), "cudaMemsetAsync");
}

extern "C" void dlc_device_copy_in(void *dst, const void *src_host, size_t bytes) {
    if (bytes) dlc_cuda_check(cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, dlc_cuda_get()->stream), "copying to the GPU");
}

extern "C" void dlc_device_copy_out(void *dst_host, const void *src, size_t bytes) {
    if (!bytes) return;
    cudaStream_t s = dlc_cuda_get()->stream;
    dlc_cuda_check(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, s), "copying from the GPU");
    dlc_cuda_check(cudaStreamSynchronize(s), "copying from the GPU");
}

/* Copies ahead run on a stream of their own, so that a batch's rows cross while the step before
 * it computes. The events order the two streams: `ahead` after each slot's copies (the step
 * stream waits on it before the step that reads them), `reads` on the step stream before a copy
 * ahead (the copy waits until the steps queued before it are done with its buffer). */
static cudaStream_t ahead_stream;
static cudaEvent_t ahead_done[2], steps_done;

static void ahead_open(void) {
    if (ahead_stream) return;
    dlc_cuda_get();
    dlc_cuda_check(cudaStreamCreateWithFlags(&ahead_stream, cudaStreamNonBlocking), "cudaStreamCreate (copies ahead)");
    for (int s = 0; s < 2; s++) dlc_cuda_check(cudaEventCreateWithFlags(&ahead_done[s], cudaEventDisableTiming), "cudaEventCreate");
    dlc_cuda_check(cudaEventCreateWithFlags(&steps_done, cudaEventDisableTiming), "cudaEventCreate");
}

extern "C" void *dlc_device_host_alloc(size_t bytes) {
    dlc_cuda_get();
    void *p = NULL;
    if (cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        dlc_die(1, "out of page-locked host memory: %zu bytes for a batch's rows", bytes);
    }
    memset(p, 0, bytes ? bytes : 1);
    return p;
}

extern "C" void dlc_device_host_free(void *p) {
    if (!p) return;
    dlc_device_sync();
    if (ahead_stream) dlc_cuda_check(cudaStreamSynchronize(ahead_stream), "cudaStreamSynchronize (copies ahead)");
    dlc_cuda_check(cudaFreeHost(p), "cudaFreeHost");
}

extern "C" void dlc_device_copy_ahead(int slot, void *dst, const void *src_host, size_t bytes) {
    if (!bytes) return;
    ahead_open();
    dlc_cuda_check(cudaEventRecord(steps_done, dlc_cuda_get()->stream), "cudaEventRecord");
    dlc_cuda_check(cudaStreamWaitEvent(ahead_stream, steps_done, 0), "cudaStreamWaitEvent");
    dlc_cuda_check(cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, ahead_stream), "copying a batch to the GPU");
    dlc_cuda_check(cudaEventRecord(ahead_done[slot & 1], ahead_stream), "cudaEventRecord");
}

extern "C" void dlc_device_ahead_use(int slot) {
    if (!ahead_stream) return;
    dlc_cuda_check(cudaStreamWaitEvent(dlc_cuda_get()->stream, ahead_done[slot & 1], 0), "cudaStreamWaitEvent");
}

extern "C" void dlc_device_ahead_host_ready(int slot) {
    if (ahead_stream) dlc_cuda_check(cudaEventSynchronize(ahead_done[slot & 1]), "a batch's copy to the GPU");
}

extern "C" void dlc_device_sync(void) { dlc_cuda_check(cudaStreamSynchronize(dlc_cuda_get()->stream), "cudaStreamSynchronize"); }

/* A data set stays on the GPU when it takes at most half of the memory free now: the rest is
 * room for the steps' buffers and cuBLAS. DLC_CUDA_STREAM=1 in the environment streams every
 * data set (scripts/gpu-check.sh compares the two ways). */
extern "C" int dlc_device_can_hold(size_t bytes) {
    dlc_cuda_get();
    const char *stream = getenv("DLC_CUDA_STREAM");
    if (stream && strcmp(stream, "1") == 0) return 0;
    size_t free_bytes = 0, total = 0;
    dlc_cuda_check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo");
    return bytes <= free_bytes / 2;
}

/* ---- Work --------------------------------------------------------------------------------- */

/* Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ. */
extern "C" void dlc_device_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                                const float *b, int ldb, float beta, float *c, int ldc) {
    dlc_cuda_context *x = dlc_cuda_get();
    DLC_CUBLAS(cublasSgemm(x->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                           &alpha, b, ldb, a, lda, &beta, c, ldc));
}

/* The grid-stride loop of the element kernels below. */
#define DLC_EACH(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* One 4-byte word per thread and step of the grid-stride loop; `order` holds the batch's rows. */
__global__ void dlc_rows_kernel(uint32_t *dst, const uint32_t *src, const int64_t *order, int64_t start, int64_t count,
                                int64_t words) {
    DLC_EACH(i, count * words) {
        int64_t row = i / words, from = order ? order[row] : start + row;
        dst[i] = src[from * words + i % words];
    }
}

/* The batch's part of an order, on the GPU (grown as needed; the copy is ordered on the stream
 * before the kernel that reads it, and after the kernel that read its previous contents). */
static int64_t *device_order;
static int64_t device_order_cap;

extern "C" void dlc_device_rows(void *dst, const void *src, const int64_t *order, int64_t start, int64_t count,
                                size_t row_bytes) {
    if (count <= 0) return;
    cudaStream_t s = dlc_cuda_get()->stream;
    const int64_t *rows = NULL;
    if (order) {
        if (count > device_order_cap) {
            dlc_device_free(device_order);
            device_order = (int64_t *)dlc_device_alloc((size_t)count * sizeof(int64_t));
            device_order_cap = count;
        }
        dlc_device_copy_in(device_order, order + start, (size_t)count * sizeof(int64_t));
        rows = device_order;
    }
    int64_t words = (int64_t)(row_bytes / 4);
    DLC_LAUNCH(dlc_rows_kernel, dlc_blocks(count * words, DLC_THREADS), DLC_THREADS, s, (uint32_t *)dst,
               (const uint32_t *)src, rows, start, count, words);
    dlc_cuda_check(cudaGetLastError(), "the batch gather kernel");
}

__global__ void dlc_scale_add_kernel(float *sum, const float *g, float mul, float div, int first, int64_t n) {
    DLC_EACH(i, n) dlc_accumulate_rule(sum, g, mul, div, first, i);
}

extern "C" void dlc_device_scale_add(float *sum, const float *g, float mul, float div, int first, int64_t n) {
    if (n <= 0) return;
    DLC_LAUNCH(dlc_scale_add_kernel, dlc_blocks(n, DLC_THREADS), DLC_THREADS, dlc_cuda_get()->stream, sum, g, mul, div,
               first, n);
    dlc_cuda_check(cudaGetLastError(), "the gradient accumulation kernel");
}

__global__ void dlc_sgd_kernel(dlc_update u, float *p, const float *grad, float *buf, int64_t n) {
    DLC_EACH(i, n) dlc_sgd_rule(u, p, grad, buf, i);
}

__global__ void dlc_adam_kernel(dlc_update u, float *p, const float *grad, float *m, float *v, int64_t n) {
    DLC_EACH(i, n) dlc_adam_rule(u, p, grad, m, v, i);
}

__global__ void dlc_adagrad_kernel(dlc_update u, float *p, const float *grad, float *sum, int64_t n) {
    DLC_EACH(i, n) dlc_adagrad_rule(u, p, grad, sum, i);
}

extern "C" void dlc_device_update(const dlc_update *u, float *params, const float *grads, float *slot0, float *slot1,
                                  int64_t n) {
    if (n <= 0) return;
    cudaStream_t s = dlc_cuda_get()->stream;
    unsigned blocks = dlc_blocks(n, DLC_THREADS);
    switch (u->kind) {
    case DLC_UPDATE_SGD: DLC_LAUNCH(dlc_sgd_kernel, blocks, DLC_THREADS, s, *u, params, grads, slot0, n); break;
    case DLC_UPDATE_ADAM: DLC_LAUNCH(dlc_adam_kernel, blocks, DLC_THREADS, s, *u, params, grads, slot0, slot1, n); break;
    case DLC_UPDATE_ADAGRAD: DLC_LAUNCH(dlc_adagrad_kernel, blocks, DLC_THREADS, s, *u, params, grads, slot0, n); break;
    }
    dlc_cuda_check(cudaGetLastError(), "the optimizer kernel");
}

/* ---- Across processes --------------------------------------------------------------------- */

#ifdef DLC_CUDA_NCCL
static void nccl_check(ncclResult_t r, const char *what) {
    if (r != ncclSuccess) dlc_die(1, "NCCL: %s failed: %s", what, ncclGetErrorString(r));
}

/* One GPU per process: rank 0 makes the job's unique id, MPI broadcasts it, and every process
 * joins with its own GPU (the one dlc_device_open chose). */
static void nccl_open(void) {
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (dlc_comm_rank() == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    dlc_comm_broadcast(&id, sizeof id, 0);
    nccl_check(ncclCommInitRank(&nccl, dlc_comm_size(), id, dlc_comm_rank()), "ncclCommInitRank");
}

extern "C" int dlc_device_allreduce_sum(float *buf, int64_t n) {
    if (dlc_comm_size() < 2) return 0;
    if (!nccl) nccl_open();
    nccl_check(ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, nccl, dlc_cuda_get()->stream), "ncclAllReduce");
    return 1;
}
#else
extern "C" int dlc_device_allreduce_sum(float *buf, int64_t n) {
    (void)buf;
    (void)n;
    return 0;
}
#endif

/* ---- Metrics ------------------------------------------------------------------------------ */

/* One block: each thread adds its strided share of the items in order, a fixed tree adds the
 * threads' sums, and thread 0 adds the batch's total to *sum (no atomics: the same bits each run). */
__global__ void dlc_count_kernel(dlc_count c, const void *out, const void *tgt, double *sum) {
    double part = 0.0;
    for (int64_t g = threadIdx.x; g < c.items; g += blockDim.x) part += dlc_count_item(&c, out, tgt, g);
    double total = dlc_block_reduce(part, dlc_sum_op(), 0.0);
    if (threadIdx.x == 0) *sum += total;
}

extern "C" void dlc_device_count(const dlc_count *c, const void *output, const void *target, double *sum) {
    if (c->items <= 0) return;
    DLC_LAUNCH(dlc_count_kernel, 1, DLC_THREADS, dlc_cuda_get()->stream, *c, output, target, sum);
    dlc_cuda_check(cudaGetLastError(), "the metric kernel");
}
