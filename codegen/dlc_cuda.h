/* dlc_cuda.h: what a generated .cu file (the CUDA backend) includes: the CUDA runtime and
 * cuBLAS, or their CPU emulation when DLC_CUDA_EMULATE is defined (dlc_cuda_emulation.h); the
 * one launch macro; the device helpers the kernels share (block reductions over warp shuffles
 * and shared memory, the dropout draw, index faults); and the context every entry runs in
 * (dlc_cuda_context.cu): the stream, the cuBLAS handle, the step's scalars on the device and the
 * CUDA Graphs of the train steps.
 *
 * Determinism: no kernel uses float atomics. A reduction gives each output to one thread or
 * one block, which adds in a fixed order (each thread its strided share, then a fixed tree of
 * warp shuffles and shared memory), so a step on the same data gives the same bits every time
 * on the same GPU and launch configuration. */
#ifndef DLC_CUDA_H
#define DLC_CUDA_H
#ifdef DLC_CUDA_EMULATE
#include "dlc_cuda_emulation.h"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define DLC_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "dlc_kernels.h"
#include "dlc_model.h"

/* Threads per block of the elementwise kernels, and the most blocks a grid-stride loop uses. */
#define DLC_THREADS 256
#define DLC_MAX_BLOCKS 4096

/* Blocks for `count` items at `threads` per block, at least 1 (grid-stride loops do the rest). */
static inline unsigned dlc_blocks(int64_t count, int threads) {
    int64_t b = (count + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > DLC_MAX_BLOCKS ? DLC_MAX_BLOCKS : b);
}

/* Threads of a block that reduces `length` elements per output: a power of two, 32..256. */
static inline int dlc_reduce_threads(int64_t length) {
    int t = 32;
    while (t < 256 && t < length) t *= 2;
    return t;
}

/* ---- Reductions (deterministic: a fixed tree, no atomics) ------------------------------------ */

struct dlc_sum_op {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct dlc_max_op {
    __device__ __forceinline__ float operator()(float a, float b) const { return dlc_maxf(a, b); }
    __device__ __forceinline__ int32_t operator()(int32_t a, int32_t b) const { return dlc_max_i32(a, b); }
};
struct dlc_wrapping_sum_op {
    __device__ __forceinline__ int32_t operator()(int32_t a, int32_t b) const { return dlc_add_i32(a, b); }
};

/* The combination of the 32 lanes' values, in lane 0 (a tree of shuffles). */
template <typename T, typename Op> __device__ __forceinline__ T dlc_warp_reduce(T v, Op op) {
    for (int d = 16; d > 0; d /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, d));
    return v;
}

/* The combination of every thread's value, returned to every thread of the block (blockDim.x
 * a multiple of 32, at most 1024). Every thread of the block must call it. */
template <typename T, typename Op> __device__ T dlc_block_reduce(T v, Op op, T identity) {
    __shared__ T partial[32];
    __shared__ T result;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = dlc_warp_reduce(v, op);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? partial[lane] : identity;
        v = dlc_warp_reduce(v, op);
        if (lane == 0) result = v;
    }
    __syncthreads();
    v = result;
    __syncthreads(); /* every thread has read `result` before a next call writes it */
    return v;
}

/* Whether element (a, ia) is the first maximum rather than (b, ib), as a scan in index order
 * decides: a NaN beats a number, then the larger value, then the lower index. */
__device__ __forceinline__ bool dlc_first_max_wins(float a, int64_t ia, float b, int64_t ib) {
    bool a_nan = a != a, b_nan = b != b;
    if (a_nan || b_nan) return a_nan && (!b_nan || ia < ib);
    return a > b || (a == b && ia < ib);
}

/* ---- Random numbers (docs/rng.md) -------------------------------------------------------- */

/* Dropout masks are counter-based: a thread computes its element's draw on its own with
 * dlc_dropout_unit (dlc_rng.h, host and device) from the step's epoch key and first row. */

/* ---- The context ----------------------------------------------------------------------------- */

/* The scalars of one step, in device memory: kernels and cuBLAS read them there, so a captured
 * graph replays with each step's values. */
typedef struct {
    float lr;                  /* the learning rate (sgd entry) */
    float neg_lr;              /* minus it: alpha of an SGD update's product */
    float one, zero;           /* cuBLAS scalars of the device pointer mode */
    unsigned long long dropout_epoch_key; /* the step's dlc_dropout (docs/rng.md, "Dropout") */
    long long dropout_first_row;
    long long global_n;        /* the step's global_n: counts over the global batch */
} dlc_cuda_step_args;

/* An index out of range, seen by a kernel: the first one is kept, and reported after the step. */
typedef struct {
    int flag;
    int place;                 /* index into the entry's place names */
    long long index, size;
} dlc_cuda_fault;

__device__ __forceinline__ void dlc_cuda_index_fault(dlc_cuda_fault *f, int place, long long index, long long size) {
    if (atomicCAS(&f->flag, 0, 1) == 0) {
        f->place = place;
        f->index = index;
        f->size = size;
    }
}

typedef struct dlc_cuda_graphs dlc_cuda_graphs;

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    dlc_cuda_step_args *args, *host_args;   /* device, and its pinned host copy */
    dlc_cuda_fault *fault, *host_fault;     /* device, and pinned host */
    float *host_loss;                        /* pinned */
    dlc_cuda_graphs *graphs;
} dlc_cuda_context;

/* What the generated file tells the context about one entry. */
typedef struct {
    const char *name;           /* "train_step", ... */
    int n_data, n_params;
    int graph;                  /* 1: captured as a CUDA Graph per batch size and buffers, replayed */
    const char *const *places;  /* source locations of the index checks, for messages */
    int n_state;                /* state tensors (running statistics): their pointers are baked in too */
} dlc_cuda_entry;

/* Enqueues an entry's kernels and cuBLAS calls on c->stream (and, in eval and predict, the
 * copies of the outputs to `outputs`). */
typedef void (*dlc_cuda_enqueue)(const dlc_step *s, void *const *outputs, dlc_cuda_context *c);

#ifdef __cplusplus
extern "C" {
#endif
/* Opens GPU `device` (--device N): a machine without a GPU, an unknown device and a GPU older
 * than compute capability 8.0 each stop with a message and exit 1. Later calls return the
 * same context. */
dlc_cuda_context *dlc_cuda_open(int device);
/* The open context (opening device 0 when none is). */
dlc_cuda_context *dlc_cuda_get(void);
/* Runs one entry: the step's scalars to the device, the kernels (replayed from a CUDA Graph
 * when the entry allows it), the loss back (when `loss` is not NULL), one synchronisation, the
 * index faults reported (exit 1, as dlc_index_error). Returns the loss (NAN without one). */
float dlc_cuda_run(const dlc_step *s, void *const *outputs, const dlc_cuda_entry *e, dlc_cuda_enqueue enqueue,
                   const float *loss);
/* A failed CUDA or cuBLAS call: "error: WHAT: MESSAGE", exit 1. */
void dlc_cuda_check(cudaError_t e, const char *what);
void dlc_cublas_check(cublasStatus_t s, const char *what);
#ifdef __cplusplus
}
#endif

#define DLC_CUBLAS(call) dlc_cublas_check((call), #call)
#define DLC_CUDA(call) dlc_cuda_check((call), #call)
#endif
