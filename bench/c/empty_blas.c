/* empty_blas.c: a C program that does nothing but load and initialise OpenBLAS; the floor under
 * any trainer's start-up time on this machine (a reference row of the start-up table). */
#include <cblas.h>
int main(void) { return openblas_get_num_threads() > 0 ? 0 : 1; }
