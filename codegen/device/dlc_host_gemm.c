/* dlc_host_gemm.c: dlc_sgemm, the GEMM generated code calls on the host: OpenBLAS's
 * single-threaded cblas_sgemm on blocks of C spread over the trainer's threads (dlc_parallel.c).
 *
 * Compiles to nothing under -DDLC_DEVICE_CUDA (the CUDA backend calls cuBLAS). */
#ifndef DLC_DEVICE_CUDA
#include "dlc_model.h"

#include <cblas.h>
#include <stddef.h>

/* A product is split when its multiply-adds (m·n·k) over this reach the work that pays
 * (dlc_parallel_parts: 4 194 304 multiply-adds by default): each thread packs the shared
 * operand again, and reads the operands another core wrote last (digits_cnn's 512×32×144
 * convolution product ran slower split). */
#define GEMM_WORK_PER_ELEMENT 32
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
    int parts = dlc_parallel_parts((int64_t)m * n * k / GEMM_WORK_PER_ELEMENT);
    int ta = trans_a == CblasTrans, tb = trans_b == CblasTrans;
    if (order != CblasRowMajor || parts <= 1) {
        cblas_sgemm((enum CBLAS_ORDER)order, (enum CBLAS_TRANSPOSE)trans_a, (enum CBLAS_TRANSPOSE)trans_b, m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int split_rows = !(m < n && m < k);
    if ((split_rows ? m : n) < 2 * GEMM_SPLIT_UNIT) split_rows = !split_rows; /* too few blocks that way */
    gemm_split g = {split_rows, m, n, ta, tb, k, lda, ldb, ldc, alpha, beta, a, b, c};
    int units = ((g.split_rows ? m : n) + GEMM_SPLIT_UNIT - 1) / GEMM_SPLIT_UNIT;
    dlc_parallel_for(units, parts, gemm_block, &g);
}

#endif /* DLC_DEVICE_CUDA */
