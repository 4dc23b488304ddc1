/* mlp_model.c: a hand-written stand-in for generated code: the digits classifier
 *
 *     model digits_mlp {
 *         input  x: f32[N, 64]
 *         target y: i32[N]
 *         layer fc1 = Linear(64, 32)
 *         layer fc2 = Linear(32, 10)
 *         forward {
 *             h = dropout(relu(fc1(x)), p: 0.1)
 *             logits = fc2(h)
 *             output logits
 *             loss cross_entropy(logits, y)
 *         }
 *         train {
 *             optimizer sgd(lr: 0.005, momentum: 0.9)
 *             batch 32
 *             epochs 10
 *             metric accuracy
 *             validation 0.2
 *             data "digits.csv"
 *         }
 *     }
 *
 * It shows what the compiler must emit: the descriptor, arena_bytes, train_step (forward,
 * backward, gradients overwritten) and eval_step (forward, dropout off, outputs written). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dlc_model.h"

#ifndef DATA_PATH
#define DATA_PATH "digits.csv"
#endif

enum { IN = 64, HID = 32, OUT = 10 };
static const float P_DROP = 0.1f;

/* The arena for n rows: pre/post-activation, dropout scale, logits, probabilities, and the
 * backward's d(logits) and d(h), each n rows wide. */
typedef struct {
    float *h, *mask, *d, *logits, *dlogits, *dd;
} buffers;

static size_t arena_bytes(int64_t n) { return (size_t)n * (3 * HID + 2 * OUT + HID) * sizeof(float); }

static buffers carve(void *arena, int64_t n) {
    float *p = arena;
    buffers b;
    b.h = p, p += n * HID;
    b.mask = p, p += n * HID;
    b.d = p, p += n * HID;
    b.logits = p, p += n * OUT;
    b.dlogits = p, p += n * OUT;
    b.dd = p;
    return b;
}

/* logits = fc2(dropout(relu(fc1(x)))); the dropout draws only when training. */
static void forward(const dlc_step *s, buffers *b) {
    const float *x = s->data[0];
    const float *w1 = s->params[0], *b1 = s->params[1], *w2 = s->params[2], *b2 = s->params[3];
    int64_t n = s->n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, HID, IN, 1.0f, x, IN, w1, IN, 0.0f, b->h, HID);
    for (int64_t r = 0; r < n; r++)
        for (int j = 0; j < HID; j++) {
            float v = b->h[r * HID + j] + b1[j];
            b->h[r * HID + j] = v > 0 ? v : 0;
        }
    /* Dropout site 0, each element's own draw (docs/rng.md): row r at first_row + r. */
    const float scale = 1.0f / (1.0f - P_DROP);
    const uint64_t site = dlc_rng_draw(s->dropout->epoch_key, 0);
    for (int64_t r = 0; r < n; r++) {
        const uint64_t row = dlc_rng_draw(site, (uint64_t)(s->dropout->first_row + r));
        for (int j = 0; j < HID; j++) {
            int64_t i = r * HID + j;
            b->mask[i] = s->training ? (dlc_rng_unit(dlc_rng_draw(row, (uint64_t)j)) >= P_DROP ? scale : 0.0f) : 1.0f;
            b->d[i] = b->h[i] * b->mask[i];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, OUT, HID, 1.0f, b->d, HID, w2, HID, 0.0f, b->logits, OUT);
    for (int64_t r = 0; r < n; r++)
        for (int k = 0; k < OUT; k++) b->logits[r * OUT + k] += b2[k];
}

/* Mean cross-entropy; with `grad`, also d(loss)/d(logits) = (softmax - onehot) / n. */
static float cross_entropy(const float *z, const int32_t *y, int64_t n, float *grad) {
    double total = 0;
    for (int64_t r = 0; r < n; r++) {
        const float *zr = z + r * OUT;
        float m = zr[0];
        for (int k = 1; k < OUT; k++) m = zr[k] > m ? zr[k] : m;
        float sum = 0;
        for (int k = 0; k < OUT; k++) sum += expf(zr[k] - m);
        float lse = m + logf(sum);
        total += lse - zr[y[r]];
        if (grad)
            for (int k = 0; k < OUT; k++) grad[r * OUT + k] = (expf(zr[k] - lse) - (k == y[r] ? 1.0f : 0.0f)) / (float)n;
    }
    return (float)(total / (double)n);
}

static float train_step(const dlc_step *s) {
    buffers b = carve(s->arena, s->n);
    int64_t n = s->n;
    forward(s, &b);
    float loss = cross_entropy(b.logits, s->data[1], n, b.dlogits);
    const float *x = s->data[0], *w2 = s->params[2];
    float *gw1 = s->grads[0], *gb1 = s->grads[1], *gw2 = s->grads[2], *gb2 = s->grads[3];
    /* fc2 */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, HID, (int)n, 1.0f, b.dlogits, OUT, b.d, HID, 0.0f, gw2, HID);
    memset(gb2, 0, OUT * sizeof(float));
    for (int64_t r = 0; r < n; r++)
        for (int k = 0; k < OUT; k++) gb2[k] += b.dlogits[r * OUT + k];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, HID, OUT, 1.0f, b.dlogits, OUT, w2, HID, 0.0f, b.dd, HID);
    /* dropout and relu (relu'(0) = 0) */
    for (int64_t i = 0; i < n * HID; i++) b.dd[i] = b.h[i] > 0 ? b.dd[i] * b.mask[i] : 0.0f;
    /* fc1 */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, HID, IN, (int)n, 1.0f, b.dd, HID, x, IN, 0.0f, gw1, IN);
    memset(gb1, 0, HID * sizeof(float));
#ifdef BROKEN_GRADIENT /* run.sh checks that gradcheck notices a 5% error */
    for (int i = 0; i < HID * IN; i++) gw1[i] *= 1.05f;
#endif
    for (int64_t r = 0; r < n; r++)
        for (int j = 0; j < HID; j++) gb1[j] += b.dd[r * HID + j];
    return loss;
}

static float eval_step(const dlc_step *s, void *const *outputs) {
    buffers b = carve(s->arena, s->n);
    forward(s, &b);
    memcpy(outputs[0], b.logits, (size_t)s->n * OUT * sizeof(float));
    return s->has_targets ? cross_entropy(b.logits, s->data[1], s->n, NULL) : NAN;
}

static double train_flops(int64_t n) { return 3.0 * 2.0 * (double)n * (IN * HID + HID * OUT); }

static const dlc_param_desc params[] = {
    {"fc1.weight", 2, {HID, IN}, HID * IN, {DLC_INIT_KAIMING_UNIFORM, 0, 0, NULL}},
    {"fc1.bias", 1, {HID}, HID, {DLC_INIT_UNIFORM, -0.125, 0.125, NULL}},
    {"fc2.weight", 2, {OUT, HID}, OUT * HID, {DLC_INIT_KAIMING_UNIFORM, 0, 0, NULL}},
    {"fc2.bias", 1, {OUT}, OUT, {DLC_INIT_UNIFORM, -0.17677669529663687, 0.17677669529663687, NULL}},
};

static const dlc_data_desc data[] = {
    {"x", 0, DLC_F32, 1, {IN}, IN, 0},
    {"y", 1, DLC_I32, 0, {0}, 1, OUT},
};

static const dlc_output_desc outputs[] = {
    {"logits", DLC_F32, 1, 1, {OUT}, OUT},
};

const dlc_model dlc_generated_model = {
    .name = "digits_mlp",
    .n_params = 4,
    .params = params,
    .n_data = 2,
    .data = data,
    .n_outputs = 1,
    .outputs = outputs,
    .loss = DLC_LOSS_OTHER,
    .metric_output = 0,
    .metric_target = 1,
    .config = {
        .optimizer = {DLC_OPT_SGD, 0.005, 0.9, 0, 0, 0.9, 0.999, 1e-8},
        .batch = 32,
        .drop_last = 0,
        .epochs = 10,
        .steps = 1,
        .shuffle = 1,
        .schedule = {DLC_SCHED_NONE, 10, 0.5, 0, 0.1, 10, 1e-4},
        .accumulate = 1,
        .metric = DLC_METRIC_ACCURACY,
        .seed = 0,
        .n_normalize = 0,
        .normalize = NULL,
        .data = DATA_PATH,
        .n_columns = 0,
        .columns = NULL,
        .validation = 0.2,
    },
    .arena_bytes = arena_bytes,
    .train_step = train_step,
    .eval_step = eval_step,
    .train_flops = train_flops,
};
