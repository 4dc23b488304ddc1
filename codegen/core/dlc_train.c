/* dlc_train.c: the `train` command: epochs of minibatch updates, validation, checkpoints.
 *
 * Everything random comes from the seeded streams of docs/rng.md, and everything that a
 * later run needs to continue is in dlc_progress, saved at update boundaries only. So a
 * run saved after epoch 2 and resumed for 2 more epochs ends with the same params, bit for
 * bit, as a run of 4 epochs; so does one stopped by --steps or Ctrl-C in mid-epoch (the
 * resumed run rebuilds that epoch's order from the shuffle state at its start and skips the
 * batches already done). `--epochs N` with --resume trains N more epochs, the interrupted
 * one (if any) counting as the first.
 *
 * Data-parallel (dlc_comm.h): every process loads the same data and makes the same decisions
 * (split, normalization, order), takes its contiguous part of each global micro-batch, scales
 * its gradient to its share of the batch's rows, and the sum over processes (one all-reduce
 * per update) is the gradient of the whole batch: every process applies the same update. The
 * loss and the stop flag (Ctrl-C, SIGTERM) are summed after each micro-batch, so every process
 * stops at the same update; only the root writes files. With one process nothing is scaled or
 * summed. A model with batch normalization sums its batch statistics across processes inside
 * its step (dlc_model.sums_batch_statistics) and makes its shares of the loss and gradient
 * itself. */
#include "dlc_runtime.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What one training run holds. */
typedef struct {
    const dlc_model *m;
    const dlc_options *o;
    dlc_train_config cfg;
    dlc_dataset train, val;
    dlc_norms norms;
    dlc_runner r;
    dlc_optimizer opt;
    dlc_schedule sched;
    dlc_progress prog;
    dlc_rng shuffle;
    float *accum;           /* gradient sum over an accumulation cycle (accumulate > 1), on the device */
    int64_t batch;          /* training rows per micro-batch */
    int64_t eval_batch;
    int64_t run_updates;    /* updates made by this run */
    int64_t epoch_end;      /* stop when this many epochs are complete */
    double last_loss, last_val_loss, last_metric;
    dlc_watch watch;        /* --plot, --save-best, early stopping (dlc_watch.c) */
    FILE *log;
    dlc_bar bar;            /* the live progress line of the epoch under way (a terminal only) */
    dlc_batch batches;      /* the micro-batch views (and gather buffers when shuffling) */
    double last_flush;      /* when stdout and the log were last flushed */
    double lr_shown;        /* the learning rate lr_shown_text holds (when lr_shown_valid) */
    char lr_shown_text[40];
    int lr_shown_valid;
    /* The params the run started from, kept through its first epoch: a row whose loss is not
     * finite with them is one the model cannot represent, not training that diverged. */
    float *start_params;
    float **start_views;
    int64_t saved_step;     /* the update this run last saved (-1: none yet) */
    int64_t kept_step;      /* the update --save's pair holds (-1: none known) */
    int stop;               /* some process was asked to stop: every one stops at this update */
    char *optim_path;       /* --resume: the optimizer file that pairs with its params */
} trainer;

/* ---- Output ---------------------------------------------------------------------------------- */

/* Epoch lines and log rows. On a terminal each line shows at once (stdio flushes a terminal's
 * lines; the bar flushes its own). A file or a pipe gets no write per epoch: stdio buffers the
 * lines, and they go out when its buffer fills, at least once a second (so `| tee` and
 * `tail -f` keep up with slow epochs), before anything is written to stderr, and at exit. A
 * run of thousands of tiny epochs thus makes a few writes instead of one per epoch. */
/* A failed --log write (a full disk, a file-size limit) stops the run, exit 1: a log cut short
 * or empty must not pass for a complete one. stdio keeps the first error (ferror); errno still
 * holds its reason, since nothing but log writes and flushes comes in between. */
static void check_log(trainer *t) {
    if (t->log && ferror(t->log)) {
        int e = errno;
        dlc_die(1, "%s: cannot write: %s", t->o->log, strerror(e));
    }
}

static void flush_output(trainer *t, double now) {
    if (now - t->last_flush < 1.0) return;
    t->last_flush = now;
    dlc_flush_stdout();
    if (t->log) fflush(t->log);
    check_log(t);
}

/* Before a message on stderr: the lines printed so far come first. */
static void flush_before_stderr(trainer *t) {
    dlc_flush_stdout();
    if (t->log) fflush(t->log);
}

/* ---- Setup ----------------------------------------------------------------------------------- */

/* A validation fraction that leaves the model almost nothing to learn from (`--validation
 * 0.999` trains on one row): warned, not refused, since a tiny run can be meant. The rule:
 * fewer training rows than validation rows (a fraction above 0.5), or than one batch when the
 * whole data would fill one (every epoch is then a single update on the same few rows). */
static void warn_small_training_set(const trainer *t, int64_t n_train, int64_t n_val) {
    int64_t batch = t->cfg.batch;
    if (n_val == 0) return;
    /* One batch: only when the split is what made the training rows fewer than a batch. */
    int below_val = n_train < n_val, below_batch = batch > 0 && n_train < batch && n_train + n_val >= batch;
    if (!below_val && !below_batch) return;
    char why[160];
    int used = 0;
    if (below_val) used = snprintf(why, sizeof why, "the %lld held out for validation", (long long)n_val);
    if (below_batch)
        snprintf(why + used, sizeof why - (size_t)used, "%sone batch of %lld", below_val ? " and than " : "", (long long)batch);
    fflush(stdout);
    fprintf(stderr,
            "warning: validation %g leaves %lld of %lld rows for training, fewer than %s: the model would learn "
            "from almost nothing (0.1 to 0.3 is usual)\n",
            t->cfg.validation, (long long)n_train, (long long)(n_train + n_val), why);
}

static void load_data(trainer *t) {
    const dlc_model *m = t->m;
    const dlc_options *o = t->o;
    dlc_dataset all;
    dlc_load_command_data(m, o, o->data, 0, &all);
    if (o->val) {
        /* --val FILE has the layout of --data: every tensor from it, with the columns setting. */
        dlc_options vo = *o;
        vo.inputs = dlc_xcalloc((size_t)m->n_data + 1, sizeof *vo.inputs);
        dlc_load_command_data(m, &vo, o->val, 0, &t->val);
        t->train = all;
        return;
    }
    int64_t *ti, *vi, nt, nv;
    dlc_split(all.n, t->cfg.validation, t->cfg.seed, &ti, &nt, &vi, &nv);
    if (nt == 0) dlc_die(2, "--validation: leaves no training rows");
    warn_small_training_set(t, nt, nv);
    /* The validation rows are copied out; the training rows stay where they were loaded. */
    dlc_dataset_subset(m, &all, vi, nv, &t->val);
    dlc_dataset_keep(m, &all, ti, nt);
    t->train = all;
    free(ti);
    free(vi);
}

/* Micro-batches in an epoch of the training rows. */
static int64_t batches_per_epoch(const trainer *t) {
    int64_t n = t->train.n;
    return t->cfg.drop_last ? n / t->batch : (n + t->batch - 1) / t->batch;
}

/* A resumed position must lie inside an epoch of this run, whose batches are whole (only an
 * epoch's last batch is partial, and a run is never saved after it): so its rows are exactly
 * batches x batch. Checked before anything computes with them. */
static void check_position(const trainer *t) {
    const dlc_progress *p = &t->prog;
    const char *path = t->optim_path;
    int64_t n_batches = dlc_model_has_data(t->m) ? batches_per_epoch(t) : 0;
    if (p->epoch_batches > 0 && p->epoch_batches >= n_batches)
        dlc_die(1, "%s: __metadata__ 'epoch_batches' = %lld: the run stopped %lld batches into an epoch, but an epoch here has %lld"
                " (other data, --batch or --drop-last?)", path, (long long)p->epoch_batches, (long long)p->epoch_batches,
                (long long)n_batches);
    if (p->epoch_rows != p->epoch_batches * t->batch && (p->epoch_batches > 0 || p->epoch_rows > 0))
        dlc_die(1, "%s: __metadata__ 'epoch_rows' = %lld rows done in the epoch, but %lld batches of %lld make %lld", path,
                (long long)p->epoch_rows, (long long)p->epoch_batches, (long long)t->batch,
                (long long)(p->epoch_batches * t->batch));
}

/* Params from --resume, --init or the initialisers, and the optimizer state with them. */
static void start_params(trainer *t) {
    const dlc_model *m = t->m;
    const dlc_options *o = t->o;
    dlc_optim_init(&t->opt, &t->cfg.optimizer, t->r.layout.total);
    dlc_sched_init(&t->sched, &t->cfg.schedule, t->cfg.optimizer.lr, t->cfg.epochs);
    memset(&t->prog, 0, sizeof t->prog);
    t->prog.seed = t->cfg.seed;
    t->prog.lr = t->cfg.optimizer.lr;
    t->prog.sched_best = INFINITY;
    t->prog.watch_best = t->prog.watch_stop_best = INFINITY;
    t->prog.shuffle_state = dlc_rng_stream(t->cfg.seed, DLC_STREAM_SHUFFLE).state;
    if (o->resume) {
        dlc_st_file f;
        dlc_load_params(m, &t->r.layout, t->r.params, t->r.state, o->resume, &f);
        dlc_st_close(&f);
        dlc_load_optim(m, &t->r.layout, &t->opt, &t->prog, t->optim_path);
        check_position(t);
        t->sched.last_epoch = t->prog.sched_epoch;
        t->sched.best = t->prog.sched_best;
        t->sched.bad_epochs = t->prog.sched_bad_epochs;
        if (o->lr_given) t->opt.lr = t->cfg.optimizer.lr; /* an explicit --lr wins over the saved rate */
        if (o->save && strcmp(o->save, o->resume) == 0) t->kept_step = t->prog.step;
    } else if (o->init) {
        dlc_st_file f;
        dlc_load_params_mapped(m, &t->r.layout, t->r.params, t->r.state, o->init, o->init_map, "--init-map", &f);
        dlc_st_close(&f);
    } else {
        dlc_init_params(m, &t->r.layout, t->r.params, t->cfg.seed);
    }
    t->shuffle.state = t->prog.shuffle_state;
}

/* --resume must split the data as the saved run did: its seed decides. */
static void resume_seed(trainer *t) {
    const dlc_options *o = t->o;
    if (!o->resume) return;
    t->optim_path = dlc_checkpoint_partner(t->m, o->resume);
    uint64_t s = dlc_checkpoint_seed(t->optim_path);
    if (o->seed_given && s != t->cfg.seed) {
        flush_before_stderr(t);
        fprintf(stderr, "note: --seed %llu ignored: the resumed run continues with its seed %llu\n",
                (unsigned long long)t->cfg.seed, (unsigned long long)s);
    }
    t->cfg.seed = s;
}

/* What --save holds now, for a message about a run that cannot go on. */
static const char *saved_note(const trainer *t, char *buf, size_t cap) {
    if (!t->o->save) return "";
    if (t->kept_step < 0) snprintf(buf, cap, "; nothing was saved");
    else snprintf(buf, cap, "; %s keeps update %lld", t->o->save, (long long)t->kept_step);
    return buf;
}

/* A non-finite loss means the params are (or are about to be) garbage: stop, keep the last
 * checkpoint, and say where it happened. */
_Noreturn static void diverged(trainer *t, double loss, int64_t n_batches) {
    char where[128], note[4096];
    if (dlc_model_has_data(t->m))
        snprintf(where, sizeof where, "in epoch %lld, batch %lld of %lld (update %lld)", (long long)(t->prog.epoch + 1),
                 (long long)(t->prog.epoch_batches + 1), (long long)n_batches, (long long)(t->prog.step + 1));
    else
        snprintf(where, sizeof where, "at update %lld", (long long)(t->prog.step + 1));
    if (!dlc_comm_is_root()) dlc_comm_await_root(); /* every process sees the same loss: rank 0 reports */
    flush_before_stderr(t);
    dlc_die(1, "the training loss is %s %s: training diverged (try a lower learning rate)%s",
            isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf", where, saved_note(t, note, sizeof note));
}

/* The first non-finite element of v[0..n), or -1. */
static int64_t first_nonfinite(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return -1;
}

/* An update can overflow with every loss before it finite; such params are never saved. */
static void check_finite_state(trainer *t) {
    const dlc_layout *l = &t->r.layout;
    for (int s = -1; s < t->opt.n_slots; s++) {
        int64_t bad = first_nonfinite(s < 0 ? t->r.params : t->opt.slot[s], l->total);
        if (bad < 0) continue;
        int i = 0;
        while (i + 1 < t->m->n_params && l->offset[i + 1] <= bad) i++;
        char note[4096];
        flush_before_stderr(t);
        dlc_die(1, "update %lld made %s%s%s element %lld non-finite: training diverged (try a lower learning rate)%s",
                (long long)t->prog.step, t->m->params[i].name, s < 0 ? "" : ".", s < 0 ? "" : t->opt.slot_names[s],
                (long long)(bad - l->offset[i]), saved_note(t, note, sizeof note));
    }
}

/* Rank 0 saves (every process holds the same params and state). */
static void save(trainer *t) {
    if (!t->o->save || t->saved_step == t->prog.step) return; /* already saved as it is */
    if (!dlc_comm_is_root()) {
        t->saved_step = t->kept_step = t->prog.step;
        return;
    }
    dlc_runner_params_to_host(&t->r);
    dlc_optim_to_host(&t->opt);
    check_finite_state(t);
    t->prog.lr = t->opt.lr;
    t->prog.sched_epoch = t->sched.last_epoch;
    t->prog.sched_best = t->sched.best;
    t->prog.sched_bad_epochs = t->sched.bad_epochs;
    dlc_watch_remember(&t->watch, &t->prog);
    t->prog.seed = t->cfg.seed;
    dlc_save_checkpoint(t->m, &t->r.layout, t->r.params, t->r.state, &t->norms, &t->opt, &t->prog, t->o->save);
    t->saved_step = t->kept_step = t->prog.step;
}

/* Refuses, before the first step, a K-process run that could not equal the one-process run: a
 * step that mixes the rows of a batch beyond sums (a max along the batch axis), or one that
 * sums batch statistics across processes (batch normalization) with a batch too small to
 * give every process a row: each process's step takes part in every sum. */
static void check_split(const trainer *t, int has_data) {
    const dlc_model *m = t->m;
    int64_t k = dlc_comm_size();
    if (k == 1) return;
    if (m->mixes_rows)
        dlc_die(1, "%s: %s mixes the rows of a batch in a way a sum across processes cannot split; the model cannot "
                   "train in %lld processes: run the trainer as one process",
                m->name, m->mixes_rows, (long long)k);
    if (!m->sums_batch_statistics || !has_data) return;
    int64_t last = t->train.n % t->batch;
    int64_t smallest = t->batch < t->train.n ? t->batch : t->train.n;
    if (last > 0 && !t->cfg.drop_last && last < smallest) smallest = last;
    if (smallest < k)
        dlc_die(1, "%s: a batch of %lld rows (%lld training rows in batches of %lld) leaves some of the %lld processes "
                   "no rows, and batch normalization sums its statistics across every process's rows; use at most "
                   "%lld processes, another batch size or drop_last true (--drop-last true)",
                m->name, (long long)smallest, (long long)t->train.n, (long long)t->batch, (long long)k, (long long)smallest);
}

/* ---- One update ------------------------------------------------------------------------------ */

/* Plain SGD without accumulation, in one process, runs as the model's fused sgd_step, when it
 * has one: the gradients then never reach memory of their own (nor, so, an all-reduce). */
static int fused_sgd(const trainer *t) {
    const dlc_optimizer_config *o = &t->cfg.optimizer;
    return t->m->sgd_step && o->kind == DLC_OPT_SGD && o->momentum == 0 && o->weight_decay == 0 &&
           t->cfg.accumulate == 1 && dlc_comm_size() == 1;
}

/* Forward and backward on this process's part of one micro-batch of n rows (rows
 * order[start..start+n) of the training set, positions start.. of the epoch under way, which
 * pick their dropout masks, docs/rng.md; the params alone for a model without data). Its
 * gradient, the mean over its part, is scaled to the part's share of the n rows and, with
 * accumulate k, divided by k and added to the cycle's sum. A step that sums batch statistics
 * across processes (dlc_model.sums_batch_statistics) sees the n rows' count and returns its
 * shares of the loss and gradient itself: only k divides. Returns the loss summed over the n
 * rows (over every process), and sets t->stop when any process was asked to stop. */
static double micro_step(trainer *t, const int64_t *order, int64_t start, int64_t n, int first_in_cycle) {
    const dlc_model *m = t->m;
    int64_t lo, hi;
    dlc_share(n, &lo, &hi);
    const void *none[1] = {NULL};
    const void *const *data = none;
    if (dlc_model_has_data(m)) {
        dlc_batch_fill(m, &t->train, order, start + lo, hi - lo, &t->batches);
        data = t->batches.ptr;
    }
    const dlc_dropout dropout = dlc_dropout_at(t->cfg.seed, t->prog.epoch, start + lo); /* by the rows' positions */
    dlc_step s = dlc_runner_step(&t->r, hi - lo, data, &dropout, 1);
    s.lr = (float)t->opt.lr;
    s.global_n = n;
    int64_t parts = dlc_comm_size();
    int shares = parts > 1 && m->sums_batch_statistics; /* the step makes its shares itself */
    float loss = 0;
    if (fused_sgd(t)) {
        loss = m->sgd_step(&s); /* the update happens inside the step */
    } else {
        dlc_comm_split_steps(shares);
        if (hi > lo) loss = m->train_step(&s); /* every process has rows when the step sums (train_model) */
        else dlc_device_zero(t->r.grads, (size_t)t->r.layout.total * sizeof(float)); /* no rows here */
        dlc_comm_split_steps(0);
        int64_t k = t->cfg.accumulate;
        if (k > 1 || (parts > 1 && !shares)) {
            /* One process, or shares made by the step: g / k. K: g * rows / (n * k), summed over processes. */
            float mul = parts > 1 && !shares ? (float)(hi - lo) : 1.0f;
            float div = (float)((parts > 1 && !shares ? (double)n : 1.0) * (double)k);
            dlc_device_scale_add(k > 1 ? t->accum : t->r.grads, t->r.grads, mul, div, k == 1 || first_in_cycle,
                                 t->r.layout.total);
        }
    }
    double stats[2] = {(double)loss * (double)(shares ? n : hi - lo), dlc_stop_signal != 0};
    dlc_comm_allreduce_sum_host(stats, 2);
    t->stop = stats[1] > 0;
    return stats[0];
}

static void update(trainer *t) {
    if (fused_sgd(t)) {
        t->opt.step++; /* sgd_step already updated the params */
    } else {
        float *grads = t->cfg.accumulate > 1 ? t->accum : t->r.grads;
        dlc_comm_allreduce_sum(grads, t->r.layout.total); /* the gradient of the whole batch */
        dlc_optim_update(&t->opt, t->r.dev_params, grads);
    }
    t->prog.step++;
    t->run_updates++;
}

static int steps_done(const trainer *t) { return t->o->max_steps >= 0 && t->run_updates >= t->o->max_steps; }

/* ---- Epochs ---------------------------------------------------------------------------------- */

static void log_header(trainer *t, const char *first) {
    if (!t->log || ftell(t->log) > 0) return;
    fprintf(t->log, "%s,step,loss", first);
    if (dlc_model_has_data(t->m)) fprintf(t->log, ",val_loss,%s", t->cfg.metric ? dlc_metric_name(t->cfg.metric) : "metric");
    fprintf(t->log, ",lr,seconds\n");
    check_log(t);
}

/* The --log file, opened (and its header written) with its first row: a run that fails before
 * its first epoch (or update) ends leaves no log behind, and an existing one untouched. */
static FILE *log_file(trainer *t) {
    const dlc_options *o = t->o;
    if (!o->log || t->log || !dlc_comm_is_root()) return t->log;
    t->log = fopen(o->log, o->resume ? "a" : "w");
    if (!t->log) dlc_die(1, "%s: cannot write: %s", o->log, strerror(errno));
    fseek(t->log, 0, SEEK_END);
    log_header(t, dlc_model_has_data(t->m) ? "epoch" : "update");
    return t->log;
}

/* A copy of the params the run starts from, on the device (the host copy is the start). */
static void keep_start_params(trainer *t) {
    size_t n = (size_t)t->r.layout.total;
    t->start_params = dlc_device_alloc(dlc_mul_size(n + 1, sizeof(float)));
    dlc_device_copy_in(t->start_params, t->r.params, n * sizeof(float));
    t->start_views = dlc_layout_views(t->m, &t->r.layout, t->start_params);
}

static void forget_start_params(trainer *t) {
    dlc_device_free(t->start_params);
    free(t->start_views);
    t->start_params = NULL;
    t->start_views = NULL;
}

/* A loss that is not finite and no row of this process's to blame: another process may still
 * find one in its rows and end the job with its message, so every process waits here until
 * all have looked (with one process, at once). */
static void none_to_blame(void) {
    double none = 0;
    dlc_comm_allreduce_sum_host(&none, 1);
}

/* Runs micro-batches of the epoch under way until it ends, an update finishes a --steps
 * budget, or Ctrl-C. Returns 1 when the epoch is complete. */
static int run_epoch(trainer *t, int64_t n_batches, int64_t *order) {
    int64_t k = t->cfg.accumulate, n_train = t->train.n;
    int64_t in_cycle = 0;
    while (t->prog.epoch_batches < n_batches) {
        int64_t start = t->prog.epoch_batches * t->batch;
        int64_t n = n_train - start < t->batch ? n_train - start : t->batch;
        double loss_sum = micro_step(t, t->cfg.shuffle ? order : NULL, start, n, in_cycle == 0);
        if (!isfinite(loss_sum)) {
            if (t->start_params) dlc_blame_batch(&t->r, t->start_views); /* exits at a bad row of this process's */
            none_to_blame();
            diverged(t, loss_sum, n_batches);
        }
        t->prog.epoch_loss_sum += loss_sum;
        t->prog.epoch_rows += n;
        t->prog.epoch_batches++;
        dlc_bar_tick(&t->bar, t->prog.epoch_batches, t->prog.epoch_rows, t->prog.epoch_loss_sum);
        /* The epoch's tail updates even with fewer than k micro-batches. */
        if (++in_cycle == k || t->prog.epoch_batches == n_batches) {
            update(t);
            in_cycle = 0;
            if (t->stop || steps_done(t)) break;
        }
    }
    return t->prog.epoch_batches == n_batches;
}

/* An epoch line being built with dlc_format_*: room for three numbers of 320 characters (%.6f
 * of DBL_MAX has 316) and the words; a longer one would be cut, never overrun. */
typedef struct {
    char s[2048];
    size_t n;
} epoch_line;

static void line_add(epoch_line *l, const char *text) {
    size_t k = strlen(text), room = sizeof l->s - 1 - l->n;
    if (k > room) k = room;
    memcpy(l->s + l->n, text, k);
    l->n += k;
}

static void line_fixed(epoch_line *l, double v, int decimals) {
    char num[330]; /* %.9f of -DBL_MAX: 320 characters */
    dlc_format_fixed(num, sizeof num, v, decimals);
    line_add(l, num);
}

static void line_int(epoch_line *l, int64_t v) {
    char num[24];
    dlc_format_int(num, sizeof num, v);
    line_add(l, num);
}

/* The learning rate as %.6g, formatted again only when it changes (a schedule's steps). */
static const char *lr_text(trainer *t, double lr) {
    if (!t->lr_shown_valid || memcmp(&lr, &t->lr_shown, sizeof lr) != 0) { /* bits: -0.0 is not 0.0 */
        snprintf(t->lr_shown_text, sizeof t->lr_shown_text, "%.6g", lr);
        t->lr_shown = lr;
        t->lr_shown_valid = 1;
    }
    return t->lr_shown_text;
}

static void report_epoch(trainer *t, int complete, int64_t n_batches, double lr, double seconds) {
    dlc_metric_kind metric = t->cfg.metric;
    double loss = t->prog.epoch_rows ? t->prog.epoch_loss_sum / (double)t->prog.epoch_rows : NAN;
    double val_loss = NAN, value = NAN;
    dlc_metrics acc;
    if (t->val.n > 0) {
        dlc_evaluate(&t->r, &t->val, t->eval_batch, metric, &acc);
        val_loss = dlc_metrics_loss(&acc);
        value = dlc_metrics_value(metric, &acc);
        if (t->start_params && !isfinite(val_loss)) {
            /* Every process holds the same validation rows: rank 0 looks. */
            if (dlc_comm_is_root()) dlc_blame_rows(&t->r, t->start_views, &t->val, NULL, 0, t->val.n);
            none_to_blame();
        }
    } else if (metric != DLC_METRIC_NONE) {
        /* No validation set: the metric over the training rows, dropout off. */
        dlc_evaluate(&t->r, &t->train, t->eval_batch, metric, &acc);
        value = dlc_metrics_value(metric, &acc);
    }
    int64_t shown = t->prog.epoch + 1;
    dlc_bar_clear(&t->bar); /* the plain line takes the bar's place */
    /* `epoch 3/10  loss 0.123456  lr 0.1  0.01s`, built with dlc_format_* and written at once:
     * printf's float formatting cost more than a small model's whole epoch. */
    epoch_line l = {.n = 0};
    line_add(&l, "epoch ");
    line_int(&l, shown);
    if (t->o->max_steps < 0) { line_add(&l, "/"); line_int(&l, t->epoch_end); }
    line_add(&l, "  loss ");
    line_fixed(&l, loss, 6);
    if (t->val.n > 0) { line_add(&l, "  val_loss "); line_fixed(&l, val_loss, 6); }
    if (metric != DLC_METRIC_NONE) {
        line_add(&l, t->val.n > 0 ? "  val_" : "  train_");
        line_add(&l, dlc_metric_name(metric));
        line_add(&l, " ");
        line_fixed(&l, value, 6);
    }
    line_add(&l, "  lr ");
    line_add(&l, lr_text(t, lr));
    line_add(&l, "  ");
    line_fixed(&l, seconds, 2);
    line_add(&l, "s");
    if (!complete) {
        line_add(&l, "  (stopped after ");
        line_int(&l, t->prog.epoch_batches);
        line_add(&l, " of ");
        line_int(&l, n_batches);
        line_add(&l, " batches)");
    }
    line_add(&l, "\n");
    fwrite(l.s, 1, l.n, stdout);
    if (log_file(t)) {
        fprintf(t->log, "%lld,%lld,%.9g,", (long long)shown, (long long)t->prog.step, loss);
        if (t->val.n > 0) fprintf(t->log, "%.9g", val_loss);
        fprintf(t->log, ",");
        if (metric != DLC_METRIC_NONE) fprintf(t->log, "%.9g", value);
        fprintf(t->log, ",%.9g,%.3f\n", lr, seconds);
        check_log(t);
    }
    t->last_val_loss = val_loss;
    t->last_loss = loss;
    t->last_metric = value;
}

static void train_epochs(trainer *t) {
    int64_t n_train = t->train.n;
    int64_t n_batches = batches_per_epoch(t);
    if (n_batches == 0) {
        flush_before_stderr(t);
        fprintf(stderr, "warning: no batches: %lld rows with batch %lld and drop_last\n", (long long)n_train,
                (long long)t->batch);
        return;
    }
    /* Without shuffling the batches are views of the training rows, in file order: no order
     * array and no gather buffers. */
    int shuffle = t->cfg.shuffle;
    int64_t *order = shuffle ? dlc_xmalloc(dlc_mul_size((size_t)n_train, sizeof *order)) : NULL;
    dlc_batch_init(t->m, t->batch < n_train ? t->batch : n_train, &t->batches);
    t->last_flush = dlc_now();
    while (t->prog.epoch < t->epoch_end && !steps_done(t) && !t->stop) {
        /* The order of this epoch, from the shuffle stream as it stood at the epoch's start
         * (a resumed epoch is rebuilt the same way and its finished batches skipped). */
        t->prog.shuffle_state = t->shuffle.state;
        if (shuffle) {
            for (int64_t i = 0; i < n_train; i++) order[i] = i;
            dlc_rng_permute(&t->shuffle, order, n_train);
        }
        double lr = t->opt.lr, t0 = dlc_now();
        dlc_bar_begin(&t->bar, t->prog.epoch + 1, t->o->max_steps < 0 ? t->epoch_end : -1, n_batches,
                      t->prog.epoch_batches, t->prog.epoch_rows);
        int complete = run_epoch(t, n_batches, order);
        double t1 = dlc_now();
        report_epoch(t, complete, n_batches, lr, t1 - t0);
        flush_output(t, t1);
        if (!complete) {
            t->shuffle.state = t->prog.shuffle_state; /* still at the epoch's start */
            break;
        }
        t->prog.epoch++;
        forget_start_params(t);
        t->prog.epoch_batches = 0;
        t->prog.epoch_loss_sum = 0;
        t->prog.epoch_rows = 0;
        t->prog.shuffle_state = t->shuffle.state;
        /* The plateau watches the validation loss when there is one. */
        t->opt.lr = dlc_sched_step(&t->sched, t->opt.lr, t->val.n > 0 ? t->last_val_loss : t->last_loss);
        /* Watched before the save, so that the checkpoint holds this epoch's early-stop counts. */
        int stop = dlc_watch_epoch(&t->watch, t->prog.epoch, t->last_loss, t->last_val_loss, t->last_metric, &t->r,
                                   &t->norms, t->prog.step);
        save(t);
        if (stop) break;
    }
    dlc_batch_free(&t->batches);
    free(order);
}

/* Each scalar f32 output's value with the params after the update just made (an evaluation
 * pass, dropout off): `  x 0.840000` for descend's `output x`. */
static void print_scalar_outputs(trainer *t) {
    const dlc_model *m = t->m;
    int any = 0;
    for (int i = 0; i < m->n_outputs; i++)
        if (m->outputs[i].dtype == DLC_F32 && !m->outputs[i].batched && m->outputs[i].rank == 0) any = 1;
    if (!any) return;
    dlc_metrics acc;
    dlc_evaluate(&t->r, &t->train, 1, DLC_METRIC_NONE, &acc);
    for (int i = 0; i < m->n_outputs; i++) {
        const dlc_output_desc *o = &m->outputs[i];
        if (o->dtype == DLC_F32 && !o->batched && o->rank == 0)
            printf("  %s %.6f", o->name, (double)((const float *)t->r.outputs[i])[0]);
    }
}

/* A model without data: `steps` updates, each on the params alone. Like the reference
 * trainer (Sources/Interpreter/Trainer.swift), each update counts as an epoch of
 * `accumulate` steps: its loss is their mean, and the schedule steps after it. */
static void train_steps(trainer *t) {
    int64_t total = t->o->max_steps >= 0 ? t->o->max_steps : t->cfg.steps;
    int64_t every = total > 50 ? (total + 19) / 20 : 1; /* about 20 progress lines */
    t->last_flush = dlc_now();
    for (int64_t i = 0; i < total && !t->stop; i++) {
        double lr = t->opt.lr, sum = 0;
        /* Each update is an epoch (prog.epoch counts them) whose rows are its accumulated steps. */
        for (int64_t c = 0; c < t->cfg.accumulate; c++) {
            double loss = micro_step(t, NULL, c, 1, c == 0);
            if (!isfinite(loss)) diverged(t, loss, 1);
            sum += loss;
        }
        double loss = sum / (double)t->cfg.accumulate;
        update(t);
        t->prog.epoch++;
        t->opt.lr = dlc_sched_step(&t->sched, t->opt.lr, loss);
        if ((i + 1) % every == 0 || i + 1 == total) {
            printf("step %lld/%lld  loss %.6f", (long long)t->prog.step, (long long)(t->prog.step - i - 1 + total), loss);
            print_scalar_outputs(t);
            printf("  lr %.6g\n", lr);
        }
        if (log_file(t)) fprintf(t->log, "%lld,%lld,%.9g,%.9g,0\n", (long long)t->prog.step, (long long)t->prog.step, loss, lr);
        check_log(t);
        dlc_watch_epoch(&t->watch, t->prog.step, loss, NAN, NAN, &t->r, &t->norms, t->prog.step);
        flush_output(t, dlc_now());
    }
}

/* The processes of a job start alike: rank 0's params, state, optimizer state and progress (each
 * process read the same files, but a stale copy on one machine must not split the job), and
 * the same data, or they would run different numbers of batches and wait for each other
 * forever. Returns 1 when some process was asked to stop while loading. */
static int start_together(trainer *t) {
    double flag = dlc_stop_signal != 0;
    dlc_comm_allreduce_sum_host(&flag, 1);
    if (flag > 0) return 1;
    if (dlc_comm_size() == 1) return 0;
    int64_t rows[2] = {t->train.n, t->val.n};
    dlc_comm_broadcast(rows, sizeof rows, 0);
    if (rows[0] != t->train.n || rows[1] != t->val.n)
        dlc_die(1, "rank %d read %lld training and %lld validation rows, rank 0 %lld and %lld: every process must read "
                   "the same data", dlc_comm_rank(), (long long)t->train.n, (long long)t->val.n, (long long)rows[0],
                (long long)rows[1]);
    size_t bytes = (size_t)t->r.layout.total * sizeof(float);
    dlc_comm_broadcast(t->r.params, bytes, 0);
    for (int i = 0; i < t->m->n_state; i++)
        dlc_comm_broadcast(t->r.state[i], dlc_mul_size((size_t)t->m->state[i].size, 4), 0);
    for (int s = 0; s < t->opt.n_slots; s++) dlc_comm_broadcast(t->opt.slot[s], bytes, 0);
    dlc_comm_broadcast(&t->prog, sizeof t->prog, 0);
    dlc_comm_broadcast(&t->opt.lr, sizeof t->opt.lr, 0);
    dlc_comm_broadcast(&t->opt.step, sizeof t->opt.step, 0);
    dlc_comm_broadcast(&t->sched, sizeof t->sched, 0);
    dlc_comm_broadcast(&t->cfg.seed, sizeof t->cfg.seed, 0);
    t->shuffle.state = t->prog.shuffle_state;
    return 0;
}

int dlc_cmd_train(const dlc_model *m, const dlc_options *o) {
    trainer t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.o = o;
    t.cfg = o->cfg;
    t.saved_step = t.kept_step = -1;
    dlc_catch_stop_signals(); /* Ctrl-C and SIGTERM finish the update under way, save, exit */
    resume_seed(&t);
    int has_data = dlc_model_has_data(m);
    if (has_data) {
        load_data(&t);
        dlc_norm_compute(m, &t.cfg, &t.train, &t.norms);
        dlc_norm_apply(m, &t.norms, &t.train);
        dlc_norm_apply(m, &t.norms, &t.val);
    }
    /* A batch larger than the data is one partial batch (which drop_last skips). */
    t.batch = has_data && t.cfg.batch > 0 ? t.cfg.batch : has_data ? t.train.n : 1;
    if (has_data) dlc_check_batch_rows(m, t.train.n, t.batch, t.cfg.drop_last);
    check_split(&t, has_data);
    int64_t train_rows = t.batch < t.train.n || !has_data ? t.batch : t.train.n;
    /* Evaluation runs in batches of the same size (`batch full`: as many rows as training). */
    t.eval_batch = has_data ? t.batch : 1;
    int64_t largest = t.train.n > t.val.n ? t.train.n : t.val.n;
    int64_t eval_rows = has_data && t.eval_batch > largest ? largest : t.eval_batch;
    dlc_runner_init(&t.r, m, train_rows > eval_rows ? train_rows : eval_rows);
    dlc_set_threads(m, o->threads, t.r.max_rows);
    start_params(&t);
    if (t.cfg.accumulate > 1) t.accum = dlc_device_alloc(dlc_mul_size((size_t)t.r.layout.total + 1, sizeof(float)));
    dlc_watch_init(&t.watch, m, o, &t.cfg, t.val.n > 0);
    if (o->resume) dlc_watch_restore(&t.watch, &t.prog, o->log);
    t.epoch_end = o->max_steps >= 0 ? INT64_MAX : t.prog.epoch + t.cfg.epochs;
    dlc_comm_ready(); /* setup is over: from here on a failure is one process's own */
    if (start_together(&t)) return dlc_stop_signal ? dlc_stop_status() : 128 + SIGINT; /* during loading: nothing to save */
    dlc_runner_params_to_device(&t.r);
    dlc_optim_to_device(&t.opt);
    if (has_data) {
        keep_start_params(&t);
        /* On a GPU, the rows once (when they fit), after everything a step needs is allocated. */
        dlc_dataset_to_device(m, &t.train);
        dlc_dataset_to_device(m, &t.val);
    }
    if (has_data)
        printf("train %s: %lld rows, %lld for validation, batch %lld, %s lr %g, seed %llu\n", m->name,
               (long long)t.train.n, (long long)t.val.n, (long long)t.batch, dlc_optim_name(t.cfg.optimizer.kind),
               t.opt.lr, (unsigned long long)t.cfg.seed);
    dlc_flush_stdout();
    if (has_data) train_epochs(&t);
    else train_steps(&t);
    forget_start_params(&t);
    dlc_dataset_off_device(m, &t.train);
    dlc_dataset_off_device(m, &t.val);
    save(&t); /* epochs also saved as they ended; this covers the rest (steps, Ctrl-C, no data) */
    dlc_flush_stdout();
    if (t.log) {
        fflush(t.log);
        check_log(&t);
        FILE *log = t.log;
        t.log = NULL;
        if (fclose(log) != 0) dlc_die(1, "%s: cannot write: %s", o->log, strerror(errno));
    }
    dlc_watch_free(&t.watch);
    if (t.stop) { /* this process's signal, or another's (then as Ctrl-C) */
        fprintf(stderr, "%s%s%s\n", dlc_stop_signal ? dlc_stop_word() : "interrupted", o->save ? ": saved " : "",
                o->save ? o->save : "");
        return dlc_stop_signal ? dlc_stop_status() : 128 + SIGINT;
    }
    return 0;
}
