/* fuzz_model.c: the model descriptor the fuzz targets read files for (see fuzz_support.h).
 * Readers only look at the descriptor; the kernels are never called, so they do nothing. */
#include "fuzz_support.h"

static size_t arena_bytes(int64_t n) { return (size_t)n; }
static float train_step(const dlc_step *s) { (void)s; return 0; }
static float eval_step(const dlc_step *s, void *const *out) { (void)s; (void)out; return 0; }

static const dlc_param_desc params[] = {
    {"w", 2, {2, 3}, 6, {DLC_INIT_NORMAL, 0, 1, NULL}},
    {"b", 1, {3}, 3, {DLC_INIT_ZEROS, 0, 0, NULL}},
    {"s", 0, {0}, 1, {DLC_INIT_CONSTANT, 0.5, 0, NULL}},
};
static const dlc_data_desc data[] = {
    {"x", 0, DLC_F32, 1, {3}, 3, 0},
    {"y", 1, DLC_I32, 0, {0}, 1, 4},
};
static const dlc_output_desc outputs[] = {{"logits", DLC_F32, 1, 1, {4}, 4}};
static const char *const normalize[] = {"x"};

const dlc_model dlc_fuzz_model = {
    .name = "fuzz",
    .n_params = 3, .params = params,
    .n_data = 2, .data = data,
    .n_outputs = 1, .outputs = outputs,
    .loss = DLC_LOSS_OTHER,
    .metric_output = 0, .metric_target = 1,
    .config = {
        .optimizer = {DLC_OPT_SGD, 0.1, 0.9, 0, 0, 0.9, 0.999, 1e-8},
        .batch = 4, .drop_last = 0, .epochs = 2, .steps = 1, .shuffle = 1,
        .schedule = {DLC_SCHED_NONE, 10, 0.5, 0, 0.1, 10, 1e-4},
        .accumulate = 1, .metric = DLC_METRIC_ACCURACY, .seed = 0,
        .n_normalize = 1, .normalize = normalize,
        .data = "data.csv", .validation = 0.25,
    },
    .arena_bytes = arena_bytes, .train_step = train_step, .eval_step = eval_step,
};
