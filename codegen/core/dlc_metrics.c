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

#include "dlc_count_item.h"

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

void dlc_count_host(const dlc_count *c, const void *out, const void *tgt, double *sum) {
    for (int64_t g = 0; g < c->items; g++) *sum += dlc_count_item(c, out, tgt, g);
}

dlc_count dlc_metric_count(const dlc_model *m, dlc_metric_kind metric, int64_t n) {
    const dlc_output_desc *o = &m->outputs[m->metric_output];
    target_shape t = metric_target(m);
    int64_t size = o->size, c = columns(o);
    dlc_count k = {DLC_COUNT_SQUARED, o->dtype == DLC_I32, t.dtype == DLC_I32, n * size, 1, 0.0};
    if (metric == DLC_METRIC_MAE) k.kind = DLC_COUNT_ABSOLUTE;
    if (metric != DLC_METRIC_ACCURACY) return k;
    if (c > 1) {
        k.kind = t.size == size && t.size * c != size ? DLC_COUNT_ARGMAX_ONEHOT : DLC_COUNT_ARGMAX;
        k.items = n * size / c;
        k.columns = c;
    } else {
        k.kind = DLC_COUNT_ABOVE;
        k.cut = m->loss == DLC_LOSS_BCE_LOGITS || m->loss == DLC_LOSS_HINGE ? 0.0 : 0.5;
    }
    return k;
}

double *dlc_metrics_sum(dlc_metrics *acc, dlc_metric_kind metric) {
    return metric == DLC_METRIC_ACCURACY ? &acc->correct : &acc->err_sum;
}

void dlc_metrics_tally(const dlc_model *m, dlc_metric_kind metric, dlc_metrics *acc, int64_t n, float loss) {
    acc->loss_sum += (double)loss * (double)n;
    acc->rows += n;
    if (metric == DLC_METRIC_NONE) return;
    dlc_count k = dlc_metric_count(m, metric, n);
    if (metric == DLC_METRIC_ACCURACY) acc->predictions += (double)k.items;
    else acc->elements += k.items;
}

void dlc_metrics_add(const dlc_model *m, dlc_metric_kind metric, dlc_metrics *acc, int64_t n, float loss,
                     void *const *outputs, const void *const *data) {
    dlc_metrics_tally(m, metric, acc, n, loss);
    if (metric == DLC_METRIC_NONE) return;
    dlc_count k = dlc_metric_count(m, metric, n);
    const void *tgt = m->metric_target_output ? outputs[m->n_outputs] : data[m->metric_target];
    dlc_count_host(&k, outputs[m->metric_output], tgt, dlc_metrics_sum(acc, metric));
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
