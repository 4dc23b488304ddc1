/* linreg_model.c: a hand-written stand-in for generated code, without BLAS: weight -> MPG.
 *
 *     model cars_linreg {
 *         input  x: f32[N, 1]
 *         target y: f32[N, 1]
 *         layer lin = Linear(1, 1)
 *         forward {
 *             pred = lin(x)
 *             output pred
 *             loss mse(pred, y)
 *         }
 *         train {
 *             optimizer adam(lr: 0.5)
 *             batch full
 *             epochs 100
 *             metric mae
 *             normalize x
 *             validation 0.2
 *             data "cars.csv"
 *             columns x: "Weight_in_lbs", y: "Miles_per_Gallon"
 *         }
 *     }
 */
#include <math.h>

#include "dlc_model.h"

#ifndef DATA_PATH
#define DATA_PATH "cars.csv"
#endif

static size_t arena_bytes(int64_t n) { return (size_t)n * sizeof(float); /* pred */ }

static void forward(const dlc_step *s, float *pred) {
    const float *x = s->data[0], *w = s->params[0], *b = s->params[1];
    for (int64_t r = 0; r < s->n; r++) pred[r] = x[r] * w[0] + b[0];
}

static float mse(const float *pred, const float *y, int64_t n) {
    double sum = 0;
    for (int64_t r = 0; r < n; r++) sum += (double)(pred[r] - y[r]) * (pred[r] - y[r]);
    return (float)(sum / (double)n);
}

static float train_step(const dlc_step *s) {
    float *pred = s->arena;
    const float *x = s->data[0], *y = s->data[1];
    forward(s, pred);
    float gw = 0, gb = 0;
    for (int64_t r = 0; r < s->n; r++) {
        float d = 2.0f * (pred[r] - y[r]) / (float)s->n;
        gw += d * x[r];
        gb += d;
    }
    s->grads[0][0] = gw;
    s->grads[1][0] = gb;
    return mse(pred, y, s->n);
}

static float eval_step(const dlc_step *s, void *const *outputs) {
    float *pred = outputs[0];
    forward(s, pred);
    return s->has_targets ? mse(pred, s->data[1], s->n) : NAN;
}

static const dlc_param_desc params[] = {
    {"lin.weight", 2, {1, 1}, 1, {DLC_INIT_KAIMING_UNIFORM, 0, 0, NULL}},
    {"lin.bias", 1, {1}, 1, {DLC_INIT_UNIFORM, -1, 1, NULL}},
};
static const dlc_data_desc data[] = {
    {"x", 0, DLC_F32, 1, {1}, 1, 0},
    {"y", 1, DLC_F32, 1, {1}, 1, 0},
};
static const dlc_output_desc outputs[] = {{"pred", DLC_F32, 1, 1, {1}, 1}};
static const char *const normalize[] = {"x"};
static const dlc_column_binding columns[] = {{"x", "Weight_in_lbs"}, {"y", "Miles_per_Gallon"}};

/* Plain loops, no BLAS call at any batch size: the runtime keeps OpenBLAS to one thread. */
static int uses_blas(int64_t n) {
    (void)n;
    return 0;
}

const dlc_model dlc_generated_model = {
    .name = "cars_linreg",
    .n_params = 2, .params = params,
    .n_data = 2, .data = data,
    .n_outputs = 1, .outputs = outputs,
    .loss = DLC_LOSS_OTHER,
    .metric_output = 0, .metric_target = 1,
    .config = {
        .optimizer = {DLC_OPT_ADAM, 0.5, 0, 0, 0, 0.9, 0.999, 1e-8},
        .batch = 0, .drop_last = 0, .epochs = 100, .steps = 1, .shuffle = 1,
        .schedule = {DLC_SCHED_NONE, 10, 0.5, 0, 0.1, 10, 1e-4},
        .accumulate = 1, .metric = DLC_METRIC_MAE, .seed = 0,
        .n_normalize = 1, .normalize = normalize,
        .data = DATA_PATH, .n_columns = 2, .columns = columns,
        .validation = 0.2,
    },
    .arena_bytes = arena_bytes, .train_step = train_step, .eval_step = eval_step, .train_flops = NULL,
    .uses_blas = uses_blas,
};
