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
 * A loss that is not finite is the other failure a row can cause: a value the model's f32
 * arithmetic cannot represent (3e38 squared). It is told apart from training that diverged by
 * the params the run started from: in its first epoch, `train` runs the rows of a batch whose
 * loss is not finite alone with those params, and blames the first whose loss is then not
 * finite either (dlc_blame_rows). This costs nothing while losses are finite; a forward pass
 * over all the data before the first step would find the same rows, at about half an epoch's
 * time on every run (1.4 s before a 2.6 s epoch of the bench's MNIST MLP). */
#include "dlc_runtime.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const dlc_dataset *ds;
    const int64_t *order;       /* NULL: consecutive rows */
    int64_t start, count;
} step_rows;
static step_rows current;
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

/* The forward pass of row `row` of ds alone with `params` (per-param views of device memory),
 * dropout off. Returns 0 when an index went out of range, else 1 with the loss (NAN without
 * targets). */
static int forward_row(dlc_runner *r, const dlc_dataset *ds, int64_t row, float *const *params, float *loss) {
    const dlc_model *m = r->m;
    /* The row as a batch of its own (on a device, copied there); the failing step's rows stay
     * the ones recorded. */
    step_rows failing = current;
    dlc_batch bt;
    dlc_batch_init(m, 1, &bt);
    dlc_batch_fill(m, ds, NULL, row, 1, &bt);
    current = failing;
    int has_targets = 1;
    for (int t = 0; t < m->n_data; t++)
        if (!bt.ptr[t] && m->data[t].is_target) has_targets = 0;
    const dlc_dropout none = {0, 0}; /* eval_step draws no masks */
    dlc_step s = {1, bt.ptr, has_targets, (const float *const *)params, r->grad_views, r->arena, &none, 0, 0.0f,
                  (void *const *)r->dev_state, 1};
    volatile int ok = 0;
    probing = 1;
    if (setjmp(probe) == 0) {
        *loss = m->eval_step(&s, r->dev_outputs);
        ok = 1;
    }
    probing = 0;
    dlc_batch_free(&bt);
    return ok;
}

void dlc_locate_index_error(const char *where, long idx, long size) {
    if (probing) longjmp(probe, 1);
    if (!runner || !current.ds || current.count <= 0) return;
    const dlc_dataset *ds = current.ds;
    for (int64_t j = 0; j < current.count; j++) {
        int64_t row = batch_row(j);
        float loss;
        if (forward_row(runner, ds, row, runner->param_views, &loss)) continue;
        dlc_row_error(runner->m, ds, row, -1, -1, "index %ld is out of range for a first axis of %ld (%s), computed from this row",
                      idx, size, where);
        dlc_stop_on_data_errors();
    }
}

/* The element of row `row` with the largest magnitude, over the f32 inputs: *t and *element. */
static void largest_value(const dlc_model *m, const dlc_dataset *ds, int64_t row, int *t_out, int64_t *element_out,
                          double *value_out) {
    double best = -1;
    *t_out = -1;
    for (int t = 0; t < m->n_data; t++) {
        if (!ds->cols[t] || m->data[t].dtype != DLC_F32 || m->data[t].is_target) continue;
        const float *x = (const float *)ds->cols[t] + (size_t)row * (size_t)m->data[t].size;
        for (int64_t e = 0; e < m->data[t].size; e++)
            if (fabs((double)x[e]) > best) best = fabs((double)x[e]), *t_out = t, *element_out = e, *value_out = x[e];
    }
}

void dlc_blame_rows(dlc_runner *r, float *const *params, const dlc_dataset *ds, const int64_t *order, int64_t start,
                    int64_t count) {
    for (int64_t j = 0; j < count; j++) {
        int64_t row = order ? order[start + j] : start + j;
        float loss = 0;
        if (!forward_row(r, ds, row, params, &loss) || isfinite(loss)) continue;
        int t;
        int64_t e = 0;
        double v = 0;
        largest_value(r->m, ds, row, &t, &e, &v);
        if (t >= 0)
            dlc_row_error(r->m, ds, row, t, e, "the forward pass of this row gives a loss of %g with the starting params; its largest value is %g",
                          (double)loss, v);
        else
            dlc_row_error(r->m, ds, row, -1, -1, "the forward pass of this row gives a loss of %g with the starting params", (double)loss);
        dlc_stop_on_data_errors();
    }
}

void dlc_blame_batch(dlc_runner *r, float *const *params) {
    if (current.ds) dlc_blame_rows(r, params, current.ds, current.order, current.start, current.count);
}
