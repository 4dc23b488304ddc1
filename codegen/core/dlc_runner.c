/* dlc_runner.c: a model ready to run on the device, and forward passes over a data set.
 *
 * The runner holds what the kernels read and write (params, state, gradients, arena, outputs)
 * in device memory, and host copies of the params, state and outputs for everything else; on
 * the host device the copies are the same memory and nothing is copied. */
#include "dlc_runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t output_bytes(const dlc_output_desc *o, int64_t rows) {
    return dlc_mul_size(dlc_mul_size((size_t)o->size, o->batched ? (size_t)rows : 1), 4);
}

/* The outputs eval_step writes: the model's, then the metric's computed target when it has one
 * (dlc_model.metric_target_output, in outputs[n_outputs]). */
static int runner_outputs(const dlc_model *m) { return m->n_outputs + (m->metric_target_output != NULL); }

static const dlc_output_desc *output_desc(const dlc_model *m, int i) {
    return i < m->n_outputs ? &m->outputs[i] : m->metric_target_output;
}

void dlc_runner_init(dlc_runner *r, const dlc_model *m, int64_t max_rows) {
    memset(r, 0, sizeof *r);
    r->m = m;
    r->max_rows = max_rows < 1 ? 1 : max_rows;
    dlc_layout_make(m, &r->layout);
    size_t bytes = dlc_mul_size((size_t)r->layout.total, sizeof(float));
    int host = dlc_device_is_host();
    r->dev_params = dlc_device_alloc(bytes);
    r->grads = dlc_device_alloc(bytes);
    r->params = host ? r->dev_params : dlc_xcalloc((size_t)r->layout.total + 1, sizeof(float));
    r->param_views = dlc_layout_views(m, &r->layout, r->dev_params);
    r->grad_views = dlc_layout_views(m, &r->layout, r->grads);
    r->state = dlc_xcalloc((size_t)m->n_state + 1, sizeof *r->state);
    r->dev_state = dlc_xcalloc((size_t)m->n_state + 1, sizeof *r->dev_state);
    for (int i = 0; i < m->n_state; i++) {
        const dlc_state_desc *d = &m->state[i];
        size_t n = dlc_mul_size((size_t)d->size, 4);
        r->dev_state[i] = dlc_device_alloc(n);
        r->state[i] = host ? r->dev_state[i] : dlc_aligned_alloc(n);
        for (int64_t k = 0; k < d->size; k++) {
            if (d->dtype == DLC_F32) ((float *)r->state[i])[k] = (float)d->init;
            else ((int32_t *)r->state[i])[k] = (int32_t)d->init;
        }
    }
    r->arena = dlc_device_alloc(m->arena_bytes(r->max_rows));
    r->dev_outputs = dlc_xcalloc((size_t)m->n_outputs + 1, sizeof *r->dev_outputs);
    r->outputs = dlc_xcalloc((size_t)m->n_outputs + 1, sizeof *r->outputs);
    for (int i = 0; i < runner_outputs(m); i++) {
        size_t n = output_bytes(output_desc(m, i), r->max_rows);
        r->dev_outputs[i] = dlc_device_alloc(n);
        r->outputs[i] = host ? r->dev_outputs[i] : dlc_aligned_alloc(n);
    }
    dlc_rows_watch(r); /* an index error in its steps is traced to a data row */
}

void dlc_runner_free(dlc_runner *r) {
    dlc_rows_watch(NULL);
    int host = dlc_device_is_host();
    for (int i = 0; i < runner_outputs(r->m); i++) {
        if (!host) free(r->outputs[i]);
        dlc_device_free(r->dev_outputs[i]);
    }
    free(r->outputs);
    free(r->dev_outputs);
    dlc_device_free(r->arena);
    for (int i = 0; i < r->m->n_state; i++) {
        if (!host) free(r->state[i]);
        dlc_device_free(r->dev_state[i]);
    }
    free(r->state);
    free(r->dev_state);
    free(r->param_views);
    free(r->grad_views);
    if (!host) free(r->params);
    dlc_device_free(r->dev_params);
    dlc_device_free(r->grads);
    free(r->layout.offset);
}

static size_t state_bytes(const dlc_runner *r, int i) { return dlc_mul_size((size_t)r->m->state[i].size, 4); }

void dlc_runner_params_to_device(dlc_runner *r) {
    dlc_device_copy_in(r->dev_params, r->params, (size_t)r->layout.total * sizeof(float));
    if (dlc_device_is_host()) return;
    for (int i = 0; i < r->m->n_state; i++) dlc_device_copy_in(r->dev_state[i], r->state[i], state_bytes(r, i));
}

void dlc_runner_params_to_host(dlc_runner *r) {
    dlc_device_copy_out(r->params, r->dev_params, (size_t)r->layout.total * sizeof(float));
    if (dlc_device_is_host()) return;
    for (int i = 0; i < r->m->n_state; i++) dlc_device_copy_out(r->state[i], r->dev_state[i], state_bytes(r, i));
}

dlc_step dlc_runner_step(dlc_runner *r, int64_t n, const void *const *data, const dlc_dropout *dropout, int training) {
    dlc_step s = {n, data, 1, (const float *const *)r->param_views, r->grad_views, r->arena, dropout, training, 0.0f,
                  (void *const *)r->dev_state, n};
    return s;
}

void dlc_check_batch_rows(const dlc_model *m, int64_t n_train, int64_t batch, int drop_last) {
    if (!m->needs_two_rows || n_train <= 0) return;
    int64_t last = n_train % batch;
    if (batch > 1 && !(last == 1 && !drop_last)) return;
    dlc_die(1, "%s: a training batch of 1 row leaves batch normalization a single value per channel "
            "(%lld training rows in batches of %lld); use drop_last true (--drop-last true) or another batch size",
            m->needs_two_rows, (long long)n_train, (long long)batch);
}

void dlc_set_threads(const dlc_model *m, int threads, int64_t rows) {
    int calls_blas = !(m->uses_blas && !m->uses_blas(rows));
    int sharing = dlc_comm_local_size();
    if (threads <= 0 && calls_blas && sharing > 1) { /* not every process on every core */
        threads = dlc_cpu_count() / sharing;
        if (threads < 1) threads = 1;
    }
    dlc_device_threads(threads, calls_blas);
}

/* The forward pass, its outputs left on the device. */
static float forward_on_device(dlc_runner *r, int64_t n, const void *const *data) {
    const dlc_model *m = r->m;
    int has_targets = 1;
    for (int t = 0; t < m->n_data; t++)
        if (m->data[t].is_target && !data[t]) has_targets = 0;
    const dlc_dropout none = {0, 0}; /* eval_step draws no masks */
    dlc_step s = dlc_runner_step(r, n, data, &none, 0);
    s.has_targets = has_targets;
    return m->eval_step(&s, r->dev_outputs);
}

float dlc_forward(dlc_runner *r, int64_t n, const void *const *data) {
    const dlc_model *m = r->m;
    float loss = forward_on_device(r, n, data);
    if (!dlc_device_is_host())
        for (int i = 0; i < runner_outputs(m); i++)
            dlc_device_copy_out(r->outputs[i], r->dev_outputs[i], output_bytes(output_desc(m, i), n));
    return loss;
}

void dlc_share_of(int rank, int64_t n, int64_t *lo, int64_t *hi) {
    int64_t k = dlc_comm_size();
    *lo = n * rank / k;
    *hi = n * (rank + 1) / k;
}

void dlc_share(int64_t n, int64_t *lo, int64_t *hi) { dlc_share_of(dlc_comm_rank(), n, lo, hi); }

/* The sums of every process's metrics (counts are exact in a double up to 2^53). */
static void reduce_metrics(dlc_metrics *acc) {
    double v[6] = {acc->loss_sum, (double)acc->rows, acc->correct, acc->predictions, acc->err_sum, (double)acc->elements};
    dlc_comm_allreduce_sum_host(v, 6);
    acc->loss_sum = v[0];
    acc->rows = (int64_t)v[1];
    acc->correct = v[2];
    acc->predictions = v[3];
    acc->err_sum = v[4];
    acc->elements = (int64_t)v[5];
}

void dlc_evaluate(dlc_runner *r, const dlc_dataset *ds, int64_t batch, dlc_metric_kind metric, dlc_metrics *acc) {
    const dlc_model *m = r->m;
    memset(acc, 0, sizeof *acc);
    if (!dlc_model_has_data(m)) { /* one pass on the params alone: every process makes it */
        const void *none[1] = {NULL};
        dlc_metrics_add(m, DLC_METRIC_NONE, acc, 1, dlc_forward(r, 1, none), r->outputs, none);
        return;
    }
    int64_t b = batch > 0 && batch < ds->n ? batch : ds->n;
    int64_t k = dlc_comm_size(), first = dlc_comm_rank();
    /* The metric is counted where the outputs are; its sum comes back once, at the end. */
    double *sum = metric != DLC_METRIC_NONE ? dlc_device_alloc(sizeof(double)) : NULL;
    dlc_batch bt;
    dlc_batch_init(m, b, &bt);
    for (int64_t start = first * b; start < ds->n; start += k * b) {
        int64_t n = ds->n - start < b ? ds->n - start : b;
        dlc_batch_fill(m, ds, NULL, start, n, &bt);
        float loss = forward_on_device(r, n, bt.ptr);
        dlc_metrics_tally(m, metric, acc, n, loss);
        if (!sum) continue;
        dlc_count c = dlc_metric_count(m, metric, n);
        const void *target = m->metric_target_output ? r->dev_outputs[m->n_outputs] : bt.ptr[m->metric_target];
        dlc_device_count(&c, r->dev_outputs[m->metric_output], target, sum);
    }
    dlc_batch_free(&bt);
    if (sum) {
        dlc_device_copy_out(dlc_metrics_sum(acc, metric), sum, sizeof(double));
        dlc_device_free(sum);
    }
    reduce_metrics(acc);
}
