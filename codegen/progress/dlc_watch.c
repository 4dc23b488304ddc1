/* dlc_watch.c: watching and stopping training (spec section 11): after each epoch, the chart
 * (--plot), the params of the best epoch so far (--save-best) and early stopping
 * (`early_stop patience: N, min_delta: D`, --early-stop N).
 *
 * Both --save-best and early stopping watch the validation loss, or the training loss when
 * there is no validation set. The best epoch is the one with the lowest watched loss (its
 * params are rewritten atomically whenever it improves); early stopping ends training once
 * the watched loss has not improved on the best by more than min_delta for `patience` epochs
 * (Keras' EarlyStopping, mode min). A checkpoint keeps both counts, so a --resume goes on
 * where the saved run was; the chart of a resumed run starts with the epochs its --log file
 * already holds. The chart's values are rounded as the --log file writes them (%.9g), so that
 * `dlc plot` of the log draws the same picture. */
#include "dlc_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dlc_watch_init(dlc_watch *w, const dlc_model *m, const dlc_options *o, const dlc_train_config *cfg, int has_val) {
    memset(w, 0, sizeof *w);
    w->m = m;
    w->plot = o->plot;
    w->save_best = o->save_best;
    w->patience = cfg->early_stop_patience;
    w->min_delta = cfg->early_stop_min_delta;
    w->metric = cfg->metric;
    w->has_val = has_val;
    w->x_label = dlc_model_has_data(m) ? "epoch" : "update";
    w->best = INFINITY;
    w->stop_best = INFINITY;
}

/* As the log prints it: the chart of the run and the chart of its log agree to the pixel. */
static double as_logged(double v) {
    if (!isfinite(v)) return v;
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", v);
    return strtod(buf, NULL);
}

static void record(dlc_watch *w, double x, double loss, double val_loss, double metric) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        for (int k = 0; k < 4; k++) w->series[k] = dlc_xrealloc(w->series[k], dlc_mul_size((size_t)w->cap, sizeof(double)));
    }
    double v[4] = {x, as_logged(loss), as_logged(val_loss), as_logged(metric)};
    for (int k = 0; k < 4; k++) w->series[k][w->n] = v[k];
    w->n++;
}

static void draw_plot(const dlc_watch *w) {
    const char *metric = w->metric == DLC_METRIC_NONE ? NULL : dlc_metric_name(w->metric);
    dlc_plot_data d = {w->m->name, w->x_label, metric, w->has_val, w->n,
                       w->series[0], w->series[1], w->series[2], w->series[3]};
    char why[256];
    if (dlc_plot_svg(&d, w->plot, why, sizeof why)) dlc_die(1, "%s: cannot write the plot: %s", w->plot, why);
}

int dlc_watch_epoch(dlc_watch *w, int64_t epoch, double loss, double val_loss, double metric, dlc_runner *r,
                    const dlc_norms *norms, int64_t step) {
    /* Every process of a job decides alike (the losses are sums over all of them); rank 0 writes. */
    int root = dlc_comm_is_root();
    if (w->plot && root) {
        record(w, (double)epoch, loss, val_loss, metric);
        draw_plot(w);
    }
    double watched = w->has_val ? val_loss : loss;
    if (!isfinite(watched)) return 0;
    if (watched < w->best) {
        w->best = watched;
        w->best_epoch = epoch;
        if (w->save_best && root) {
            dlc_runner_params_to_host(r); /* and the state */
            dlc_save_params(w->m, &r->layout, r->params, r->state, norms, w->save_best, step);
        }
    }
    if (w->patience <= 0) return 0;
    if (watched < w->stop_best - w->min_delta) {
        w->stop_best = watched;
        w->bad_epochs = 0;
        return 0;
    }
    if (++w->bad_epochs < w->patience) return 0;
    fflush(stdout);
    printf("early stop: %s has not improved by more than %g for %lld epoch%s (lowest %.6f at epoch %lld)\n",
           w->has_val ? "val_loss" : "loss", w->min_delta, (long long)w->patience, w->patience == 1 ? "" : "s", w->best,
           (long long)w->best_epoch);
    return 1;
}

/* The epochs of the runs before a --resume, from the --log file they wrote: those up to the
 * checkpoint's (a log cut short or of another model only costs the chart its past). */
static void chart_the_past(dlc_watch *w, const char *log, int64_t done) {
    dlc_plot_log l;
    char why[512];
    if (dlc_plot_read_log(log, &l, why, sizeof why)) {
        fprintf(stderr, "note: --plot draws this run's epochs only: %s\n", why);
        return;
    }
    const char *metric = w->metric == DLC_METRIC_NONE ? NULL : dlc_metric_name(w->metric);
    if (strcmp(l.x_label, w->x_label) != 0 || (metric ? !l.metric || strcmp(l.metric, metric) : l.metric != NULL)) {
        fprintf(stderr, "note: --plot draws this run's epochs only: %s holds another model's columns\n", log);
    } else {
        for (int64_t i = 0; i < l.n && l.columns[0][i] <= (double)done; i++)
            record(w, l.columns[0][i], l.columns[1][i], l.columns[2][i], l.columns[3][i]);
    }
    dlc_plot_log_free(&l);
}

void dlc_watch_restore(dlc_watch *w, const dlc_progress *p, const char *log) {
    w->best = p->watch_best;
    w->best_epoch = p->watch_best_epoch;
    w->stop_best = p->watch_stop_best;
    w->bad_epochs = p->watch_bad_epochs;
    if (w->plot && log && dlc_comm_is_root()) chart_the_past(w, log, strcmp(w->x_label, "update") ? p->epoch : p->step);
}

void dlc_watch_remember(const dlc_watch *w, dlc_progress *p) {
    p->watch_best = w->best;
    p->watch_best_epoch = w->best_epoch;
    p->watch_stop_best = w->stop_best;
    p->watch_bad_epochs = w->bad_epochs;
}

void dlc_watch_free(dlc_watch *w) {
    for (int k = 0; k < 4; k++) free(w->series[k]);
}
