/* cublas_floor.cu: the floor of benchmark (g) at one batch size: the cuBLAS calls of one SGD
 * epoch of the MLP 784-512-10 alone (forward H = X·W1ᵀ, Z = H·W2ᵀ; backward dW2 = dZᵀ·H,
 * dH = dZ·W2, dW1 = dHᵀ·X), 60 000 rows, no other kernel, timed with CUDA events.
 *
 *     nvcc -O3 -o cublas_floor cublas_floor.cu -lcublas && ./cublas_floor 1024
 *
 * Prints `gemm_seconds S`. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x) do { if ((x) != 0) { fprintf(stderr, "failed: %s\n", #x); return 1; } } while (0)

int main(int argc, char **argv) {
    const int rows = 60000, in = 784, hidden = 512, out = 10;
    int batch = argc > 1 ? atoi(argv[1]) : 64;
    if (batch < 1) return 2;
    float *x, *w1, *w2, *h, *z, *dz, *dh, *dw1, *dw2;
    CHECK(cudaMalloc(&x, sizeof(float) * (size_t)batch * in));
    CHECK(cudaMalloc(&w1, sizeof(float) * hidden * in));
    CHECK(cudaMalloc(&w2, sizeof(float) * out * hidden));
    CHECK(cudaMalloc(&h, sizeof(float) * (size_t)batch * hidden));
    CHECK(cudaMalloc(&z, sizeof(float) * (size_t)batch * out));
    CHECK(cudaMalloc(&dz, sizeof(float) * (size_t)batch * out));
    CHECK(cudaMalloc(&dh, sizeof(float) * (size_t)batch * hidden));
    CHECK(cudaMalloc(&dw1, sizeof(float) * hidden * in));
    CHECK(cudaMalloc(&dw2, sizeof(float) * out * hidden));
    cublasHandle_t blas;
    CHECK(cublasCreate(&blas));
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    for (int pass = 0; pass < 2; pass++) { /* the first pass warms up */
        cudaEventRecord(start);
        for (int s = 0; s < rows; s += batch) {
            int n = rows - s < batch ? rows - s : batch;
            /* Row-major products as column-major ones with the operands swapped. */
            cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, hidden, n, in, &one, w1, in, x, in, &zero, h, hidden);
            cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, hidden, &one, w2, hidden, h, hidden, &zero, z, out);
            cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, hidden, out, n, &one, h, hidden, dz, out, &zero, dw2, hidden);
            cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, hidden, n, out, &one, w2, hidden, dz, out, &zero, dh, hidden);
            cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, in, hidden, n, &one, x, in, dh, hidden, &zero, dw1, in);
        }
        cudaEventRecord(stop);
        CHECK(cudaEventSynchronize(stop));
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    printf("gemm_seconds %.6f\n", ms / 1000.0);
    return 0;
}
