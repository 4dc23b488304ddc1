/* sine_adam.c: the hand-written baseline for benchmark (b), in the style of karpathy's llm.c.
 *
 * The lectures' MLP Linear(1,10)-ReLU-Linear(10,10)-ReLU-Linear(10,1), MSE loss, Adam
 * (PyTorch's formulas, lr 0.1, betas 0.9/0.999, eps 1e-8), the whole data set as one batch
 * every step. No BLAS: for 10x10 layers a call costs more than the arithmetic. Forward and
 * backward keep the activations feature-major ([unit][row]), so that every inner loop runs over
 * the rows with unit stride and vectorises (reductions use 16 partial sums, no -ffast-math);
 * biases, ReLU and ReLU' are fused into those loops, the Adam update is one pass over the flat
 * 141-float param vector, and nothing is allocated in the loop.
 *
 *   sine_adam X.npy Y.npy [--steps N] [--lr X] [--init P.npy]
 *
 * --init starts from the 141 params of P.npy (f32, in the order of `net`: fc1.weight, fc1.bias,
 * fc2.weight, fc2.bias, out.weight, out.bias) instead of its own random ones. The benchmark
 * passes the dlc trainer's initial params, so that both train the same model from the same
 * start: which ReLU units die depends on the start, and a dead unit's Adam state sits at
 * subnormal floats whose arithmetic is slow on x86, so different starts cost different times.
 *
 * Prints `loss L` (the loss of the last step, before its update) and `train_seconds S`.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npy.h"

enum { H = 10 };

typedef struct {
    float w1[H], b1[H];   /* Linear(1, 10) */
    float w2[H][H], b2[H];/* Linear(10, 10), w2[out][in] */
    float w3[H], b3;      /* Linear(10, 1) */
} net;                    /* 141 floats, no padding */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float uniform_pm(float bound) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545F4914F6CDD1Dull;
    float u = (float)(r >> 40) / 16777216.0f;
    return (2.0f * u - 1.0f) * bound;
}

/* Reductions over rows padded to a multiple of 16 (the padding holds zeros in at least one
 * operand): 16 partial sums and a tree at the end, so that -O3 vectorises them without
 * -ffast-math. */
static inline float hsum16(float *acc) {
    for (int w = 8; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) acc[k] += acc[k + w];
    return acc[0];
}

static inline float dot(const float *restrict a, const float *restrict b, int n) {
    float acc[16] = {0};
    for (int r = 0; r < n; r += 16)
        for (int k = 0; k < 16; k++) acc[k] += a[r + k] * b[r + k];
    return hsum16(acc);
}

static inline float sum(const float *restrict a, int n) {
    float acc[16] = {0};
    for (int r = 0; r < n; r += 16)
        for (int k = 0; k < 16; k++) acc[k] += a[r + k];
    return hsum16(acc);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s X.npy Y.npy [--steps N] [--lr X] [--init P.npy]\n", argv[0]);
        return 2;
    }
    int steps = 5000;
    float lr = 0.1f;
    const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    const char *init = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lr") && i + 1 < argc) lr = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--init") && i + 1 < argc) init = argv[++i];
        else { fprintf(stderr, "bad argument %s\n", argv[i]); return 2; }
    }
    npy_array xa = npy_load(argv[1]), ya = npy_load(argv[2]);
    if (xa.kind != 'f' || ya.kind != 'f' || xa.count != ya.count) { fprintf(stderr, "x, y must be f32[N,1]\n"); return 1; }
    const int N = (int)xa.count;
    const float *X = xa.data, *Y = ya.data;

    enum { P = (int)(sizeof(net) / sizeof(float)) };
    static net p, g;
    static float m[P], v[P];
    const float k1 = 1.0f, k2 = 1.0f / sqrtf((float)H); /* nn.Linear: +-1/sqrt(fan_in) */
    for (int j = 0; j < H; j++) p.w1[j] = uniform_pm(k1);
    for (int j = 0; j < H; j++) p.b1[j] = uniform_pm(k1);
    for (int j = 0; j < H; j++) for (int i = 0; i < H; i++) p.w2[j][i] = uniform_pm(k2);
    for (int j = 0; j < H; j++) p.b2[j] = uniform_pm(k2);
    for (int j = 0; j < H; j++) p.w3[j] = uniform_pm(k2);
    p.b3 = uniform_pm(k2);
    if (init) {
        npy_array pa = npy_load(init);
        if (pa.kind != 'f' || pa.count != P) { fprintf(stderr, "%s: want %d f32 params\n", init, (int)P); return 1; }
        memcpy(&p, pa.data, sizeof p);
        free(pa.data);
    }

    /* activations, feature-major ([unit][row]) so every loop runs over rows with unit stride;
     * rows padded to NP, a multiple of 16: the padding of e, d, d2 and d1 stays 0 */
    const int NP = (N + 15) / 16 * 16;
    float *buf = aligned_alloc(64, (size_t)(4 * H + 3) * (size_t)NP * sizeof(float));
    memset(buf, 0, (size_t)(4 * H + 3) * (size_t)NP * sizeof(float));
    float *h1 = buf, *h2 = h1 + H * NP, *d2 = h2 + H * NP, *d1 = d2 + H * NP, *e = d1 + H * NP, *d = e + NP;
    float *x = d + NP; /* x padded with zeros */
    memcpy(x, X, (size_t)N * sizeof(float));

    float *pf = (float *)&p, *gf = (float *)&g;
    float last = 0.0f;
    double b1t = 1.0, b2t = 1.0;
    const float scale = 2.0f / (float)N; /* d mean((pred-y)^2) / d pred */
    const double t0 = now();
    for (int step = 0; step < steps; step++) {
        /* forward */
        for (int j = 0; j < H; j++) {
            float *restrict o = h1 + j * NP;
            for (int r = 0; r < NP; r++) { float a = p.w1[j] * x[r] + p.b1[j]; o[r] = a > 0.0f ? a : 0.0f; }
        }
        for (int j = 0; j < H; j++) {
            float *restrict o = h2 + j * NP;
            for (int r = 0; r < NP; r++) o[r] = p.b2[j];
            for (int i = 0; i < H; i++) {
                const float w = p.w2[j][i], *restrict hi = h1 + i * NP;
                for (int r = 0; r < NP; r++) o[r] += w * hi[r];
            }
            for (int r = 0; r < NP; r++) o[r] = o[r] > 0.0f ? o[r] : 0.0f;
        }
        for (int r = 0; r < N; r++) e[r] = p.b3 - Y[r];
        for (int j = 0; j < H; j++) {
            const float w = p.w3[j], *restrict hj = h2 + j * NP;
            for (int r = 0; r < N; r++) e[r] += w * hj[r];
        }
        const float loss = dot(e, e, NP);
        /* backward: output layer */
        for (int r = 0; r < NP; r++) d[r] = scale * e[r];
        g.b3 = sum(d, NP);
        for (int j = 0; j < H; j++) {
            const float *restrict hj = h2 + j * NP;
            float *restrict dj = d2 + j * NP;
            g.w3[j] = dot(d, hj, NP);
            for (int r = 0; r < NP; r++) dj[r] = hj[r] > 0.0f ? d[r] * p.w3[j] : 0.0f;
        }
        /* hidden layer 2 */
        for (int j = 0; j < H; j++) {
            const float *dj = d2 + j * NP;
            g.b2[j] = sum(dj, NP);
            for (int i = 0; i < H; i++) g.w2[j][i] = dot(dj, h1 + i * NP, NP);
        }
        /* hidden layer 1 */
        for (int i = 0; i < H; i++) {
            float *restrict di = d1 + i * NP;
            const float *restrict hi = h1 + i * NP;
            for (int r = 0; r < NP; r++) di[r] = 0.0f;
            for (int j = 0; j < H; j++) {
                const float w = p.w2[j][i], *restrict dj = d2 + j * NP;
                for (int r = 0; r < NP; r++) di[r] += w * dj[r];
            }
            for (int r = 0; r < NP; r++) di[r] = hi[r] > 0.0f ? di[r] : 0.0f;
            g.b1[i] = sum(di, NP);
            g.w1[i] = dot(di, x, NP);
        }
        last = loss / (float)N;
        /* Adam, torch.optim.Adam's formulas */
        b1t *= beta1;
        b2t *= beta2;
        const float step_size = lr / (float)(1.0 - b1t);
        const float bc2_sqrt = (float)sqrt(1.0 - b2t);
        for (int i = 0; i < P; i++) {
            m[i] = beta1 * m[i] + (1.0f - beta1) * gf[i];
            v[i] = beta2 * v[i] + (1.0f - beta2) * gf[i] * gf[i];
            pf[i] -= step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
        }
    }
    const double secs = now() - t0;
    printf("loss %.6f\n", last);
    printf("train_seconds %.6f\n", secs);
    free(buf); free(xa.data); free(ya.data);
    return 0;
}
