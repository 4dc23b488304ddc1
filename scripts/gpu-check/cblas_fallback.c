/* cblas_fallback.c: SGEMM in plain loops, for scripts/gpu-check.sh's C trainers on a GPU machine
 * without OpenBLAS (see cblas.h beside it). Each element sums its k products in order, in f32,
 * as a reference BLAS does: slower than OpenBLAS, and the same results to rounding. */
#include "cblas.h"

static float at(const float *x, int ld, int trans, int row_major, int r, int c) {
    /* Element (r, c) of op(X). */
    if (trans) {
        int t = r;
        r = c;
        c = t;
    }
    return row_major ? x[(long)r * ld + c] : x[(long)c * ld + r];
}

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    int row_major = order == CblasRowMajor;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++)
                sum += at(a, lda, ta == CblasTrans, row_major, i, p) * at(b, ldb, tb == CblasTrans, row_major, p, j);
            float *out = row_major ? &c[(long)i * ldc + j] : &c[(long)j * ldc + i];
            *out = beta == 0.0f ? alpha * sum : alpha * sum + beta * *out;
        }
}

void openblas_set_num_threads(int n) { (void)n; }

/* One thread: the trainer's own threads (--threads) split the products without it. */
int openblas_get_num_threads(void) { return 1; }
