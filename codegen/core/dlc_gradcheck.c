/* dlc_gradcheck.c: the `gradcheck` command: compiled gradients against finite differences.
 *
 * The check runs in f32, as the kernels do, on the first rows of the data (at most
 * GC_ROWS), with the initial params (or --init) and one fixed dropout draw. For a sample of
 * each param's elements it evaluates the loss at w ± h/2 and w ± h, h = GC_STEP * max(1, |w|),
 * and judges train_step's gradient with dlc_gc_judge (dlc_gradcheck_rule.h), the rule
 * `dlc gradcheck` uses too: the central difference over the step, relative to
 * max(|g|, |d|, GC_FLOOR * max(1, |L|)), and elements with a non-differentiable point inside
 * the step (relu at 0, max ties) skipped. The floor keeps f32 rounding of the loss (about one ulp
 * of L, divided by h) from counting as error in tiny gradients; GC_STEP is large for the same
 * reason. A param fails when an element it checked is over the tolerance, or when every
 * element was skipped. `dlc gradcheck model.dl` checks the differentiation itself, in double. */
#include "dlc_runtime.h"
#include "dlc_gradcheck_rule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GC_ROWS 16
#define GC_SAMPLES 40    /* elements checked per param */
#define GC_STEP 1e-2
#define GC_FLOOR 1e-2
#define GC_TOLERANCE 1e-2

typedef struct {
    const dlc_model *m;
    dlc_runner r;
    const void *const *data;
    int64_t n;
    dlc_dropout dropout;     /* every evaluation draws the same masks: the first batch's of epoch 0 */
} checker;

static double loss_at(checker *c) {
    dlc_step s = dlc_runner_step(&c->r, c->n, c->data, &c->dropout, 1);
    return (double)c->m->train_step(&s);
}

/* Param element i (of the flat layout) set to v, on the host and on the device. */
static void set_param(checker *c, int64_t i, float v) {
    c->r.params[i] = v;
    dlc_device_copy_in(c->r.dev_params + i, &c->r.params[i], sizeof(float));
}

/* The rule's verdict on element i: the loss at w + (k - 2) h / 2, k = 0..4 (the positions the
 * f32 arithmetic actually took), `center` being the loss at w. */
static dlc_gc_verdict judge(checker *c, int64_t i, double h, double center, double analytic, double floor) {
    float w0 = c->r.params[i];
    double x[5], l[5];
    for (int k = 0; k < 5; k++) {
        if (k == 2) {
            x[k] = (double)w0, l[k] = center;
            continue;
        }
        set_param(c, i, (float)((double)w0 + (double)(k - 2) * h / 2));
        x[k] = (double)c->r.params[i];
        l[k] = loss_at(c);
    }
    set_param(c, i, w0);
    return dlc_gc_judge(x, l, analytic, floor, GC_TOLERANCE);
}

int dlc_cmd_gradcheck(const dlc_model *m, const dlc_options *o) {
    checker c = {m, {0}, NULL, 1, {0, 0}};
    dlc_dataset ds, head;
    memset(&ds, 0, sizeof ds);
    memset(&head, 0, sizeof head);
    dlc_batch bt = {0};
    const void *none[1] = {NULL};
    c.data = none;
    if (dlc_model_has_data(m)) {
        dlc_load_command_data(m, o, o->data, 0, &ds);
        dlc_norms nz;
        dlc_norm_compute(m, &o->cfg, &ds, &nz);
        dlc_norm_apply(m, &nz, &ds);
        c.n = ds.n < GC_ROWS ? ds.n : GC_ROWS;
        if (o->cfg.batch > 0 && o->cfg.batch < c.n) c.n = o->cfg.batch;
        head = ds;
        dlc_batch_init(m, c.n, &bt);
        dlc_batch_fill(m, &head, NULL, 0, c.n, &bt);
        c.data = bt.ptr;
    }
    dlc_set_threads(m, o->threads, c.n);
    dlc_runner_init(&c.r, m, c.n);
    if (o->init) {
        dlc_st_file f;
        dlc_load_params_mapped(m, &c.r.layout, c.r.params, c.r.state, o->init, o->init_map, "--init-map", &f);
        dlc_st_close(&f);
    } else {
        dlc_init_params(m, &c.r.layout, c.r.params, o->cfg.seed);
    }
    dlc_runner_params_to_device(&c.r);
    c.dropout = dlc_dropout_at(o->cfg.seed, 0, 0);

    double loss = loss_at(&c);
    float *analytic = dlc_xmalloc(dlc_mul_size((size_t)c.r.layout.total + 1, sizeof(float)));
    dlc_device_copy_out(analytic, c.r.grads, (size_t)c.r.layout.total * sizeof(float));
    printf("gradcheck %s: ", m->name);
    if (dlc_model_has_data(m)) printf("%lld rows, ", (long long)c.n);
    printf("loss %.6f, step %g, tolerance %g\n", loss, GC_STEP, GC_TOLERANCE);
    double floor = GC_FLOOR * fmax(1.0, fabs(loss));
    int failed = 0;
    for (int p = 0; p < m->n_params; p++) {
        const dlc_param_desc *d = &m->params[p];
        int64_t at = c.r.layout.offset[p];
        const float *w = c.r.params + at;
        const float *g = analytic + c.r.layout.offset[p];
        int64_t samples = d->size < GC_SAMPLES ? d->size : GC_SAMPLES, checked = 0, skipped = 0, over = 0, worst_at = 0;
        double worst = 0;
        for (int64_t k = 0; k < samples; k++) {
            /* Evenly spread over the param, first and last element included. */
            int64_t i = samples > 1 ? k * (d->size - 1) / (samples - 1) : 0;
            double h = GC_STEP * fmax(1.0, fabs((double)w[i]));
            dlc_gc_verdict v = judge(&c, at + i, h, loss, (double)g[i], floor);
            if (v.skipped) {
                skipped++;
                continue;
            }
            checked++;
            over += v.error > GC_TOLERANCE;
            if (v.error > worst) worst = v.error, worst_at = i;
        }
        char shape[96];
        int bad = over > 0 || (checked == 0 && skipped > 0);
        printf("  %-24s %-14s max rel error %.2e", d->name, dlc_shape_string(shape, sizeof shape, d->rank, d->dims), worst);
        if (over) printf(" (element %lld)", (long long)worst_at);
        printf("  %lld checked", (long long)checked);
        if (over) printf(", %lld over", (long long)over);
        if (skipped) printf(", %lld skipped at kinks", (long long)skipped);
        if (!checked && skipped) printf(" (nothing could be checked)");
        printf("%s\n", bad ? "  FAILED" : "");
        failed |= bad;
    }
    printf("gradcheck %s\n", failed ? "FAILED" : "passed");
    free(analytic);
    if (dlc_model_has_data(m)) dlc_batch_free(&bt);
    dlc_runner_free(&c.r);
    dlc_dataset_free(m, &ds);
    return failed ? 1 : 0;
}
