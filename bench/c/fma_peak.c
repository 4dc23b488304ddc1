/* fma_peak.c: the machine's single-core floating-point peak, measured rather than looked up.
 *
 * Runs ACC independent chains of fused multiply-adds in the widest vectors the compiler may use
 * (-march=native: AVX-512 if the CPU has it, else AVX2/FMA), so the FMA units are the only
 * limit: no loads, no stores, no dependency stalls (ACC chains cover the FMA latency times the
 * number of FMA ports). Prints the best of a few repetitions as `gflops G` (f32, 2 flops per FMA
 * lane), plus the vector width it used. Pin it to one core (taskset -c 0) for a per-core peak.
 *
 *   fma_peak [--iters N]
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ACC = 12 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define WIDTH "AVX-512"
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#elif defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define WIDTH "AVX2+FMA"
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#else
#error "fma_peak needs FMA (build with -march=native on an x86-64 CPU with FMA)"
#endif

/* One timed run: iters rounds of ACC independent FMAs; returns seconds. The sum is printed by
 * the caller so the compiler cannot drop the loop. */
static double run(long iters, float *sink) {
    vec a[ACC];
    for (int k = 0; k < ACC; k++) a[k] = SET1(1.0f + 1e-3f * (float)k);
    const vec m = SET1(0.999999f), c = SET1(1e-7f);
    const double t0 = now();
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < ACC; k++) a[k] = FMA(a[k], m, c);
    const double t = now() - t0;
    vec s = a[0];
    for (int k = 1; k < ACC; k++) s = ADD(s, a[k]);
    float out[LANES];
    STORE(out, s);
    *sink += out[0];
    return t;
}

int main(int argc, char **argv) {
    long iters = 20000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atol(argv[++i]);
        else { fprintf(stderr, "usage: %s [--iters N]\n", argv[0]); return 2; }
    }
    float sink = 0.0f;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        const double t = run(iters, &sink);
        if (t < best) best = t;
    }
    const double flops = 2.0 * LANES * ACC * (double)iters;
    printf("vector %s\n", WIDTH);
    printf("gflops %.2f\n", flops / best / 1e9);
    printf("sink %g\n", (double)sink);
    return 0;
}
