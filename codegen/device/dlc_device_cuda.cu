/* dlc_device_cuda.cu: the CUDA device (codegen/dlc_device.h): params, gradients, optimizer
 * state, the arena and each batch's rows in GPU memory; products through cuBLAS; gradient
 * accumulation and the optimizer updates as kernels. It shares the context of the generated
 * entries (dlc_cuda_context.cu: one stream, one cuBLAS handle), so that every step's work is
 * ordered on one stream and the host waits only where a value comes back (the loss, once per
 * step; outputs, params and optimizer state when the runtime copies them out).
 *
 * The updates are dlc_device_host.c's formulas element by element, with the same f32
 * operations; each element is one thread's, so an update is deterministic. */
#include "dlc_cuda.h"

#include <stdarg.h>
#include <string.h>

extern "C" {
#include "dlc_device.h"
[[noreturn]] void dlc_die(int code, const char *fmt, ...);
}

static char device_name[320];

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

extern "C" void dlc_device_close(void) { dlc_cuda_check(cudaStreamSynchronize(dlc_cuda_get()->stream), "the last step"); }

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

extern "C" void dlc_device_sync(void) { dlc_cuda_check(cudaStreamSynchronize(dlc_cuda_get()->stream), "cudaStreamSynchronize"); }

/* ---- Work --------------------------------------------------------------------------------- */

/* Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ. */
extern "C" void dlc_device_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                                const float *b, int ldb, float beta, float *c, int ldc) {
    dlc_cuda_context *x = dlc_cuda_get();
    DLC_CUBLAS(cublasSgemm(x->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                           &alpha, b, ldb, a, lda, &beta, c, ldc));
}

__global__ void dlc_scale_add_kernel(float *sum, const float *g, float mul, float div, int first, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        sum[i] = (first ? 0.0f : sum[i]) + __fdiv_rn(__fmul_rn(g[i], mul), div);
}

extern "C" void dlc_device_scale_add(float *sum, const float *g, float mul, float div, int first, int64_t n) {
    if (n <= 0) return;
    DLC_LAUNCH(dlc_scale_add_kernel, dlc_blocks(n, DLC_THREADS), DLC_THREADS, dlc_cuda_get()->stream, sum, g, mul, div,
               first, n);
    dlc_cuda_check(cudaGetLastError(), "the gradient accumulation kernel");
}

/* The host's loops, one element per thread (no fused multiply-adds: the same roundings). */
__global__ void dlc_sgd_kernel(dlc_update u, float *p, const float *grad, float *buf, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (u.weight_decay != 0.0f) g = __fadd_rn(g, __fmul_rn(u.weight_decay, p[i]));
        if (u.momentum != 0.0f) {
            buf[i] = u.first ? g : __fadd_rn(__fmul_rn(buf[i], u.momentum), g); /* dampening 0 */
            g = u.nesterov ? __fadd_rn(g, __fmul_rn(u.momentum, buf[i])) : buf[i];
        }
        p[i] = __fadd_rn(p[i], __fmul_rn(-u.lr, g));
    }
}

__global__ void dlc_adam_kernel(dlc_update u, float *p, const float *grad, float *m, float *v, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (u.decoupled) p[i] = __fmul_rn(p[i], u.shrink);
        else if (u.weight_decay != 0.0f) g = __fadd_rn(g, __fmul_rn(u.weight_decay, p[i]));
        /* exp_avg.lerp_(grad, 1 - beta1): torch's lerp switches formula at weight 0.5. */
        m[i] = u.w1 < 0.5f ? __fadd_rn(m[i], __fmul_rn(u.w1, __fsub_rn(g, m[i])))
                           : __fsub_rn(g, __fmul_rn(__fsub_rn(g, m[i]), __fsub_rn(1.0f, u.w1)));
        v[i] = __fadd_rn(__fmul_rn(v[i], u.beta2), __fmul_rn(__fmul_rn(u.w2, g), g));
        float denom = __fadd_rn(__fdiv_rn(sqrtf(v[i]), u.bc2_sqrt), u.eps);
        p[i] = __fadd_rn(p[i], __fmul_rn(-u.step_size, __fdiv_rn(m[i], denom)));
    }
}

__global__ void dlc_adagrad_kernel(dlc_update u, float *p, const float *grad, float *sum, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (u.weight_decay != 0.0f) g = __fadd_rn(g, __fmul_rn(u.weight_decay, p[i]));
        sum[i] = __fadd_rn(sum[i], __fmul_rn(g, g));
        p[i] = __fadd_rn(p[i], __fmul_rn(-u.lr, __fdiv_rn(g, __fadd_rn(sqrtf(sum[i]), u.eps))));
    }
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
