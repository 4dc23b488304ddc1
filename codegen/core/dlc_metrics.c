/* dlc_metrics.c: the loss average and the `metric` setting (spec section 6).
 *
 * Losses average by example: each batch's mean loss is weighted by its rows. The metric
 * compares model->outputs[metric_output] with data[metric_target], or with the loss's computed
 * target (metric_target_output, written by eval_step after the outputs):
 * - accuracy, output with C > 1 columns (its last axis): the argmax of each group of C
 *   against the target's label there (a target with one value per group), or against the
 *   target's own argmax (a one-hot target, as many values as the output);
 * - accuracy, one column: output > 0.5 against target > 0.5 (bce and others), output > 0
 *   against target > 0 (bce_logits, hinge), element by element;
 * - mse / mae: mean squared / absolute difference over every element. */
#include "dlc_runtime.h"

#include <math.h>
#include <stdlib.h>

const char *dlc_metric_name(dlc_metric_kind k) {
    switch (k) {
    case DLC_METRIC_NONE: return "none";
    case DLC_METRIC_ACCURACY: return "accuracy";
    case DLC_METRIC_MSE: return "mse";
    case DLC_METRIC_MAE: return "mae";
    }
    return "?";
}

static int64_t columns(const dlc_output_desc *o) { return o->rank > 0 ? o->dims[o->rank - 1] : 1; }

/* What the metric compares with: its name, dtype and values per example. */
typedef struct {
    const char *name;
    dlc_dtype dtype;
    int64_t size;
} target_shape;

static target_shape metric_target(const dlc_model *m) {
    if (m->metric_target_output)
        return (target_shape){m->metric_target_output->name, m->metric_target_output->dtype, m->metric_target_output->size};
    const dlc_data_desc *d = &m->data[m->metric_target];
    return (target_shape){d->name, d->dtype, d->size};
}

void dlc_metric_check(const dlc_model *m, dlc_metric_kind metric) {
    if (metric == DLC_METRIC_NONE) return;
    const char *name = dlc_metric_name(metric);
    if (m->metric_output < 0 || m->metric_output >= m->n_outputs ||
        (!m->metric_target_output && (m->metric_target < 0 || m->metric_target >= m->n_data)))
        dlc_die(2, "--metric: %s needs an output and a target, and the model lacks one", name);
    const dlc_output_desc *o = &m->outputs[m->metric_output];
    target_shape t0 = metric_target(m);
    const target_shape *t = &t0;
    if (!o->batched) dlc_die(2, "--metric: %s needs an output with one row per example ('%s' has none)", name, o->name);
    int64_t c = columns(o);
    int ok = metric == DLC_METRIC_ACCURACY && c > 1 ? (t->size * c == o->size || t->size == o->size)
                                                    : t->size == o->size;
    if (!ok)
        dlc_die(2, "--metric: %s cannot compare '%s' (%lld values per example) with '%s' (%lld)", name, o->name,
                (long long)o->size, t->name, (long long)t->size);
}

static double value(const void *p, dlc_dtype dt, int64_t i) {
    return dt == DLC_F32 ? (double)((const float *)p)[i] : (double)((const int32_t *)p)[i];
}

/* The first index of the largest value among p[start .. start+n). NaN never wins. */
static int64_t argmax(const void *p, dlc_dtype dt, int64_t start, int64_t n) {
    int64_t best = 0;
    double bv = value(p, dt, start);
    for (int64_t k = 1; k < n; k++) {
        double v = value(p, dt, start + k);
        if (v > bv || (isnan(bv) && !isnan(v))) best = k, bv = v;
    }
    return best;
}

void dlc_metrics_add(const dlc_model *m, dlc_metric_kind metric, dlc_metrics *acc, int64_t n, float loss,
                     void *const *outputs, const void *const *data) {
    acc->loss_sum += (double)loss * (double)n;
    acc->rows += n;
    if (metric == DLC_METRIC_NONE) return;
    const dlc_output_desc *o = &m->outputs[m->metric_output];
    target_shape t0 = metric_target(m);
    const target_shape *t = &t0;
    const void *out = outputs[m->metric_output];
    const void *tgt = m->metric_target_output ? outputs[m->n_outputs] : data[m->metric_target];
    int64_t size = o->size;
    if (metric == DLC_METRIC_ACCURACY) {
        int64_t c = columns(o);
        if (c > 1) {
            int onehot = t->size == size && t->size * c != size;
            for (int64_t g = 0; g < n * size / c; g++) {
                int64_t guess = argmax(out, o->dtype, g * c, c);
                double truth = onehot ? (double)argmax(tgt, t->dtype, g * c, c) : value(tgt, t->dtype, g);
                acc->correct += (double)guess == truth;
                acc->predictions += 1;
            }
        } else {
            double cut = m->loss == DLC_LOSS_BCE_LOGITS || m->loss == DLC_LOSS_HINGE ? 0.0 : 0.5;
            for (int64_t i = 0; i < n * size; i++) {
                acc->correct += (value(out, o->dtype, i) > cut) == (value(tgt, t->dtype, i) > cut);
                acc->predictions += 1;
            }
        }
        return;
    }
    for (int64_t i = 0; i < n * size; i++) {
        double d = value(out, o->dtype, i) - value(tgt, t->dtype, i);
        acc->err_sum += metric == DLC_METRIC_MSE ? d * d : fabs(d);
    }
    acc->elements += n * size;
}

double dlc_metrics_loss(const dlc_metrics *acc) { return acc->rows ? acc->loss_sum / (double)acc->rows : NAN; }

double dlc_metrics_value(dlc_metric_kind metric, const dlc_metrics *acc) {
    switch (metric) {
    case DLC_METRIC_ACCURACY: return acc->predictions ? acc->correct / acc->predictions : NAN;
    case DLC_METRIC_MSE: case DLC_METRIC_MAE: return acc->elements ? acc->err_sum / (double)acc->elements : NAN;
    case DLC_METRIC_NONE: break;
    }
    return NAN;
}
