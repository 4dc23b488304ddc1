/* conv_lowering.c: im2col + GEMM (what dlc's lowering emits) against a direct loop nest, for
 * the convolutions of the CNN examples, one core. The measurement behind the choice in
 * Sources/Lowering/LowerConvolution.swift (issue 13: "a direct loop nest for small channel
 * counts, where it is faster — measure").
 *
 *   taskset -c 0 ./conv_lowering [--reps N]
 *
 * For each layer (batch, channels in and out, image, kernel, padding) it times, as the median
 * of N repetitions, the three parts of a training step's convolution both ways:
 *   forward   y = relu(conv(x, w) + b)
 *             im2col: cols = im2col(x) (a strided copy), z = w · cols (sgemm), y = relu(z + b)
 *             direct: for n, o, i, j: y = relu(b + sum over c, p, q of w · x)  (the c,p,q loop
 *                     innermost over q, j vectorised by the compiler across output columns)
 *   weight gradient dw
 *             im2col: dz = dy transposed to [O, N·P] (one pass), dw = dz · colsᵀ (sgemm; cols
 *                     kept from the forward)
 *             direct: for o, c, p, q: dw = sum over n, i, j of dy · x
 *   input gradient dx
 *             im2col: dcols = wᵀ · dz (sgemm), dx = col2im(dcols) (zeros, k² strided adds)
 *             direct: for n, c, o, p, q, i, j: dx[n, c, i+p-pad, j+q-pad] += w · dy
 * and checks that both ways agree (relative error printed). Prints one markdown table. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name;
    int n, c, o, h, k, pad;
} layer;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *fill(size_t count, unsigned *seed) {
    float *p = malloc(count * sizeof *p);
    if (!p) exit(1);
    for (size_t i = 0; i < count; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- im2col + GEMM, laid out as dlc lowers it: cols [C·k·k, N·P] ------------------------- */

static void im2col(const layer *l, int oh, const float *x, float *cols) {
    int hp = l->h, p = oh * oh;
    for (int c = 0; c < l->c; c++)
        for (int kp = 0; kp < l->k; kp++)
            for (int kq = 0; kq < l->k; kq++) {
                float *row = cols + ((size_t)(c * l->k + kp) * l->k + kq) * (size_t)(l->n * p);
                for (int n = 0; n < l->n; n++)
                    for (int i = 0; i < oh; i++) {
                        int y = i + kp - l->pad;
                        for (int j = 0; j < oh; j++) {
                            int xx = j + kq - l->pad;
                            row[(size_t)n * p + i * oh + j] =
                                y < 0 || y >= hp || xx < 0 || xx >= hp ? 0.0f
                                                                      : x[(((size_t)n * l->c + c) * hp + y) * hp + xx];
                        }
                    }
            }
}

static void col2im(const layer *l, int oh, const float *dcols, float *dx) {
    int hp = l->h, p = oh * oh;
    memset(dx, 0, (size_t)l->n * l->c * hp * hp * sizeof *dx);
    for (int c = 0; c < l->c; c++)
        for (int kp = 0; kp < l->k; kp++)
            for (int kq = 0; kq < l->k; kq++) {
                const float *row = dcols + ((size_t)(c * l->k + kp) * l->k + kq) * (size_t)(l->n * p);
                for (int n = 0; n < l->n; n++)
                    for (int i = 0; i < oh; i++) {
                        int y = i + kp - l->pad;
                        if (y < 0 || y >= hp) continue;
                        for (int j = 0; j < oh; j++) {
                            int xx = j + kq - l->pad;
                            if (xx >= 0 && xx < hp) dx[(((size_t)n * l->c + c) * hp + y) * hp + xx] += row[(size_t)n * p + i * oh + j];
                        }
                    }
            }
}

/* ---- Direct loop nests ------------------------------------------------------------------- */

static void direct_forward(const layer *l, int oh, const float *x, const float *w, const float *b, float *y) {
    int hp = l->h, k = l->k;
    for (int n = 0; n < l->n; n++)
        for (int o = 0; o < l->o; o++) {
            float *out = y + ((size_t)n * l->o + o) * oh * oh;
            for (int i = 0; i < oh * oh; i++) out[i] = b[o];
            for (int c = 0; c < l->c; c++) {
                const float *img = x + ((size_t)n * l->c + c) * hp * hp;
                for (int p = 0; p < k; p++)
                    for (int q = 0; q < k; q++) {
                        float wv = w[((o * l->c + c) * k + p) * k + q];
                        for (int i = 0; i < oh; i++) {
                            int yy = i + p - l->pad;
                            if (yy < 0 || yy >= hp) continue;
                            int j0 = l->pad - q > 0 ? l->pad - q : 0, j1 = hp + l->pad - q < oh ? hp + l->pad - q : oh;
                            const float *src = img + (size_t)yy * hp + (q - l->pad);
                            float *dst = out + i * oh;
                            for (int j = j0; j < j1; j++) dst[j] += wv * src[j];
                        }
                    }
            }
            for (int i = 0; i < oh * oh; i++) out[i] = out[i] > 0 ? out[i] : 0;
        }
}

static void direct_weight_grad(const layer *l, int oh, const float *x, const float *dy, float *dw) {
    int hp = l->h, k = l->k;
    for (int o = 0; o < l->o; o++)
        for (int c = 0; c < l->c; c++)
            for (int p = 0; p < k; p++)
                for (int q = 0; q < k; q++) {
                    float s = 0;
                    int j0 = l->pad - q > 0 ? l->pad - q : 0, j1 = hp + l->pad - q < oh ? hp + l->pad - q : oh;
                    for (int n = 0; n < l->n; n++) {
                        const float *img = x + ((size_t)n * l->c + c) * hp * hp;
                        const float *g = dy + ((size_t)n * l->o + o) * oh * oh;
                        for (int i = 0; i < oh; i++) {
                            int yy = i + p - l->pad;
                            if (yy < 0 || yy >= hp) continue;
                            const float *src = img + (size_t)yy * hp + (q - l->pad);
                            for (int j = j0; j < j1; j++) s += g[i * oh + j] * src[j];
                        }
                    }
                    dw[((o * l->c + c) * k + p) * k + q] = s;
                }
}

static void direct_input_grad(const layer *l, int oh, const float *w, const float *dy, float *dx) {
    int hp = l->h, k = l->k;
    memset(dx, 0, (size_t)l->n * l->c * hp * hp * sizeof *dx);
    for (int n = 0; n < l->n; n++)
        for (int c = 0; c < l->c; c++) {
            float *img = dx + ((size_t)n * l->c + c) * hp * hp;
            for (int o = 0; o < l->o; o++) {
                const float *g = dy + ((size_t)n * l->o + o) * oh * oh;
                for (int p = 0; p < k; p++)
                    for (int q = 0; q < k; q++) {
                        float wv = w[((o * l->c + c) * k + p) * k + q];
                        int j0 = l->pad - q > 0 ? l->pad - q : 0, j1 = hp + l->pad - q < oh ? hp + l->pad - q : oh;
                        for (int i = 0; i < oh; i++) {
                            int yy = i + p - l->pad;
                            if (yy < 0 || yy >= hp) continue;
                            float *dst = img + (size_t)yy * hp + (q - l->pad);
                            for (int j = j0; j < j1; j++) dst[j] += wv * g[i * oh + j];
                        }
                    }
            }
        }
}

static double max_rel_diff(const float *a, const float *b, size_t count) {
    double worst = 0, scale = 1e-6;
    for (size_t i = 0; i < count; i++) scale = fmax(scale, fabs((double)a[i]));
    for (size_t i = 0; i < count; i++) worst = fmax(worst, fabs((double)a[i] - (double)b[i]) / scale);
    return worst;
}

int main(int argc, char **argv) {
    int reps = 30;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
    if (reps < 1) reps = 1;
    const layer layers[] = {
        {"LeNet conv1 (bench e)", 64, 1, 6, 28, 5, 0},
        {"LeNet conv2 (bench e)", 64, 6, 16, 12, 5, 0},
        {"digits_cnn c1", 32, 1, 16, 8, 3, 1},
        {"digits_cnn c2", 32, 16, 32, 4, 3, 1},
    };
    printf("| layer: N, C→O, H×W, k, pad | part | im2col + GEMM µs | direct µs | direct / im2col | agree (rel.) |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        int oh = l->h + 2 * l->pad - l->k + 1, p = oh * oh, kk = l->c * l->k * l->k;
        size_t xs = (size_t)l->n * l->c * l->h * l->h, ys = (size_t)l->n * l->o * p, ws = (size_t)l->o * kk;
        unsigned seed = 7;
        float *x = fill(xs, &seed), *w = fill(ws, &seed), *b = fill((size_t)l->o, &seed), *dy = fill(ys, &seed);
        float *cols = malloc((size_t)kk * l->n * p * sizeof *cols), *dcols = malloc((size_t)kk * l->n * p * sizeof *dcols);
        float *z = malloc(ys * sizeof *z), *dz = malloc(ys * sizeof *dz);
        float *y1 = malloc(ys * sizeof *y1), *y2 = malloc(ys * sizeof *y2);
        float *dw1 = malloc(ws * sizeof *dw1), *dw2 = malloc(ws * sizeof *dw2);
        float *dx1 = malloc(xs * sizeof *dx1), *dx2 = malloc(xs * sizeof *dx2);
        double *t = malloc((size_t)reps * 6 * sizeof *t);
        int np = l->n * p;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            im2col(l, oh, x, cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->o, np, kk, 1, w, kk, cols, np, 0, z, np);
            for (int n = 0; n < l->n; n++)
                for (int o = 0; o < l->o; o++)
                    for (int i = 0; i < p; i++) {
                        float v = z[(size_t)o * np + (size_t)n * p + i] + b[o];
                        y1[((size_t)n * l->o + o) * p + i] = v > 0 ? v : 0;
                    }
            double t1 = now();
            for (int o = 0; o < l->o; o++)
                for (int n = 0; n < l->n; n++) memcpy(dz + (size_t)o * np + (size_t)n * p, dy + ((size_t)n * l->o + o) * p, (size_t)p * sizeof *dz);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->o, kk, np, 1, dz, np, cols, np, 0, dw1, kk);
            double t2 = now();
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, np, l->o, 1, w, kk, dz, np, 0, dcols, np);
            col2im(l, oh, dcols, dx1);
            double t3 = now();
            direct_forward(l, oh, x, w, b, y2);
            double t4 = now();
            direct_weight_grad(l, oh, x, dy, dw2);
            double t5 = now();
            direct_input_grad(l, oh, w, dy, dx2);
            double t6 = now();
            double d[6] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5};
            for (int k = 0; k < 6; k++) t[k * reps + r] = d[k];
        }
        double med[6];
        for (int k = 0; k < 6; k++) {
            qsort(t + k * reps, (size_t)reps, sizeof *t, cmp_double);
            med[k] = t[k * reps + reps / 2] * 1e6;
        }
        const char *parts[3] = {"forward (bias, ReLU)", "weight gradient", "input gradient"};
        double agree[3] = {max_rel_diff(y1, y2, ys), max_rel_diff(dw1, dw2, ws), max_rel_diff(dx1, dx2, xs)};
        for (int k = 0; k < 3; k++)
            printf("| %s: %d, %d→%d, %d×%d, %d, %d | %s | %.1f | %.1f | %.2f | %.1e |\n", l->name, l->n, l->c, l->o, l->h, l->h,
                   l->k, l->pad, parts[k], med[k], med[k + 3], med[k + 3] / med[k], agree[k]);
        free(x), free(w), free(b), free(dy), free(cols), free(dcols), free(z), free(dz);
        free(y1), free(y2), free(dw1), free(dw2), free(dx1), free(dx2), free(t);
    }
    return 0;
}
