/* mnist_sgd.c: the hand-written baseline for benchmark (a), in the style of karpathy's llm.c.
 *
 * MLP 784-512-10 with ReLU, softmax cross-entropy (mean over the batch), plain SGD, batches
 * taken in file order (no shuffle). Params, grads and activations live in two allocations made
 * before the first step; the training loop allocates nothing. The four matrix products go to
 * cblas_sgemm; everything else is one fused loop per stage:
 *   fc1 bias + ReLU (one pass), fc2 bias + softmax + loss + dlogits (one pass per row),
 *   ReLU backward + fc1 bias grad (one pass), SGD over the flat param vector (one pass).
 *
 *   mnist_sgd X.npy Y.npy [--threads N] [--epochs N] [--batch N] [--lr X] [--fold]
 *
 * --fold writes fc1's update straight into the weights (sgemm with alpha = -lr, beta = 1)
 * instead of materialising its gradient; same math, one pass over 1.6 MB fewer per step.
 * Prints `loss L` (the last epoch's example-weighted mean loss) and `epoch_seconds S` (the
 * last epoch's training loop, wall clock).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npy.h"

enum { IN = 784, HID = 512, OUT = 10 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64* -> uniform [-bound, bound) */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float uniform_pm(float bound) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545F4914F6CDD1Dull;
    float u = (float)(r >> 40) / 16777216.0f;
    return (2.0f * u - 1.0f) * bound;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s X.npy Y.npy [--threads N] [--epochs N] [--batch N] [--lr X] [--fold]\n", argv[0]);
        return 2;
    }
    int threads = 0, epochs = 1, B = 64, fold = 0;
    float lr = 0.01f;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lr") && i + 1 < argc) lr = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--fold")) fold = 1;
        else { fprintf(stderr, "bad argument %s\n", argv[i]); return 2; }
    }
    if (threads > 0) openblas_set_num_threads(threads);

    npy_array xa = npy_load(argv[1]), ya = npy_load(argv[2]);
    if (xa.kind != 'f' || xa.ndim != 2 || xa.shape[1] != IN) { fprintf(stderr, "x must be f32[N,784]\n"); return 1; }
    if (ya.kind != 'i' || ya.count != xa.shape[0]) { fprintf(stderr, "y must be int[N]\n"); return 1; }
    const int64_t N = xa.shape[0];
    const float *X = xa.data;
    const int32_t *Y = ya.data;
    for (int64_t i = 0; i < N; i++)
        if (Y[i] < 0 || Y[i] >= OUT) { fprintf(stderr, "label %d out of range at row %lld\n", Y[i], (long long)i); return 1; }

    /* params and grads: one flat vector each, same layout */
    const size_t n_w1 = (size_t)HID * IN, n_b1 = HID, n_w2 = (size_t)OUT * HID, n_b2 = OUT;
    const size_t n_params = n_w1 + n_b1 + n_w2 + n_b2;
    float *params = aligned_alloc(64, ((n_params * sizeof(float)) + 63) / 64 * 64);
    float *grads = aligned_alloc(64, ((n_params * sizeof(float)) + 63) / 64 * 64);
    float *W1 = params, *b1 = W1 + n_w1, *W2 = b1 + n_b1, *b2 = W2 + n_w2;
    float *dW1 = grads, *db1 = dW1 + n_w1, *dW2 = db1 + n_b1, *db2 = dW2 + n_w2;
    /* PyTorch's nn.Linear init: uniform +-1/sqrt(fan_in) for weight and bias */
    const float k1 = 1.0f / sqrtf((float)IN), k2 = 1.0f / sqrtf((float)HID);
    for (size_t i = 0; i < n_w1; i++) W1[i] = uniform_pm(k1);
    for (size_t i = 0; i < n_b1; i++) b1[i] = uniform_pm(k1);
    for (size_t i = 0; i < n_w2; i++) W2[i] = uniform_pm(k2);
    for (size_t i = 0; i < n_b2; i++) b2[i] = uniform_pm(k2);
    memset(grads, 0, n_params * sizeof(float));

    /* activations for one batch: h (post-ReLU), dh, logits -> dlogits */
    float *h = aligned_alloc(64, (size_t)B * HID * sizeof(float));
    float *dh = aligned_alloc(64, (size_t)B * HID * sizeof(float));
    float *lg = aligned_alloc(64, ((size_t)B * OUT * sizeof(float) + 63) / 64 * 64);

    double loss_sum = 0.0, seconds = 0.0;
    for (int ep = 0; ep < epochs; ep++) {
        loss_sum = 0.0;
        double t0 = now();
        for (int64_t start = 0; start < N; start += B) {
            const int n = (int)(N - start < B ? N - start : B);
            const float *xb = X + start * IN;
            const int32_t *yb = Y + start;

            /* forward: h = relu(x W1^T + b1) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, HID, IN, 1.0f, xb, IN, W1, IN, 0.0f, h, HID);
            for (int i = 0; i < n; i++) {
                float *hi = h + (size_t)i * HID;
                for (int j = 0; j < HID; j++) {
                    float v = hi[j] + b1[j];
                    hi[j] = v > 0.0f ? v : 0.0f;
                }
            }
            /* logits = h W2^T; then bias + softmax + loss + dlogits = (p - onehot) / n, per row */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, OUT, HID, 1.0f, h, HID, W2, HID, 0.0f, lg, OUT);
            const float inv_n = 1.0f / (float)n;
            double batch_loss = 0.0;
            for (int i = 0; i < n; i++) {
                float *l = lg + (size_t)i * OUT;
                float m = -INFINITY;
                for (int k = 0; k < OUT; k++) { l[k] += b2[k]; m = l[k] > m ? l[k] : m; }
                float s = 0.0f;
                for (int k = 0; k < OUT; k++) { l[k] = expf(l[k] - m); s += l[k]; }
                const float inv_s = 1.0f / s;
                const int c = yb[i];
                batch_loss -= log((double)(l[c] * inv_s));
                for (int k = 0; k < OUT; k++) l[k] = (l[k] * inv_s - (k == c ? 1.0f : 0.0f)) * inv_n;
            }
            loss_sum += batch_loss; /* sum over rows = mean * n */

            /* backward: fc2 */
            for (int k = 0; k < OUT; k++) db2[k] = 0.0f;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < OUT; k++) db2[k] += lg[(size_t)i * OUT + k];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, HID, OUT, 1.0f, lg, OUT, W2, HID, 0.0f, dh, HID);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, HID, n, 1.0f, lg, OUT, h, HID, 0.0f, dW2, HID);
            /* ReLU backward fused with fc1's bias gradient */
            memset(db1, 0, HID * sizeof(float));
            for (int i = 0; i < n; i++) {
                float *dhi = dh + (size_t)i * HID;
                const float *hi = h + (size_t)i * HID;
                for (int j = 0; j < HID; j++) {
                    float g = hi[j] > 0.0f ? dhi[j] : 0.0f;
                    dhi[j] = g;
                    db1[j] += g;
                }
            }
            if (fold) {
                /* W1 -= lr * dh^T x, in the GEMM itself; SGD on the rest */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, HID, IN, n, -lr, dh, HID, xb, IN, 1.0f, W1, IN);
                float *p = b1, *g = db1;
                for (size_t i = 0; i < n_params - n_w1; i++) p[i] -= lr * g[i];
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, HID, IN, n, 1.0f, dh, HID, xb, IN, 0.0f, dW1, IN);
                /* SGD over the flat param vector */
                for (size_t i = 0; i < n_params; i++) params[i] -= lr * grads[i];
            }
        }
        seconds = now() - t0;
    }
    printf("loss %.6f\n", loss_sum / (double)N);
    printf("epoch_seconds %.6f\n", seconds);
    free(h); free(dh); free(lg); free(params); free(grads); free(xa.data); free(ya.data);
    return 0;
}
