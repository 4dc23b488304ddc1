/* dlc_eval.c: the `eval` and `predict` commands.
 *
 * Both read every row of the data in file order (no split, no shuffle, dropout off) with the
 * params, state and normalize statistics of --weights. The batches are dealt round-robin to the
 * processes of a job; each batch is computed as one process computes it, so the output is the
 * same for any number of processes. */
#include "dlc_runtime.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    dlc_runner_params_to_device(r);
}

int dlc_cmd_eval(const dlc_model *m, const dlc_options *o) {
    dlc_dataset ds;
    dlc_runner r;
    int64_t batch;
    prepare(m, o, 0, &ds, &r, &batch);
    dlc_comm_ready();
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

/* Process `from`'s batch of `rows` rows goes to the root, which writes it; every process takes
 * part. `view` holds the receive buffers of the batched outputs and the root's own unbatched
 * ones (the same on every process). */
static void write_part(FILE *f, const dlc_model *m, dlc_runner *r, void **view, int from, int64_t rows) {
    if (from == 0) { /* the root's own rows */
        if (dlc_comm_is_root())
            for (int64_t i = 0; i < rows; i++) write_row(f, m, r->outputs, i);
        return;
    }
    for (int i = 0; i < m->n_outputs; i++) {
        const dlc_output_desc *d = &m->outputs[i];
        if (d->batched)
            dlc_comm_broadcast(from == dlc_comm_rank() ? r->outputs[i] : view[i], (size_t)rows * (size_t)d->size * 4, from);
    }
    if (dlc_comm_is_root())
        for (int64_t i = 0; i < rows; i++) write_row(f, m, view, i);
}

int dlc_cmd_predict(const dlc_model *m, const dlc_options *o) {
    if (m->n_outputs == 0) dlc_die(1, "model %s has no `output`: predict has nothing to write", m->name);
    dlc_dataset ds;
    dlc_runner r;
    int64_t batch;
    prepare(m, o, 1, &ds, &r, &batch);
    /* --out goes through a temporary file too: a failed run leaves no partial CSV. Only the
     * root writes. */
    dlc_comm_ready();
    FILE *f = stdout;
    char *tmp = NULL;
    int root = dlc_comm_is_root();
    /* Ctrl-C or SIGTERM: the temporary file is removed. Caught before the file exists, so that a
     * signal right after it appears cannot leave it behind. */
    if (o->out) dlc_catch_stop_signals();
    if (o->out && root) {
        size_t n = strlen(o->out) + 32;
        tmp = dlc_xmalloc(n);
        snprintf(tmp, n, "%s.tmp-%ld", o->out, (long)getpid());
        f = fopen(tmp, "w");
        if (!f) dlc_die(1, "%s: cannot write: %s", o->out, strerror(errno));
    }
    if (root) write_header(f, m);
    if (!dlc_model_has_data(m)) {
        const void *none[1] = {NULL};
        dlc_forward(&r, 1, none);
        if (root) write_row(f, m, r.outputs, 0);
    }
    /* Rounds of K batches: process p computes batch p of the round, then the rows go to the
     * root in rank order, which is file order. */
    int k = dlc_comm_size();
    void **view = dlc_xcalloc((size_t)m->n_outputs + 1, sizeof *view);
    for (int i = 0; k > 1 && i < m->n_outputs; i++)
        view[i] = m->outputs[i].batched ? dlc_aligned_alloc(dlc_mul_size((size_t)batch, (size_t)m->outputs[i].size * 4))
                                        : r.outputs[i];
    dlc_batch bt;
    dlc_batch_init(m, batch, &bt);
    int stop = 0;
    for (int64_t round = 0; dlc_model_has_data(m) && round < ds.n; round += (int64_t)k * batch) {
        /* A stop asked of any process stops them all at the same round. */
        double asked = dlc_stop_signal != 0;
        dlc_comm_allreduce_sum_host(&asked, 1);
        if ((stop = asked > 0)) break;
        int64_t mine = round + (int64_t)dlc_comm_rank() * batch;
        if (mine < ds.n) {
            int64_t n = ds.n - mine < batch ? ds.n - mine : batch;
            dlc_batch_fill(m, &ds, NULL, mine, n, &bt);
            dlc_forward(&r, n, bt.ptr);
        }
        for (int p = 0; p < k; p++) {
            int64_t from = round + (int64_t)p * batch;
            if (from >= ds.n) break;
            write_part(f, m, &r, view, p, ds.n - from < batch ? ds.n - from : batch);
        }
    }
    dlc_batch_free(&bt);
    for (int i = 0; k > 1 && i < m->n_outputs; i++)
        if (m->outputs[i].batched) free(view[i]);
    free(view);
    int status = dlc_stop_signal ? dlc_stop_status() : 128 + SIGINT;
    if (o->out && stop) {
        if (root) {
            fclose(f);
            unlink(tmp);
            fprintf(stderr, "%s: %s not written\n", dlc_stop_signal ? dlc_stop_word() : "interrupted", o->out);
        }
        return status;
    }
    if (o->out && root) {
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
