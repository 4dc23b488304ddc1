/* dlc_cuda_emulation.h: the CUDA subset that dlc's generated .cu files and the CUDA device use,
 * emulated on the CPU, so that the same source is built by the host C++ compiler and tested
 * without a GPU (`dlc compile --backend cuda --emulate`). Slow; for tests only.
 *
 * What is emulated, and how:
 * - Kernels are plain functions (`__global__` is empty); DLC_LAUNCH runs every block of the grid
 *   in turn. The threads of a block are fibers (ucontext) on one host thread, run round-robin:
 *   each runs until it reaches a barrier (`__syncthreads`, or a warp shuffle for the threads of
 *   its warp) or ends. The round-robin order is forward (thread 0 first) or, with
 *   DLC_EMULATE_ORDER=reverse in the environment, reverse: a kernel that reads what another
 *   thread writes without a barrier in between gives different results in the two orders.
 *   A barrier that not every thread of its block (or warp) reaches, because it waits at another
 *   one or has ended, is a deadlock or undefined behaviour on a GPU; here it stops the program
 *   (exit 3) with a message naming the kernel.
 * - `threadIdx`, `blockIdx`, `blockDim`, `gridDim` (x only is used; y and z are 0 and 1).
 * - `__shared__` variables are function statics: one copy, shared by the threads of the block
 *   that runs (blocks run one after another).
 * - `__shfl_sync`, `__shfl_down_sync`, `__shfl_xor_sync` and `__syncwarp` over full warps of 32
 *   threads.
 * - Device memory is host memory; every copy is memcpy. Streams run work at once, unless they
 *   are being captured: then work is recorded into a graph and runs at each cudaGraphLaunch,
 *   reading memory as it is then, as on a GPU.
 * - cuBLAS SGEMM (plain and strided batched, column-major, pointer modes host and device)
 *   through OpenBLAS.
 * - `atomicCAS` on ints (one host thread runs everything, so it is a plain compare and swap).
 *
 * The environment plays other machines: DLC_EMULATE_DEVICES=N (GPUs present, default 1; 0: none),
 * DLC_EMULATE_COMPUTE_CAPABILITY=7.5, DLC_EMULATE_MEMORY=BYTES (device memory),
 * DLC_EMULATE_CUBLAS_FAIL=N (the Nth cuBLAS product fails), and DLC_EMULATE_REPORT=1 counts the
 * copies between host and device on stderr at exit.
 */
#ifndef DLC_CUDA_EMULATION_H
#define DLC_CUDA_EMULATION_H
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

namespace dlc_emu {
/* The thread running now: its index and the block it belongs to. */
struct Thread {
    uint3 thread_idx;
};
Thread *current();
extern uint3 block_idx;
extern dim3 block_dim, grid_dim;

/* Runs `kernel` (the body of one thread) over the grid; `name` is for messages. */
void launch(const char *name, dim3 grid, dim3 block, std::function<void()> kernel);
void sync_block();
/* The value `value` of the lane `source` of the calling thread's warp (its own when out of range). */
double exchange(double value, int source_lane);
/* Runs `work` now, or records it when `stream` is being captured. */
void enqueue(void *stream, std::function<void()> work);
}

#define threadIdx (dlc_emu::current()->thread_idx)
#define blockIdx (dlc_emu::block_idx)
#define blockDim (dlc_emu::block_dim)
#define gridDim (dlc_emu::grid_dim)

static inline void __syncthreads() { dlc_emu::sync_block(); }

template <typename T> static inline T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
    (void)mask;
    int lane = (int)(threadIdx.x % 32);
    int source = lane + (int)delta;
    return (T)dlc_emu::exchange((double)value, source < 32 ? source : lane);
}
template <typename T> static inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
    (void)mask;
    int lane = (int)(threadIdx.x % 32);
    return (T)dlc_emu::exchange((double)value, lane ^ lane_mask);
}
template <typename T> static inline T __shfl_sync(unsigned mask, T value, int source_lane) {
    (void)mask;
    return (T)dlc_emu::exchange((double)value, source_lane & 31);
}
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
    (void)mask;
    (void)dlc_emu::exchange(0.0, 0);
}
/* Single roundings: one float operation each, so the compiler has nothing to fuse into an FMA
 * (dlc_update_rules.h relies on it, as on the GPU). */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline int atomicCAS(int *address, int compare, int value) {
    int old = *address;
    if (old == compare) *address = value;
    return old;
}

/* ---- The runtime API ---------------------------------------------------------------------- */

typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidDevice = 101,
    cudaErrorNoDevice = 100,
    cudaErrorStreamCaptureUnsupported = 900,
} cudaError_t;
typedef enum { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault } cudaMemcpyKind;
typedef enum { cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal, cudaStreamCaptureModeRelaxed } cudaStreamCaptureMode;
typedef struct dlc_emu_stream *cudaStream_t;
typedef struct dlc_emu_graph *cudaGraph_t;
typedef struct dlc_emu_graph *cudaGraphExec_t;
typedef struct dlc_emu_event *cudaEvent_t;
#define cudaStreamNonBlocking 1
#define cudaEventDisableTiming 2

namespace dlc_emu {
/* A launch: the arguments are converted to the kernel's parameter types and copied now, as
 * CUDA does; the kernel runs when the stream runs the launch (at once, or at each replay of a
 * graph that captured it). */
template <typename... P, typename... A>
void launch_kernel(const char *name, dim3 grid, dim3 block, cudaStream_t stream, void (*kernel)(P...), A &&...args) {
    std::tuple<P...> values(std::forward<A>(args)...);
    enqueue(stream, [=]() { launch(name, grid, block, [&]() { std::apply(kernel, values); }); });
}
}

/* The one way generated code launches a kernel (dlc_cuda.h defines it for nvcc as <<<...>>>). */
#define DLC_LAUNCH(kernel, grid, block, stream, ...) \
    dlc_emu::launch_kernel(#kernel, (grid), (block), (stream), kernel, __VA_ARGS__)
#define cudaHostAllocDefault 0

struct cudaDeviceProp {
    char name[256];
    int major, minor;
    size_t totalGlobalMem;
    int multiProcessorCount;
};

const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaMalloc(void **p, size_t bytes);
template <typename T> static inline cudaError_t cudaMalloc(T **p, size_t bytes) { return cudaMalloc((void **)p, bytes); }
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
template <typename T> static inline cudaError_t cudaMallocHost(T **p, size_t bytes) { return cudaMallocHost((void **)p, bytes); }
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize(void);
/* Events: work runs as it is queued here, so an event is complete once recorded; waiting on
 * one orders nothing that is not already in order. */
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

/* ---- cuBLAS ------------------------------------------------------------------------------- */

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef struct dlc_emu_blas *cublasHandle_t;

cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s);
cublasStatus_t cublasSetPointerMode(cublasHandle_t h, cublasPointerMode_t mode);
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *workspace, size_t bytes);
const char *cublasGetStatusString(cublasStatus_t s);
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta,
                           float *c, int ldc);
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *a, int lda, long long stride_a,
                                         const float *b, int ldb, long long stride_b, const float *beta, float *c,
                                         int ldc, long long stride_c, int batch);
#endif
