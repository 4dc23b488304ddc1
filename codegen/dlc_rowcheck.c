/* dlc_rowcheck.c: the data row behind a failure in a step.
 *
 * Generated kernels report an index out of range at the model's source place
 * (dlc_index_error("line_grid.dl:12:16", 25, 21)): right for the model, but when the index is
 * computed from the data, the user needs the row of the file that produced it. Every step
 * runs on rows that dlc_batch_fill picked, and every command's params live in a dlc_runner:
 * both are recorded here, so that when a step fails, each row of its batch is run alone
 * (a forward pass, which has the same index computations) until one fails the same way. The
 * jump out of a failing probe is the only way back: dlc_index_error never returns, and the
 * kernels keep no state between calls, so abandoning one is safe.
 *
 * Before the first step, `train` runs the forward pass over every row with the starting
 * params (dlc_check_first_pass): an index out of range, or a loss that is not finite (a value
 * the model's arithmetic cannot represent), is reported at its row before anything is
 * trained or written. */
#include "dlc_runtime.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const dlc_dataset *ds;
    const int64_t *order;       /* NULL: consecutive rows */
    int64_t start, count;
} current;
static dlc_runner *runner;

/* While one row is probed, an index error jumps back here instead of reporting. */
static jmp_buf probe;
static int probing;

void dlc_rows_current(const dlc_dataset *ds, const int64_t *order, int64_t start, int64_t count) {
    current.ds = ds;
    current.order = order;
    current.start = start;
    current.count = count;
}

void dlc_rows_watch(dlc_runner *r) {
    runner = r;
    current.ds = NULL;
}

static int64_t batch_row(int64_t j) { return current.order ? current.order[current.start + j] : current.start + j; }

/* The forward pass of row `row` of ds alone, dropout off. Returns 0 when an index went out of
 * range, else 1 with the loss (NAN without targets) in *loss. */
static int forward_row(const dlc_dataset *ds, int64_t row, float *loss) {
    const dlc_model *m = runner->m;
    const void **data = dlc_xcalloc((size_t)m->n_data + 1, sizeof *data);
    int has_targets = 1;
    for (int t = 0; t < m->n_data; t++) {
        if (ds->cols[t]) data[t] = (const char *)ds->cols[t] + (size_t)row * (size_t)m->data[t].size * 4;
        else if (m->data[t].is_target) has_targets = 0;
    }
    dlc_rng unused = dlc_rng_stream(0, DLC_STREAM_DROPOUT);
    dlc_step s = dlc_runner_step(runner, 1, data, &unused, 0);
    s.has_targets = has_targets;
    volatile int ok = 0;
    probing = 1;
    if (setjmp(probe) == 0) {
        *loss = m->eval_step(&s, runner->outputs);
        ok = 1;
    }
    probing = 0;
    free(data);
    return ok;
}

void dlc_locate_index_error(const char *where, long idx, long size) {
    if (probing) longjmp(probe, 1);
    if (!runner || !current.ds || current.count <= 0) return;
    const dlc_dataset *ds = current.ds;
    for (int64_t j = 0; j < current.count; j++) {
        int64_t row = batch_row(j);
        float loss;
        if (forward_row(ds, row, &loss)) continue;
        dlc_row_error(runner->m, ds, row, -1, -1, "index %ld is out of range for a first axis of %ld (%s), computed from this row",
                      idx, size, where);
        dlc_stop_on_data_errors();
    }
}

/* The element of row `row` with the largest magnitude, over the f32 inputs: *t and *element. */
static void largest_value(const dlc_dataset *ds, int64_t row, int *t_out, int64_t *element_out, double *value_out) {
    const dlc_model *m = runner->m;
    double best = -1;
    *t_out = -1;
    for (int t = 0; t < m->n_data; t++) {
        if (!ds->cols[t] || m->data[t].dtype != DLC_F32 || m->data[t].is_target) continue;
        const float *x = (const float *)ds->cols[t] + (size_t)row * (size_t)m->data[t].size;
        for (int64_t e = 0; e < m->data[t].size; e++)
            if (fabs((double)x[e]) > best) best = fabs((double)x[e]), *t_out = t, *element_out = e, *value_out = x[e];
    }
}

void dlc_check_first_pass(dlc_runner *r, const dlc_dataset *ds, int64_t batch) {
    const dlc_model *m = r->m;
    if (m->n_data == 0 || ds->n == 0) return;
    int64_t b = batch > 0 && batch < ds->n ? batch : ds->n;
    if (b > r->max_rows) b = r->max_rows;
    dlc_batch bt;
    dlc_batch_init(m, ds, 0, &bt); /* consecutive rows: no gather buffers */
    dlc_rng unused = dlc_rng_stream(0, DLC_STREAM_DROPOUT);
    for (int64_t start = 0; start < ds->n; start += b) {
        int64_t n = ds->n - start < b ? ds->n - start : b;
        dlc_batch_fill(m, ds, NULL, start, n, &bt); /* an index error in it names its row */
        dlc_step s = dlc_runner_step(r, n, bt.ptr, &unused, 0);
        if (isfinite(m->eval_step(&s, r->outputs))) continue;
        /* Which row: the first whose loss alone is not finite (a mean of finite losses can still
         * overflow; then the batch is named). */
        for (int64_t j = 0; j < n; j++) {
            float loss = 0;
            if (!forward_row(ds, start + j, &loss) || isfinite(loss)) continue;
            int t;
            int64_t e = 0;
            double v = 0;
            largest_value(ds, start + j, &t, &e, &v);
            if (t >= 0)
                dlc_row_error(m, ds, start + j, t, e,
                              "the forward pass of this row gives a loss of %g before any training; its largest value is %g",
                              (double)loss, v);
            else
                dlc_row_error(m, ds, start + j, -1, -1, "the forward pass of this row gives a loss of %g before any training",
                              (double)loss);
            dlc_stop_on_data_errors();
        }
        dlc_row_error(m, ds, start, -1, -1, "the forward pass of the %lld rows from here gives a loss that is not finite",
                      (long long)n);
        dlc_stop_on_data_errors();
    }
    dlc_batch_free(&bt);
    current.ds = NULL;
}
