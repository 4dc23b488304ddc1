/* dlc_data.c: binds each input and target to a file, loads them, and checks that they agree.
 *
 * Sources: `--input NAME=FILE[:COLUMNS]` first; every other tensor reads `--data FILE` (or
 * the train block's data) with the train block's `columns`. Tensors bound to the same CSV
 * path are read in one pass; .npy and IDX files hold one tensor each. */
#include "dlc_runtime.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int dlc_model_has_data(const dlc_model *m) { return m->n_data > 0; }

int dlc_is_idx_path(const char *path) {
    size_t n = strlen(path);
    char *p = dlc_xstrdup(path);
    if (n > 3 && strcmp(p + n - 3, ".gz") == 0) p[n -= 3] = 0;
    int idx = dlc_ends_with(p, ".idx") || dlc_ends_with(p, "ubyte");
    free(p);
    return idx;
}

static int is_npy_path(const char *path) { return dlc_ends_with(path, ".npy"); }

const char *dlc_check_value(const dlc_data_desc *d, double v, char *buf, size_t cap) {
    if (isnan(v) || isinf(v)) return "NaN or infinity is not allowed";
    if (d->dtype == DLC_F32) {
        if (fabs(v) > FLT_MAX) {
            snprintf(buf, cap, "%g is out of range for f32", v);
            return buf;
        }
        return NULL;
    }
    if (v != floor(v)) {
        snprintf(buf, cap, "not an integer: %g", v);
        return buf;
    }
    if (v < -2147483648.0 || v > 2147483647.0) {
        snprintf(buf, cap, "%.0f is out of range for i32", v);
        return buf;
    }
    if (d->classes > 0 && (v < 0 || v >= (double)d->classes)) {
        snprintf(buf, cap, "label %.0f is out of range [0, %lld)", v, (long long)d->classes);
        return buf;
    }
    return NULL;
}

/* Implicit layouts take inputs first, then targets, each in declaration order. */
static int layout_rank(const dlc_model *m, int t) { return m->data[t].is_target ? m->n_data + t : t; }

static int by_layout_order(const dlc_model *m, const int *order, int n, int *out) {
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if ((layout_rank(m, order[i]) >= m->n_data) == pass) out[k++] = order[i];
    return k;
}

void dlc_load_dataset(const dlc_model *m, const dlc_source *src, const int *want, dlc_dataset *ds) {
    int nd = m->n_data;
    dlc_loaded *loaded = dlc_xcalloc((size_t)nd, sizeof *loaded);
    int *done = dlc_xcalloc((size_t)nd, sizeof *done);
    for (int t0 = 0; t0 < nd; t0++) {
        if (!want[t0] || done[t0] || !src[t0].path) continue;
        const char *path = src[t0].path;
        if (is_npy_path(path) || dlc_is_idx_path(path)) {
            done[t0] = 1;
            if (want[t0] == 2) continue; /* a target in predict: ignored */
            if (src[t0].columns)
                dlc_data_error(path, 0, 0, "columns ('%s') apply to CSV files only", src[t0].columns);
            else if (is_npy_path(path)) dlc_load_npy(m, path, t0, &loaded[t0]);
            else dlc_load_idx(m, path, t0, &loaded[t0]);
            continue;
        }
        /* Every tensor wanted from this CSV path, in layout order. */
        int *group = dlc_xcalloc((size_t)nd, sizeof *group), *ordered = dlc_xcalloc((size_t)nd, sizeof *ordered);
        int k = 0;
        for (int t = 0; t < nd; t++)
            if (want[t] && !done[t] && src[t].path && strcmp(src[t].path, path) == 0) group[k++] = t;
        by_layout_order(m, group, k, ordered);
        const char **specs = dlc_xcalloc((size_t)k, sizeof *specs);
        int *optional = dlc_xcalloc((size_t)k, sizeof *optional);
        dlc_loaded *part = dlc_xcalloc((size_t)k, sizeof *part);
        for (int i = 0; i < k; i++) {
            specs[i] = src[ordered[i]].columns;
            optional[i] = want[ordered[i]] == 2;
            done[ordered[i]] = 1;
        }
        dlc_load_csv(m, path, ordered, specs, optional, k, part);
        for (int i = 0; i < k; i++)
            if (!optional[i]) loaded[ordered[i]] = part[i];
        free(group);
        free(ordered);
        free(specs);
        free(optional);
        free(part);
    }
    dlc_stop_on_data_errors();

    /* Every tensor must have one row per example. */
    int first = -1;
    for (int t = 0; t < nd; t++) {
        if (!loaded[t].values) continue;
        if (first < 0) {
            first = t;
            continue;
        }
        int64_t a = loaded[first].n, b = loaded[t].n;
        if (a == b) continue;
        int longer = a > b ? first : t, shorter = a > b ? t : first;
        int64_t at = loaded[shorter].n;
        int64_t line = loaded[longer].lines ? loaded[longer].lines[at] : 0;
        dlc_data_error(src[longer].path, line, line ? 1 : 0,
                       "inputs of different lengths: %s has %lld rows here, but %s has %lld in %s",
                       m->data[longer].name, (long long)loaded[longer].n, m->data[shorter].name,
                       (long long)loaded[shorter].n, src[shorter].path);
    }
    dlc_stop_on_data_errors();

    ds->n = first >= 0 ? loaded[first].n : 0;
    ds->cols = dlc_xcalloc((size_t)nd + 1, sizeof *ds->cols);
    ds->example = NULL;
    ds->dev = NULL;
    ds->origin = dlc_xcalloc((size_t)nd + 1, sizeof *ds->origin);
    ds->owns_origin = 1;
    for (int t = 0; t < nd; t++) {
        ds->cols[t] = loaded[t].values;
        if (loaded[t].values)
            ds->origin[t] = (dlc_origin){dlc_xstrdup(src[t].path), loaded[t].lines, loaded[t].fields, loaded[t].names};
    }
    free(loaded);
    free(done);
}

/* The model's own data file (its `data` setting, made absolute by dlc compile) must exist; a
 * missing one is reported with where it was looked for and how to give another. */
static void check_default_data(const dlc_model *m, const char *data_path) {
    struct stat st;
    if (!data_path || data_path != m->config.data || stat(data_path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
        return;
    dlc_die(1, "%s: no such file: the model's data file (its `data` setting, relative to the .dl file) "
               "was looked for there; give the data with --data FILE", data_path);
}

void dlc_load_command_data(const dlc_model *m, const dlc_options *o, const char *data_path, int for_predict,
                           dlc_dataset *ds) {
    check_default_data(m, data_path);
    int nd = m->n_data;
    dlc_source *src = dlc_xcalloc((size_t)nd + 1, sizeof *src);
    int *want = dlc_xcalloc((size_t)nd + 1, sizeof *want);
    for (int t = 0; t < nd; t++) {
        const dlc_data_desc *d = &m->data[t];
        want[t] = 1;
        if (o->inputs[t].path) {
            src[t] = o->inputs[t];
            if (for_predict && d->is_target) want[t] = 0;
            continue;
        }
        if (for_predict && d->is_target) want[t] = 2;
        if (!data_path) {
            if (want[t] == 2) {
                want[t] = 0;
                continue;
            }
            fprintf(stderr, "error: --data: no data for '%s' (give --data FILE or --input %s=FILE)\n", d->name, d->name);
            dlc_comm_exit(2);
        }
        src[t].path = data_path;
        for (int c = 0; c < o->cfg.n_columns; c++)
            if (strcmp(o->cfg.columns[c].name, d->name) == 0) src[t].columns = o->cfg.columns[c].columns;
    }
    dlc_load_dataset(m, src, want, ds);
    free(src);
    free(want);
}

/* ---- Rows and where they came from ---------------------------------------------------------- */

static int64_t example_of(const dlc_dataset *ds, int64_t row) { return ds->example ? ds->example[row] : row; }

/* "FILE:LINE" (CSV) or "FILE row R" (.npy/IDX) of the row's example in tensor t's file. */
static void place_of(const dlc_dataset *ds, int t, int64_t row, char *buf, size_t cap) {
    const dlc_origin *o = &ds->origin[t];
    int64_t ex = example_of(ds, row);
    if (o->lines) snprintf(buf, cap, "%s:%lld", o->path, (long long)o->lines[ex]);
    else snprintf(buf, cap, "%s row %lld", o->path, (long long)ex);
}

void dlc_row_error(const dlc_model *m, const dlc_dataset *ds, int64_t row, int t, int64_t element, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!ds->origin) {
        dlc_data_error("data", 0, 0, "row %lld: %s", (long long)row, msg);
        return;
    }
    int whole = t < 0;
    if (whole) { /* the first file that holds the row: an input's, else a target's */
        for (int pass = 0; pass < 2 && t < 0; pass++)
            for (int i = 0; i < m->n_data && t < 0; i++)
                if (ds->origin[i].path && m->data[i].is_target == pass) t = i;
        if (t < 0) {
            dlc_data_error("data", 0, 0, "row %lld: %s", (long long)row, msg);
            return;
        }
        /* The same row in the other files, named after the message. */
        size_t used = strlen(msg);
        for (int i = 0; i < m->n_data && used < sizeof msg; i++) {
            int seen = !ds->origin[i].path || strcmp(ds->origin[i].path, ds->origin[t].path) == 0;
            for (int j = 0; j < i && !seen; j++) seen = ds->origin[j].path && strcmp(ds->origin[j].path, ds->origin[i].path) == 0;
            if (seen) continue;
            char place[300];
            place_of(ds, i, row, place, sizeof place);
            used += (size_t)snprintf(msg + used, sizeof msg - used, " (also %s)", place);
        }
    }
    const dlc_origin *o = &ds->origin[t];
    int64_t ex = example_of(ds, row);
    const char *tensor = m->data[t].name;
    if (o->lines) {
        int64_t field = element >= 0 && o->fields ? o->fields[element] : 0;
        if (whole) dlc_data_error(o->path, o->lines[ex], 0, "%s", msg);
        else if (element >= 0 && o->names)
            dlc_data_error(o->path, o->lines[ex], field, "%s in column '%s' (%s)", msg, o->names[element], tensor);
        else dlc_data_error(o->path, o->lines[ex], field, "%s (%s)", msg, tensor);
    } else if (whole || element < 0) {
        dlc_data_error(o->path, 0, 0, "row %lld: %s%s%s%s", (long long)ex, msg, whole ? "" : " (", whole ? "" : tensor,
                       whole ? "" : ")");
    } else {
        dlc_data_error(o->path, 0, 0, "row %lld, element %lld: %s (%s)", (long long)ex, (long long)element, msg, tensor);
    }
}

void dlc_dataset_subset(const dlc_model *m, const dlc_dataset *ds, const int64_t *idx, int64_t k, dlc_dataset *out) {
    out->n = k;
    out->dev = NULL;
    out->origin = ds->origin;
    out->owns_origin = 0;
    out->example = dlc_xmalloc(dlc_mul_size((size_t)k + 1, sizeof *out->example));
    for (int64_t i = 0; i < k; i++) out->example[i] = example_of(ds, idx[i]);
    out->cols = dlc_xcalloc((size_t)m->n_data + 1, sizeof *out->cols);
    for (int t = 0; t < m->n_data; t++) {
        if (!ds->cols[t]) continue;
        size_t row = (size_t)m->data[t].size * 4;
        char *dst = dlc_xmalloc(dlc_mul_size((size_t)k, row));
        const char *srcp = ds->cols[t];
        for (int64_t i = 0; i < k; i++) memcpy(dst + (size_t)i * row, srcp + (size_t)idx[i] * row, row);
        out->cols[t] = dst;
    }
}

void dlc_dataset_keep(const dlc_model *m, dlc_dataset *ds, const int64_t *idx, int64_t k) {
    /* Each kept row's example (idx ascends, so idx[i] >= i: in place). */
    int64_t *ex = ds->example ? ds->example : dlc_xmalloc(dlc_mul_size((size_t)k + 1, sizeof *ex));
    for (int64_t i = 0; i < k; i++) ex[i] = ds->example ? ds->example[idx[i]] : idx[i];
    ds->example = ex;
    for (int t = 0; t < m->n_data; t++) {
        if (!ds->cols[t]) continue;
        size_t row = (size_t)m->data[t].size * 4;
        char *p = ds->cols[t];
        /* idx ascends, so idx[i] >= i: each row moves down, over rows already moved or dropped. */
        for (int64_t i = 0; i < k; i++)
            if (idx[i] != i) memmove(p + (size_t)i * row, p + (size_t)idx[i] * row, row);
        if (k < ds->n) ds->cols[t] = dlc_xrealloc(p, dlc_mul_size((size_t)k, row));
    }
    ds->n = k;
}

void dlc_dataset_free(const dlc_model *m, dlc_dataset *ds) {
    if (ds->cols)
        for (int t = 0; t < m->n_data; t++) free(ds->cols[t]);
    free(ds->cols);
    if (ds->origin && ds->owns_origin)
        for (int t = 0; t < m->n_data; t++) {
            dlc_origin *o = &ds->origin[t];
            for (int64_t c = 0; o->names && c < m->data[t].size; c++) free(o->names[c]);
            free(o->names);
            free(o->fields);
            free(o->lines);
            free((char *)o->path);
        }
    if (ds->owns_origin) free(ds->origin);
    free(ds->example);
    memset(ds, 0, sizeof *ds);
}

static int compare_rows(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void dlc_split(int64_t n, double fraction, uint64_t seed, int64_t **train, int64_t *n_train, int64_t **val,
               int64_t *n_val) {
    int64_t *p = dlc_xmalloc(dlc_mul_size((size_t)n + 1, sizeof *p));
    for (int64_t i = 0; i < n; i++) p[i] = i;
    int64_t nv = (int64_t)floor(fraction * (double)n);
    if (fraction > 0) { /* with f = 0 no draws are made */
        dlc_rng r = dlc_rng_stream(seed, DLC_STREAM_SPLIT);
        dlc_rng_permute(&r, p, n);
    }
    *val = dlc_xmalloc(dlc_mul_size((size_t)nv + 1, sizeof **val));
    *train = dlc_xmalloc(dlc_mul_size((size_t)(n - nv) + 1, sizeof **train));
    memcpy(*val, p, (size_t)nv * sizeof *p);
    memcpy(*train, p + nv, (size_t)(n - nv) * sizeof *p);
    /* Each set goes back into file order. */
    qsort(*val, (size_t)nv, sizeof **val, compare_rows);
    qsort(*train, (size_t)(n - nv), sizeof **train, compare_rows);
    *n_val = nv;
    *n_train = n - nv;
    free(p);
}
