/* grid_model.c: a hand-written stand-in for generated code with a gather (LineGrid):
 *
 *     model line_grid {
 *         const n = 20
 *         const d = 2
 *         input  x: f32[N]
 *         target y: f32[N, d]
 *         param grid: f32[n + 1, d] = normal(0, 1)
 *         forward {
 *             i = floor(x)
 *             a = unsqueeze(x - i, 1)
 *             k = int(i)
 *             pred = grid[k] * (1 - a) + grid[k + 1] * a      # line 12
 *             output pred
 *             loss mse(pred, y)
 *         }
 *         train { optimizer sgd(lr: 0.5)  batch 25  epochs 31  data "line_grid.csv" }
 *     }
 *
 * The gather checks its index and reports the source line through dlc_index_error. */
#include <math.h>
#include <string.h>

#include "dlc_model.h"

#ifndef DATA_PATH
#define DATA_PATH "line_grid.csv"
#endif

enum { ROWS = 21, D = 2 };

static size_t arena_bytes(int64_t n) { return (size_t)n * (D * sizeof(float) + 2 * sizeof(int32_t) + sizeof(float)); }

/* pred, the two gather indices and the weight a, for each row. */
static void forward(const dlc_step *s, float *pred, int32_t *k0, int32_t *k1, float *a) {
    const float *x = s->data[0], *grid = s->params[0];
    for (int64_t r = 0; r < s->n; r++) {
        float i = floorf(x[r]);
        a[r] = x[r] - i;
        k0[r] = (int32_t)i;
        k1[r] = k0[r] + 1;
        if (k0[r] < 0 || k0[r] >= ROWS) dlc_index_error("line_grid.dl:12:16", k0[r], ROWS);
        if (k1[r] < 0 || k1[r] >= ROWS) dlc_index_error("line_grid.dl:12:37", k1[r], ROWS);
        for (int j = 0; j < D; j++) pred[r * D + j] = grid[k0[r] * D + j] * (1 - a[r]) + grid[k1[r] * D + j] * a[r];
    }
}

static float mse(const float *pred, const float *y, int64_t count) {
    double sum = 0;
    for (int64_t i = 0; i < count; i++) sum += (double)(pred[i] - y[i]) * (pred[i] - y[i]);
    return (float)(sum / (double)count);
}

typedef struct { float *pred, *a; int32_t *k0, *k1; } buffers;

static buffers carve(void *arena, int64_t n) {
    buffers b;
    b.pred = arena;
    b.a = b.pred + n * D;
    b.k0 = (int32_t *)(b.a + n);
    b.k1 = b.k0 + n;
    return b;
}

static float train_step(const dlc_step *s) {
    buffers b = carve(s->arena, s->n);
    const float *y = s->data[1];
    forward(s, b.pred, b.k0, b.k1, b.a);
    float *g = s->grads[0];
    memset(g, 0, ROWS * D * sizeof(float));
    /* The gather's gradient is a scatter-add. */
    for (int64_t r = 0; r < s->n; r++)
        for (int j = 0; j < D; j++) {
            float dp = 2.0f * (b.pred[r * D + j] - y[r * D + j]) / (float)(s->n * D);
            g[b.k0[r] * D + j] += dp * (1 - b.a[r]);
            g[b.k1[r] * D + j] += dp * b.a[r];
        }
    return mse(b.pred, y, s->n * D);
}

static float eval_step(const dlc_step *s, void *const *outputs) {
    buffers b = carve(s->arena, s->n);
    forward(s, outputs[0], b.k0, b.k1, b.a);
    return s->has_targets ? mse(outputs[0], s->data[1], s->n * D) : NAN;
}

static const dlc_param_desc params[] = {{"grid", 2, {ROWS, D}, ROWS * D, {DLC_INIT_NORMAL, 0, 1, NULL}}};
static const dlc_data_desc data[] = {
    {"x", 0, DLC_F32, 0, {0}, 1, 0},
    {"y", 1, DLC_F32, 1, {D}, D, 0},
};
static const dlc_output_desc outputs[] = {{"pred", DLC_F32, 1, 1, {D}, D}};

const dlc_model dlc_generated_model = {
    .name = "line_grid",
    .n_params = 1, .params = params,
    .n_data = 2, .data = data,
    .n_outputs = 1, .outputs = outputs,
    .loss = DLC_LOSS_OTHER,
    .metric_output = 0, .metric_target = 1,
    .config = {
        .optimizer = {DLC_OPT_SGD, 0.5, 0, 0, 0, 0.9, 0.999, 1e-8},
        .batch = 25, .drop_last = 0, .epochs = 31, .steps = 1, .shuffle = 1,
        .schedule = {DLC_SCHED_NONE, 10, 0.5, 0, 0.1, 10, 1e-4},
        .accumulate = 1, .metric = DLC_METRIC_MSE, .seed = 0,
        .data = DATA_PATH, .validation = 0,
    },
    .arena_bytes = arena_bytes, .train_step = train_step, .eval_step = eval_step, .train_flops = NULL,
};
