/* dlc_eval.c: running the forward pass over a data set, and the `eval` and `predict` commands.
 *
 * Both read every row of the data in file order (no split, no shuffle, dropout off) with the
 * params and normalize statistics of --weights. */
#include "dlc_runtime.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t output_bytes(const dlc_output_desc *o, int64_t rows) {
    return dlc_mul_size(dlc_mul_size((size_t)o->size, o->batched ? (size_t)rows : 1), 4);
}

void dlc_runner_init(dlc_runner *r, const dlc_model *m, int64_t max_rows) {
    memset(r, 0, sizeof *r);
    r->m = m;
    r->max_rows = max_rows < 1 ? 1 : max_rows;
    dlc_layout_make(m, &r->layout);
    size_t bytes = dlc_mul_size((size_t)r->layout.total, sizeof(float));
    r->params = dlc_aligned_alloc(bytes);
    r->grads = dlc_aligned_alloc(bytes);
    memset(r->params, 0, bytes);
    memset(r->grads, 0, bytes);
    r->param_views = dlc_layout_views(m, &r->layout, r->params);
    r->grad_views = dlc_layout_views(m, &r->layout, r->grads);
    r->state = dlc_xcalloc((size_t)m->n_state + 1, sizeof *r->state);
    for (int i = 0; i < m->n_state; i++) {
        const dlc_state_desc *d = &m->state[i];
        r->state[i] = dlc_aligned_alloc(dlc_mul_size((size_t)d->size, 4));
        for (int64_t k = 0; k < d->size; k++) {
            if (d->dtype == DLC_F32) ((float *)r->state[i])[k] = (float)d->init;
            else ((int32_t *)r->state[i])[k] = (int32_t)d->init;
        }
    }
    r->arena = dlc_aligned_alloc(m->arena_bytes(r->max_rows));
    r->outputs = dlc_xcalloc((size_t)m->n_outputs + 1, sizeof *r->outputs);
    for (int i = 0; i < m->n_outputs; i++) r->outputs[i] = dlc_aligned_alloc(output_bytes(&m->outputs[i], r->max_rows));
    /* The metric's computed target follows the outputs (dlc_model.metric_target_output). */
    if (m->metric_target_output)
        r->outputs[m->n_outputs] = dlc_aligned_alloc(output_bytes(m->metric_target_output, r->max_rows));
    dlc_rows_watch(r); /* an index error in its steps is traced to a data row */
}

/* OpenBLAS's own: joins its worker threads (a later multi-threaded call would start them
 * again). Weak, so that a BLAS without it links too. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void dlc_set_threads(const dlc_model *m, int threads, int64_t rows) {
    if (threads <= 0 && !(m->uses_blas && !m->uses_blas(rows))) return; /* OpenBLAS's default */
    int n = threads > 0 ? threads : 1;
    openblas_set_num_threads(n);
    /* OpenBLAS starts its workers when it loads, and an idle worker spins in sched_yield for
     * 2^28 clock ticks (about 0.1 s) before it sleeps, and again after every call it serves;
     * with one thread they never get work, so they go now rather than burn a core. */
    if (n == 1 && blas_thread_shutdown_) blas_thread_shutdown_();
}

dlc_step dlc_runner_step(dlc_runner *r, int64_t n, const void *const *data, const dlc_dropout *dropout, int training) {
    dlc_step s = {n, data, 1, (const float *const *)r->param_views, r->grad_views, r->arena, dropout, training, 0.0f,
                  (void *const *)r->state};
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

void dlc_runner_free(dlc_runner *r) {
    dlc_rows_watch(NULL);
    for (int i = 0; i < r->m->n_state; i++) free(r->state[i]);
    free(r->state);
    for (int i = 0; i < r->m->n_outputs + (r->m->metric_target_output != NULL); i++) free(r->outputs[i]);
    free(r->outputs);
    free(r->arena);
    free(r->param_views);
    free(r->grad_views);
    free(r->params);
    free(r->grads);
    free(r->layout.offset);
}

/* One forward pass; has_targets when every target of the model is in `data`. */
static float eval_batch(dlc_runner *r, int64_t n, const void *const *data) {
    const dlc_model *m = r->m;
    int has_targets = 1;
    for (int t = 0; t < m->n_data; t++)
        if (m->data[t].is_target && !data[t]) has_targets = 0;
    const dlc_dropout none = {0, 0}; /* eval_step draws no masks */
    dlc_step s = dlc_runner_step(r, n, data, &none, 0);
    s.has_targets = has_targets;
    return m->eval_step(&s, r->outputs);
}

void dlc_evaluate(dlc_runner *r, const dlc_dataset *ds, int64_t batch, dlc_metric_kind metric, dlc_metrics *acc) {
    const dlc_model *m = r->m;
    memset(acc, 0, sizeof *acc);
    if (!dlc_model_has_data(m)) {
        const void *none[1] = {NULL};
        dlc_metrics_add(m, DLC_METRIC_NONE, acc, 1, eval_batch(r, 1, none), r->outputs, none);
        return;
    }
    int64_t b = batch > 0 && batch < ds->n ? batch : ds->n;
    dlc_batch bt;
    dlc_batch_init(m, ds, 0, &bt); /* rows are consecutive: no gather buffers needed */
    for (int64_t start = 0; start < ds->n; start += b) {
        int64_t n = ds->n - start < b ? ds->n - start : b;
        dlc_batch_fill(m, ds, NULL, start, n, &bt);
        float loss = eval_batch(r, n, bt.ptr);
        dlc_metrics_add(m, metric, acc, n, loss, r->outputs, bt.ptr);
    }
    dlc_batch_free(&bt);
}

/* Data, --weights and their normalize statistics, ready to run. */
static void prepare(const dlc_model *m, const dlc_options *o, int for_predict, dlc_dataset *ds, dlc_runner *r,
                    int64_t *batch) {
    memset(ds, 0, sizeof *ds);
    if (dlc_model_has_data(m)) dlc_load_command_data(m, o, o->data, for_predict, ds);
    else ds->n = 1;
    *batch = o->cfg.batch > 0 && o->cfg.batch < ds->n ? o->cfg.batch : ds->n;
    dlc_set_threads(m, o->threads, *batch);
    dlc_runner_init(r, m, *batch);
    dlc_st_file f;
    dlc_load_params_mapped(m, &r->layout, r->params, r->state, o->weights, o->init_map, "--init-map", &f);
    dlc_norms nz;
    dlc_load_norms(m, &o->cfg, &f, &nz);
    dlc_norm_apply(m, &nz, ds);
    dlc_st_close(&f);
}

int dlc_cmd_eval(const dlc_model *m, const dlc_options *o) {
    dlc_dataset ds;
    dlc_runner r;
    int64_t batch;
    prepare(m, o, 0, &ds, &r, &batch);
    dlc_metrics acc;
    dlc_evaluate(&r, &ds, batch, o->cfg.metric, &acc);
    printf("loss: %.6f\n", dlc_metrics_loss(&acc));
    if (o->cfg.metric != DLC_METRIC_NONE)
        printf("%s: %.6f\n", dlc_metric_name(o->cfg.metric), dlc_metrics_value(o->cfg.metric, &acc));
    dlc_runner_free(&r);
    dlc_dataset_free(m, &ds);
    return 0;
}

static void write_header(FILE *f, const dlc_model *m) {
    for (int i = 0; i < m->n_outputs; i++) {
        const dlc_output_desc *o = &m->outputs[i];
        if (o->size == 1) fprintf(f, "%s%s", i ? "," : "", o->name);
        for (int64_t k = 0; o->size > 1 && k < o->size; k++) fprintf(f, "%s%s_%lld", i || k ? "," : "", o->name, (long long)k);
    }
    fputc('\n', f);
}

/* Row `row` of every output; an output without a batch axis repeats on every row. */
static void write_row(FILE *f, const dlc_model *m, void *const *outputs, int64_t row) {
    char num[32];
    for (int i = 0; i < m->n_outputs; i++) {
        const dlc_output_desc *o = &m->outputs[i];
        int64_t base = o->batched ? row * o->size : 0;
        for (int64_t k = 0; k < o->size; k++) {
            if (o->dtype == DLC_F32) snprintf(num, sizeof num, "%.9g", (double)((const float *)outputs[i])[base + k]);
            else snprintf(num, sizeof num, "%d", ((const int32_t *)outputs[i])[base + k]);
            fputs(i || k ? "," : "", f);
            fputs(num, f);
        }
    }
    fputc('\n', f);
}

int dlc_cmd_predict(const dlc_model *m, const dlc_options *o) {
    if (m->n_outputs == 0) dlc_die(1, "model %s has no `output`: predict has nothing to write", m->name);
    dlc_dataset ds;
    dlc_runner r;
    int64_t batch;
    prepare(m, o, 1, &ds, &r, &batch);
    /* --out goes through a temporary file too: a failed run leaves no partial CSV. */
    FILE *f = stdout;
    char *tmp = NULL;
    if (o->out) {
        size_t n = strlen(o->out) + 32;
        tmp = dlc_xmalloc(n);
        snprintf(tmp, n, "%s.tmp-%ld", o->out, (long)getpid());
        f = fopen(tmp, "w");
        if (!f) dlc_die(1, "%s: cannot write: %s", o->out, strerror(errno));
        dlc_catch_stop_signals(); /* Ctrl-C or SIGTERM: the temporary file is removed */
    }
    write_header(f, m);
    if (!dlc_model_has_data(m)) {
        const void *none[1] = {NULL};
        eval_batch(&r, 1, none);
        write_row(f, m, r.outputs, 0);
    }
    dlc_batch bt;
    dlc_batch_init(m, &ds, 0, &bt);
    for (int64_t start = 0; dlc_model_has_data(m) && start < ds.n && !dlc_stop_signal; start += batch) {
        int64_t n = ds.n - start < batch ? ds.n - start : batch;
        dlc_batch_fill(m, &ds, NULL, start, n, &bt);
        eval_batch(&r, n, bt.ptr);
        for (int64_t i = 0; i < n; i++) write_row(f, m, r.outputs, i);
    }
    dlc_batch_free(&bt);
    if (o->out && dlc_stop_signal) {
        fclose(f);
        unlink(tmp);
        fprintf(stderr, "%s: %s not written\n", dlc_stop_word(), o->out);
        return dlc_stop_status();
    }
    if (o->out) {
        if (ferror(f) || fclose(f) != 0 || rename(tmp, o->out) != 0) {
            int e = errno;
            remove(tmp);
            dlc_die(1, "%s: cannot write: %s", o->out, strerror(e));
        }
        free(tmp);
    } /* stdout: main reports a failed write (dlc_finish_stdout) */
    dlc_runner_free(&r);
    dlc_dataset_free(m, &ds);
    return 0;
}
