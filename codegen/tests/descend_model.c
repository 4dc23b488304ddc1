/* descend_model.c: a hand-written stand-in for generated code of a model without data:
 *
 *     model descend {
 *         param x: f32 = 1.0
 *         forward {
 *             output x
 *             loss -x ** 2 + 10 * x * log(x)
 *         }
 *         train { optimizer sgd(lr: 0.02)  steps 20 }
 *     }
 *
 * Gradient descent on f(x) = -x^2 + 10 x log(x) from x = 1 converges to x ~ 0.398. */
#include <math.h>

#include "dlc_model.h"

static size_t arena_bytes(int64_t n) { (void)n; return 0; }

static float loss_of(float x) { return -x * x + 10.0f * x * logf(x); }

static float train_step(const dlc_step *s) {
    float x = s->params[0][0];
    s->grads[0][0] = -2.0f * x + 10.0f * logf(x) + 10.0f;
    return loss_of(x);
}

static float eval_step(const dlc_step *s, void *const *outputs) {
    ((float *)outputs[0])[0] = s->params[0][0];
    return loss_of(s->params[0][0]);
}

static const dlc_param_desc params[] = {{"x", 0, {0}, 1, {DLC_INIT_CONSTANT, 1.0, 0, NULL}}};
static const dlc_output_desc outputs[] = {{"x", DLC_F32, 0, 0, {0}, 1}};

const dlc_model dlc_generated_model = {
    .name = "descend",
    .n_params = 1, .params = params,
    .n_data = 0, .data = NULL,
    .n_outputs = 1, .outputs = outputs,
    .loss = DLC_LOSS_OTHER,
    .metric_output = -1, .metric_target = -1,
    .config = {
        .optimizer = {DLC_OPT_SGD, 0.02, 0, 0, 0, 0.9, 0.999, 1e-8},
        .batch = 64, .epochs = 1, .steps = 20, .shuffle = 1,
        .schedule = {DLC_SCHED_NONE, 10, 0.5, 0, 0.1, 10, 1e-4},
        .accumulate = 1, .metric = DLC_METRIC_NONE, .seed = 0,
    },
    .arena_bytes = arena_bytes, .train_step = train_step, .eval_step = eval_step, .train_flops = NULL,
};
