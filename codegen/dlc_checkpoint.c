/* dlc_checkpoint.c: what goes into the two checkpoint files, and what comes back out.
 *
 * P (the params file) holds exactly the model's params under their names, so PyTorch's
 * load_state_dict accepts it, plus __metadata__: "format": "pt", the normalize statistics
 * (normalize.NAME.mean / .std as JSON arrays) and "dlc.step". P.optim.safetensors holds the
 * optimizer state as NAME.SLOT tensors (torch's slot names: momentum_buffer, exp_avg,
 * exp_avg_sq, sum) and, in its metadata, everything --resume needs to continue bit for bit:
 * step, epoch, position in the epoch, learning rate, schedule state and RNG states. Both
 * record the step, so a pair from different saves is refused. */
#include "dlc_runtime.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

char *dlc_optim_path(const char *params_path) {
    size_t n = strlen(params_path);
    char *p = dlc_xmalloc(n + 32);
    if (dlc_ends_with(params_path, ".safetensors")) {
        memcpy(p, params_path, n - strlen(".safetensors"));
        strcpy(p + n - strlen(".safetensors"), ".optim.safetensors");
    } else {
        snprintf(p, n + 32, "%s.optim.safetensors", params_path);
    }
    return p;
}

static char *float_array_json(const float *v, int64_t n) {
    dlc_str s = {0};
    dlc_str_add(&s, "[");
    for (int64_t i = 0; i < n; i++) dlc_str_add(&s, "%s%.9g", i ? ", " : "", (double)v[i]);
    dlc_str_add(&s, "]");
    return s.s;
}

static char *format(const char *fmt, ...) {
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dlc_xstrdup(buf);
}

void dlc_save_params(const dlc_model *m, const dlc_layout *l, const float *params, void *const *state,
                     const dlc_norms *nz, const char *path, int64_t step) {
    dlc_st_tensor *t = dlc_xcalloc((size_t)(m->n_params + m->n_state) + 1, sizeof *t);
    for (int i = 0; i < m->n_params; i++)
        t[i] = (dlc_st_tensor){m->params[i].name, m->params[i].rank, m->params[i].dims, params + l->offset[i], "F32"};
    /* State after the params, as PyTorch's state_dict orders buffers; an i32 counter as I64. */
    int64_t **wide = dlc_xcalloc((size_t)m->n_state + 1, sizeof *wide);
    for (int i = 0; i < m->n_state; i++) {
        const dlc_state_desc *d = &m->state[i];
        const void *data = state[i];
        if (d->dtype == DLC_I32) {
            wide[i] = dlc_xmalloc(dlc_mul_size((size_t)d->size, sizeof(int64_t)));
            for (int64_t k = 0; k < d->size; k++) wide[i][k] = ((const int32_t *)state[i])[k];
            data = wide[i];
        }
        t[m->n_params + i] = (dlc_st_tensor){d->name, d->rank, d->dims, data, d->dtype == DLC_I32 ? "I64" : "F32"};
    }
    int nm = 0, cap = 2 + 2 * (nz ? nz->count : 0);
    dlc_st_meta *meta = dlc_xcalloc((size_t)cap, sizeof *meta);
    meta[nm++] = (dlc_st_meta){"format", "pt"};
    meta[nm++] = (dlc_st_meta){"dlc.step", format("%lld", (long long)step)};
    for (int k = 0; nz && k < nz->count; k++) {
        const dlc_norm *z = &nz->items[k];
        const dlc_data_desc *d = &m->data[z->tensor];
        dlc_str key = {0};
        dlc_str_add(&key, "normalize.%s.mean", d->name);
        meta[nm++] = (dlc_st_meta){key.s, float_array_json(z->mean, d->size)};
        dlc_str key2 = {0};
        dlc_str_add(&key2, "normalize.%s.std", d->name);
        meta[nm++] = (dlc_st_meta){key2.s, float_array_json(z->std, d->size)};
    }
    dlc_st_write(path, t, m->n_params + m->n_state, meta, nm);
    for (int i = 0; i < m->n_state; i++) free(wide[i]);
    free(wide);
    free(t);
    free(meta); /* the strings are few and small; they live until exit */
}

void dlc_load_params(const dlc_model *m, const dlc_layout *l, float *params, void *const *state, const char *path,
                     dlc_st_file *f) {
    dlc_st_open(path, f);
    const char **names = dlc_xcalloc((size_t)(m->n_params + m->n_state) + 1, sizeof *names);
    for (int i = 0; i < m->n_params; i++) {
        const dlc_param_desc *p = &m->params[i];
        dlc_st_read(f, p->name, p->rank, p->dims, params + l->offset[i]);
        names[i] = p->name;
    }
    for (int i = 0; i < m->n_state; i++) {
        names[m->n_params + i] = m->state[i].name;
        dlc_read_state(f, &m->state[i], m->state[i].name, state[i]);
    }
    dlc_st_no_extra(f, names, m->n_params + m->n_state);
    free(names);
}

void dlc_read_state(const dlc_st_file *f, const dlc_state_desc *d, const char *name, void *dst) {
    if (d->dtype == DLC_F32) {
        dlc_st_read(f, name, d->rank, d->dims, dst);
        return;
    }
    int64_t *wide = dlc_xmalloc(dlc_mul_size((size_t)d->size, sizeof *wide));
    dlc_st_read_i64(f, name, d->rank, d->dims, wide);
    for (int64_t k = 0; k < d->size; k++) {
        if (wide[k] < 0 || wide[k] > INT32_MAX)
            dlc_die(1, "%s: tensor '%s' holds %lld, which is not a count in 0..%d", f->path, name, (long long)wide[k],
                    INT32_MAX);
        ((int32_t *)dst)[k] = (int32_t)wide[k];
    }
    free(wide);
}

/* A metadata JSON array of exactly n numbers, each an f32 (a std: a positive normal one, since
 * every feature is divided by it; dlc_norm_compute saves 1 for a constant feature). */
static void read_stats(const dlc_st_file *f, const char *key, const char *text, float *out, int64_t n, int is_std) {
    char err[160];
    dlc_json *v = dlc_json_parse(text, strlen(text), err, sizeof err);
    if (!v) dlc_die(1, "%s: __metadata__ %s: bad JSON: %s", f->path, key, err);
    if (v->kind != DLC_JSON_ARRAY || (int64_t)v->len != n)
        dlc_die(1, "%s: __metadata__ %s must be a list of %lld numbers", f->path, key, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        if (v->items[i].kind != DLC_JSON_NUMBER)
            dlc_die(1, "%s: __metadata__ %s must be a list of %lld numbers", f->path, key, (long long)n);
        double x = v->items[i].number;
        if (is_std && !(x >= FLT_MIN && x <= FLT_MAX))
            dlc_die(1, "%s: __metadata__ %s element %lld is not a positive f32: %g", f->path, key, (long long)i, x);
        if (!(fabs(x) <= FLT_MAX))
            dlc_die(1, "%s: __metadata__ %s element %lld is out of range for f32: %g", f->path, key, (long long)i, x);
        out[i] = (float)x;
    }
    dlc_json_free(v);
}

void dlc_load_norms(const dlc_model *m, const dlc_train_config *cfg, const dlc_st_file *f, dlc_norms *nz) {
    nz->count = 0;
    nz->items = dlc_xcalloc((size_t)m->n_data + 1, sizeof *nz->items);
    for (int t = 0; t < m->n_data; t++) {
        const dlc_data_desc *d = &m->data[t];
        if (d->is_target || d->dtype != DLC_F32) continue;
        char kmean[256], kstd[256];
        snprintf(kmean, sizeof kmean, "normalize.%s.mean", d->name);
        snprintf(kstd, sizeof kstd, "normalize.%s.std", d->name);
        const char *mean = dlc_st_meta_get(f, kmean), *std = dlc_st_meta_get(f, kstd);
        int configured = 0;
        for (int k = 0; k < cfg->n_normalize; k++) configured |= strcmp(cfg->normalize[k], d->name) == 0;
        if (!mean && !std && !configured) continue;
        if (!mean || !std)
            dlc_die(1, "%s: __metadata__ lacks %s (the model normalizes %s)", f->path, mean ? kstd : kmean, d->name);
        dlc_norm *z = &nz->items[nz->count++];
        z->tensor = t;
        z->mean = dlc_xmalloc((size_t)d->size * sizeof(float));
        z->std = dlc_xmalloc((size_t)d->size * sizeof(float));
        read_stats(f, kmean, mean, z->mean, d->size, 0);
        read_stats(f, kstd, std, z->std, d->size, 1);
    }
}

/* ---- The optimizer file -------------------------------------------------------------------- */

void dlc_save_optim(const dlc_model *m, const dlc_layout *l, const dlc_optimizer *opt, const dlc_progress *p,
                    const char *params_path) {
    int nt = opt->n_slots * m->n_params;
    dlc_st_tensor *t = dlc_xcalloc((size_t)nt + 1, sizeof *t);
    for (int s = 0; s < opt->n_slots; s++)
        for (int i = 0; i < m->n_params; i++) {
            dlc_str name = {0};
            dlc_str_add(&name, "%s.%s", m->params[i].name, opt->slot_names[s]);
            t[s * m->n_params + i] =
                (dlc_st_tensor){name.s, m->params[i].rank, m->params[i].dims, opt->slot[s] + l->offset[i]};
        }
    dlc_st_meta meta[] = {
        {"format", "dlc-optim-1"},
        {"optimizer", dlc_optim_name(opt->cfg.kind)},
        {"dlc.step", format("%lld", (long long)p->step)},
        {"epoch", format("%lld", (long long)p->epoch)},
        {"epoch_batches", format("%lld", (long long)p->epoch_batches)},
        {"epoch_loss_sum", format("%.17g", p->epoch_loss_sum)},
        {"epoch_rows", format("%lld", (long long)p->epoch_rows)},
        {"rng.shuffle", format("%llu", (unsigned long long)p->shuffle_state)},
        {"rng.dropout", format("%llu", (unsigned long long)p->dropout_state)},
        {"seed", format("%llu", (unsigned long long)p->seed)},
        {"lr", format("%.17g", p->lr)},
        {"schedule.last_epoch", format("%lld", (long long)p->sched_epoch)},
        {"schedule.best", format("%.17g", p->sched_best)},
        {"schedule.bad_epochs", format("%lld", (long long)p->sched_bad_epochs)},
    };
    char *path = dlc_optim_path(params_path);
    dlc_st_write(path, t, nt, meta, (int)(sizeof meta / sizeof meta[0]));
    for (int i = 0; i < nt; i++) free((char *)t[i].name);
    free(t);
    free(path);
}

static const char *need_meta(const dlc_st_file *f, const char *key) {
    const char *v = dlc_st_meta_get(f, key);
    if (!v) dlc_die(1, "%s: __metadata__ lacks '%s'", f->path, key);
    return v;
}

/* Metadata numbers are read by the JSON grammar, whole (no white space, `+`, hex, `inf`), and
 * range-checked before anything computes with them. */
static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static uint64_t meta_uint(const dlc_st_file *f, const char *key, uint64_t max, const char *what) {
    const char *v = need_meta(f, key);
    dlc_json n;
    if (!all_digits(v) || !dlc_json_number(v, &n)) dlc_die(1, "%s: __metadata__ '%s' is not %s: '%s'", f->path, key, what, v);
    if (!n.is_uint || n.uint > max)
        dlc_die(1, "%s: __metadata__ '%s' is out of range: '%s' (at most %llu)", f->path, key, v, (unsigned long long)max);
    return n.uint;
}

/* Counts of updates, epochs, batches and rows: 0 to DLC_MAX_COUNT. */
static int64_t meta_count(const dlc_st_file *f, const char *key) {
    return (int64_t)meta_uint(f, key, DLC_MAX_COUNT, "a count");
}

static uint64_t meta_u64(const dlc_st_file *f, const char *key) {
    return meta_uint(f, key, UINT64_MAX, "an unsigned integer");
}

/* A finite number; `allow_inf` accepts the text "inf" too (schedule.best before any epoch). */
static double meta_double(const dlc_st_file *f, const char *key, int allow_inf) {
    const char *v = need_meta(f, key);
    if (allow_inf && strcmp(v, "inf") == 0) return INFINITY;
    dlc_json n;
    if (!dlc_json_number(v, &n)) dlc_die(1, "%s: __metadata__ '%s' is not a JSON number: '%s'", f->path, key, v);
    if (!isfinite(n.number)) dlc_die(1, "%s: __metadata__ '%s' is out of range: '%s'", f->path, key, v);
    return n.number;
}

int64_t dlc_checkpoint_step(const dlc_st_file *f) {
    if (!dlc_st_meta_get(f, "dlc.step")) dlc_die(1, "%s: __metadata__ lacks dlc.step: not saved by a dlc trainer", f->path);
    return meta_count(f, "dlc.step");
}

uint64_t dlc_checkpoint_seed(const char *params_path) {
    char *path = dlc_optim_path(params_path);
    dlc_st_file f;
    dlc_st_open(path, &f);
    uint64_t seed = meta_u64(&f, "seed");
    dlc_st_close(&f);
    free(path);
    return seed;
}

void dlc_load_optim(const dlc_model *m, const dlc_layout *l, dlc_optimizer *opt, dlc_progress *p,
                    const char *params_path, int64_t params_step) {
    char *path = dlc_optim_path(params_path);
    dlc_st_file f;
    dlc_st_open(path, &f);
    const char *fmt = need_meta(&f, "format");
    if (strcmp(fmt, "dlc-optim-1") != 0) dlc_die(1, "%s: not a dlc optimizer checkpoint (format '%s')", path, fmt);
    const char *kind = need_meta(&f, "optimizer");
    if (strcmp(kind, dlc_optim_name(opt->cfg.kind)) != 0)
        dlc_die(1, "%s: holds %s state, but this run uses %s", path, kind, dlc_optim_name(opt->cfg.kind));
    int nt = opt->n_slots * m->n_params;
    const char **names = dlc_xcalloc((size_t)nt + 1, sizeof *names);
    for (int s = 0; s < opt->n_slots; s++)
        for (int i = 0; i < m->n_params; i++) {
            dlc_str name = {0};
            dlc_str_add(&name, "%s.%s", m->params[i].name, opt->slot_names[s]);
            dlc_st_read(&f, name.s, m->params[i].rank, m->params[i].dims, opt->slot[s] + l->offset[i]);
            names[s * m->n_params + i] = name.s;
        }
    dlc_st_no_extra(&f, names, nt);
    p->step = meta_count(&f, "dlc.step");
    if (p->step != params_step)
        dlc_die(1, "%s: saved at step %lld, but %s at step %lld (the pair is from different saves)", path,
                (long long)p->step, params_path, (long long)params_step);
    p->epoch = meta_count(&f, "epoch");
    p->epoch_batches = meta_count(&f, "epoch_batches");
    p->epoch_loss_sum = meta_double(&f, "epoch_loss_sum", 0);
    p->epoch_rows = meta_count(&f, "epoch_rows");
    p->shuffle_state = meta_u64(&f, "rng.shuffle");
    p->dropout_state = meta_u64(&f, "rng.dropout");
    p->seed = meta_u64(&f, "seed");
    p->lr = meta_double(&f, "lr", 0);
    if (p->lr < 0) dlc_die(1, "%s: __metadata__ 'lr' must be a finite number >= 0, got '%s'", path, need_meta(&f, "lr"));
    p->sched_epoch = meta_count(&f, "schedule.last_epoch");
    p->sched_best = meta_double(&f, "schedule.best", 1);
    p->sched_bad_epochs = meta_count(&f, "schedule.bad_epochs");
    opt->step = p->step;
    opt->lr = p->lr;
    for (int i = 0; i < nt; i++) free((char *)names[i]);
    free(names);
    dlc_st_close(&f);
    free(path);
}
