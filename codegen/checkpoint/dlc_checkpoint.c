/* dlc_checkpoint.c: what goes into the two checkpoint files, and what comes back out.
 *
 * P (the params file) holds exactly the model's params and state (batch normalization's
 * running statistics, F32, and num_batches_tracked, I64) under their names, so PyTorch's
 * load_state_dict accepts it, plus __metadata__: "format": "pt", the normalize statistics
 * (normalize.NAME.mean / .std as JSON arrays) and "dlc.step". P.optim.safetensors holds the
 * optimizer state as NAME.SLOT tensors (torch's slot names: momentum_buffer, exp_avg,
 * exp_avg_sq, sum) and, in its metadata, everything --resume needs to continue bit for bit:
 * step, epoch, position in the epoch, learning rate, schedule state and RNG states, and the
 * identity of the params it belongs to: their step and "dlc.params_hash", a hash of their
 * values. A pair from different saves is refused.
 *
 * Two files cannot be renamed at once, so a save commits in steps, each a rename, and a
 * crash between any two leaves a pair the loader finds (docs: codegen/README.md):
 *   0. both new files are written to temporary names and flushed to disk;
 *   1. the old optimizer file is renamed P.optim.prev.safetensors  (old pair: P + prev)
 *   2. the new optimizer file takes its place                      (old pair: P + prev)
 *   3. the new params file takes P's place                         (new pair: P + optim)
 *   4. prev is removed.
 * The loader takes P.optim.safetensors when it pairs with P, else prev when that does; the
 * next save settles a prev left behind (removed, or put back when it is P's partner). */
#include "dlc_runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- The pair's identity ------------------------------------------------------------------ */

/* FNV-1a (64-bit) over the params' f32 bytes in declaration order: the identity of a params
 * file's contents (whatever order its tensors are stored in), recorded in its optimizer file. */
static void params_hash(const float *params, int64_t total, char out[17]) {
    const unsigned char *b = (const unsigned char *)params;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < (size_t)total * sizeof(float); i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

typedef struct {
    int64_t step;
    char hash[17];
} pair_id;

static char *prev_path(const char *optim_path) {
    size_t n = strlen(optim_path) - strlen(".safetensors"); /* an optimizer path always ends so */
    char *p = dlc_xmalloc(n + 32);
    snprintf(p, n + 32, "%.*s.prev.safetensors", (int)n, optim_path);
    return p;
}

/* ---- Reading -------------------------------------------------------------------------------- */

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

static const char *need_meta(const dlc_st_file *f, const char *key) {
    const char *v = dlc_st_meta_get(f, key);
    if (!v) dlc_die(1, "%s: __metadata__ lacks '%s'", f->path, key);
    return v;
}

/* Metadata numbers are read by the JSON grammar, whole (no white space, `+`, hex, `inf`), and
 * range-checked before anything computes with them. */
static int is_plain_integer(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static uint64_t meta_uint(const dlc_st_file *f, const char *key, uint64_t max, const char *what) {
    const char *v = need_meta(f, key);
    dlc_json n;
    if (!is_plain_integer(v) || !dlc_json_number(v, &n)) dlc_die(1, "%s: __metadata__ '%s' is not %s: '%s'", f->path, key, what, v);
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

/* Reads params file P (every param, strictly) and returns its identity; 0 when P is not there. */
static int read_params_id(const dlc_model *m, const char *path, pair_id *id) {
    if (access(path, F_OK) != 0) return 0;
    dlc_layout l;
    dlc_layout_make(m, &l);
    float *params = dlc_xmalloc(dlc_mul_size((size_t)l.total + 1, sizeof(float)));
    /* The state is checked with the params (into scratch memory): the hash covers the params. */
    void **state = dlc_xcalloc((size_t)m->n_state + 1, sizeof *state);
    for (int i = 0; i < m->n_state; i++) state[i] = dlc_xmalloc(dlc_mul_size((size_t)m->state[i].size, 4));
    dlc_st_file f;
    dlc_load_params(m, &l, params, state, path, &f);
    for (int i = 0; i < m->n_state; i++) free(state[i]);
    free(state);
    id->step = dlc_checkpoint_step(&f);
    dlc_st_close(&f);
    params_hash(params, l.total, id->hash);
    free(params);
    free(l.offset);
    return 1;
}

typedef enum { PAIRS, MISSING, OTHER_STEP, OTHER_PARAMS } relation;

/* How an optimizer file relates to the params identified by id (a file without a params hash,
 * from before dlc recorded one, pairs by its step alone). */
static relation optim_relation(const char *optim_path, const pair_id *id, int64_t *step) {
    if (access(optim_path, F_OK) != 0) return MISSING;
    dlc_st_file f;
    dlc_st_open(optim_path, &f);
    *step = meta_count(&f, "dlc.step");
    const char *hash = dlc_st_meta_get(&f, "dlc.params_hash");
    relation r = *step != id->step ? OTHER_STEP : hash && strcmp(hash, id->hash) != 0 ? OTHER_PARAMS : PAIRS;
    dlc_st_close(&f);
    return r;
}

char *dlc_checkpoint_partner(const dlc_model *m, const char *params_path) {
    pair_id id;
    if (!read_params_id(m, params_path, &id)) dlc_die(1, "%s: %s", params_path, strerror(ENOENT));
    char *optim = dlc_optim_path(params_path), *prev = prev_path(optim);
    int64_t step = 0, prev_step = 0;
    relation r = optim_relation(optim, &id, &step);
    if (r == PAIRS) {
        free(prev);
        return optim;
    }
    if (optim_relation(prev, &id, &prev_step) == PAIRS) {
        fflush(stdout);
        fprintf(stderr, "note: %s: its last save was interrupted; continuing from the pair before it (%s)\n",
                params_path, prev);
        free(optim);
        return prev;
    }
    if (r == MISSING) dlc_die(1, "%s: %s", optim, strerror(ENOENT));
    if (r == OTHER_STEP)
        dlc_die(1, "%s: saved at step %lld, but %s at step %lld (the pair is from different saves)", optim,
                (long long)step, params_path, (long long)id.step);
    dlc_die(1, "%s: holds the optimizer state of other params than %s (the pair is from different saves)", optim,
            params_path);
}

uint64_t dlc_checkpoint_seed(const char *optim_path) {
    dlc_st_file f;
    dlc_st_open(optim_path, &f);
    uint64_t seed = meta_u64(&f, "seed");
    dlc_st_close(&f);
    return seed;
}

void dlc_load_optim(const dlc_model *m, const dlc_layout *l, dlc_optimizer *opt, dlc_progress *p, const char *path) {
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
    p->epoch = meta_count(&f, "epoch");
    p->epoch_batches = meta_count(&f, "epoch_batches");
    p->epoch_loss_sum = meta_double(&f, "epoch_loss_sum", 0);
    p->epoch_rows = meta_count(&f, "epoch_rows");
    p->shuffle_state = meta_u64(&f, "rng.shuffle");
    p->seed = meta_u64(&f, "seed");
    p->lr = meta_double(&f, "lr", 0);
    if (p->lr < 0) dlc_die(1, "%s: __metadata__ 'lr' must be a finite number >= 0, got '%s'", path, need_meta(&f, "lr"));
    p->sched_epoch = meta_count(&f, "schedule.last_epoch");
    p->sched_best = meta_double(&f, "schedule.best", 1);
    p->sched_bad_epochs = meta_count(&f, "schedule.bad_epochs");
    /* Written since early stopping came; an older checkpoint starts watching afresh. */
    p->watch_best = p->watch_stop_best = INFINITY;
    p->watch_best_epoch = p->watch_bad_epochs = 0;
    if (dlc_st_meta_get(&f, "watch.best")) {
        p->watch_best = meta_double(&f, "watch.best", 1);
        p->watch_best_epoch = meta_count(&f, "watch.best_epoch");
        p->watch_stop_best = meta_double(&f, "watch.stop_best", 1);
        p->watch_bad_epochs = meta_count(&f, "watch.bad_epochs");
    }
    opt->step = p->step;
    opt->lr = p->lr;
    for (int i = 0; i < nt; i++) free((char *)names[i]);
    free(names);
    dlc_st_close(&f);
}

/* ---- Saving the pair ------------------------------------------------------------------------- */

/* The params file, written to a temporary name (returned); its hash goes into hash. */
static char *write_params(const dlc_model *m, const dlc_layout *l, const float *params, void *const *state,
                          const dlc_norms *nz, const char *path, int64_t step, char hash[17]) {
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
    int err;
    char *tmp = dlc_st_write_temp(path, t, m->n_params + m->n_state, meta, nm, &err);
    if (!tmp) dlc_die(1, "%s: cannot write: %s", path, strerror(err));
    params_hash(params, l->total, hash);
    for (int i = 0; i < m->n_state; i++) free(wide[i]);
    free(wide);
    free(t);
    free(meta); /* the strings are few and small; they live until exit */
    return tmp;
}

void dlc_save_params(const dlc_model *m, const dlc_layout *l, const float *params, void *const *state,
                     const dlc_norms *nz, const char *path, int64_t step) {
    char hash[17];
    char *tmp = write_params(m, l, params, state, nz, path, step, hash);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        dlc_die(1, "%s: cannot write: %s", path, strerror(err));
    }
    free(tmp);
}

/* The optimizer file, written to a temporary name (returned; NULL with *err on failure). */
static char *write_optim(const dlc_model *m, const dlc_layout *l, const dlc_optimizer *opt, const dlc_progress *p,
                         const char *path, const char *hash, int *err) {
    int nt = opt->n_slots * m->n_params;
    dlc_st_tensor *t = dlc_xcalloc((size_t)nt + 1, sizeof *t);
    for (int s = 0; s < opt->n_slots; s++)
        for (int i = 0; i < m->n_params; i++) {
            dlc_str name = {0};
            dlc_str_add(&name, "%s.%s", m->params[i].name, opt->slot_names[s]);
            t[s * m->n_params + i] =
                (dlc_st_tensor){name.s, m->params[i].rank, m->params[i].dims, opt->slot[s] + l->offset[i], "F32"};
        }
    dlc_st_meta meta[] = {
        {"format", "dlc-optim-1"},
        {"optimizer", dlc_optim_name(opt->cfg.kind)},
        {"dlc.step", format("%lld", (long long)p->step)},
        {"dlc.params_hash", hash},
        {"epoch", format("%lld", (long long)p->epoch)},
        {"epoch_batches", format("%lld", (long long)p->epoch_batches)},
        {"epoch_loss_sum", format("%.17g", p->epoch_loss_sum)},
        {"epoch_rows", format("%lld", (long long)p->epoch_rows)},
        {"rng.shuffle", format("%llu", (unsigned long long)p->shuffle_state)},
        {"seed", format("%llu", (unsigned long long)p->seed)},
        {"lr", format("%.17g", p->lr)},
        {"schedule.last_epoch", format("%lld", (long long)p->sched_epoch)},
        {"schedule.best", format("%.17g", p->sched_best)},
        {"schedule.bad_epochs", format("%lld", (long long)p->sched_bad_epochs)},
        {"watch.best", format("%.17g", p->watch_best)},
        {"watch.best_epoch", format("%lld", (long long)p->watch_best_epoch)},
        {"watch.stop_best", format("%.17g", p->watch_stop_best)},
        {"watch.bad_epochs", format("%lld", (long long)p->watch_bad_epochs)},
    };
    char *tmp = dlc_st_write_temp(path, t, nt, meta, (int)(sizeof meta / sizeof meta[0]), err);
    for (int i = 0; i < nt; i++) free((char *)t[i].name);
    free(t);
    return tmp;
}

/* A prev file left by a save interrupted in its commit: removed when P and its optimizer file
 * pair (the commit got past step 3), else put back as P's optimizer file. */
static void settle_prev(const dlc_model *m, const char *params, const char *optim, const char *prev) {
    if (access(prev, F_OK) != 0) return;
    pair_id id;
    int64_t step;
    if (!read_params_id(m, params, &id) || optim_relation(optim, &id, &step) == PAIRS) {
        if (unlink(prev) != 0) dlc_die(1, "%s: cannot remove: %s", prev, strerror(errno));
    } else if (rename(prev, optim) != 0) {
        dlc_die(1, "%s: cannot rename to %s: %s", prev, optim, strerror(errno));
    }
}

/* Temporary files PATH.tmp-PID that a crashed run (a process no longer alive) left beside
 * path: removed. A live process's, this one's included, are left alone. */
static void remove_stale_temps(const char *path) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char *dir = dlc_xstrdup(slash ? path : ".");
    if (slash) dir[slash - path + 1] = 0;
    DIR *d = opendir(dir);
    size_t blen = strlen(base);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        const char *name = e->d_name;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp-", 5) != 0) continue;
        char *end;
        long pid = strtol(name + blen + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        dlc_str stale = {0};
        dlc_str_add(&stale, "%s%s", slash ? dir : "", name);
        unlink(stale.s);
        free(stale.s);
    }
    if (d) closedir(d);
    free(dir);
}

/* Makes the renames durable (best effort: some file systems cannot sync a directory). */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = dlc_xstrdup(slash ? path : ".");
    if (slash) dir[slash - path + 1] = 0;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

void dlc_save_checkpoint(const dlc_model *m, const dlc_layout *l, const float *params, void *const *state,
                         const dlc_norms *nz, const dlc_optimizer *opt, const dlc_progress *p, const char *path) {
    char hash[17];
    char *optim = dlc_optim_path(path), *prev = prev_path(optim);
    static int first = 1;
    if (first) { /* once a run: what a crashed run left */
        remove_stale_temps(path);
        remove_stale_temps(optim);
        first = 0;
    }
    char *tmp_params = write_params(m, l, params, state, nz, path, p->step, hash);
    int err;
    char *tmp_optim = write_optim(m, l, opt, p, optim, hash, &err);
    if (!tmp_optim) {
        unlink(tmp_params);
        dlc_die(1, "%s: cannot write: %s", optim, strerror(err));
    }
    /* The commit (see the top of this file). On a failure the old pair is put back. */
    settle_prev(m, path, optim, prev);
    int had_optim = access(optim, F_OK) == 0;
    const char *failed = NULL;
    if (had_optim && rename(optim, prev) != 0) failed = optim;
    else if (rename(tmp_optim, optim) != 0) failed = optim;
    else if (rename(tmp_params, path) != 0) failed = path;
    if (failed) {
        err = errno;
        if (failed == path) { /* the new optimizer file is in place: the old one goes back */
            if (had_optim) rename(prev, optim);
            else unlink(optim);
        } else if (had_optim && access(prev, F_OK) == 0) {
            rename(prev, optim);
        }
        unlink(tmp_optim);
        unlink(tmp_params);
        dlc_die(1, "%s: cannot write: %s", failed, strerror(err));
    }
    if (had_optim && unlink(prev) != 0) dlc_die(1, "%s: cannot remove: %s", prev, strerror(errno));
    sync_dir(path);
    free(tmp_params);
    free(tmp_optim);
    free(prev);
    free(optim);
}
