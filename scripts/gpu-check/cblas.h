/* cblas.h for scripts/gpu-check.sh on a machine without OpenBLAS's development files: the part
 * of CBLAS and OpenBLAS that the runtime's host device (codegen/device/dlc_device_host.c,
 * dlc_host_gemm.c) calls,
 * implemented by cblas_fallback.c. */
#ifndef DLC_CBLAS_FALLBACK_H
#define DLC_CBLAS_FALLBACK_H
#ifdef __cplusplus
extern "C" {
#endif
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
#ifdef __cplusplus
}
#endif
#endif
