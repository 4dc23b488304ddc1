/* dlc_init_map.c: params from a checkpoint whose names are not the model's (--init-map).
 *
 * A PyTorch `nn.Sequential` saves its layers as `0.weight`, `0.bias`, `2.weight`, ..., where
 * the .dl model says `fc1.weight`. `--init P` and `--weights P` read P through a name map:
 * - none (the default): P's names are the model's checkpoint names;
 * - `--init-map '0.=fc1.,2.=fc2.'`: a tensor whose name starts with FROM is read as the param
 *   named TO followed by the rest of its name (the longest FROM wins);
 * - `--init-map position`: P's tensors in PyTorch's state_dict order (module prefixes in
 *   natural order, `2.` before `10.`, and within one module `weight` before `bias`) are the
 *   model's params in declaration order, when the counts agree and every shape lines up.
 * The model's tensors are its params and its state (batch normalization's running statistics,
 * after their layer's params as PyTorch's state_dict orders buffers: running_mean, running_var,
 * num_batches_tracked). Whatever the map, every one must be found, with its dtype (F32; the
 * counter I64) and its exact shape, and no tensor of P may be left over. A mismatch is refused with P's tensors and shapes listed beside the
 * model's params, and, when the shapes line up by position, the --init-map that loads them. */
#include "dlc_runtime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* One tensor of the file, and what the map made of its name. */
typedef struct {
    const char *name;
    int rank;
    int64_t dims[DLC_MAX_RANK];
    int too_deep;          /* more axes than DLC_MAX_RANK (never matches a param) */
    char *mapped;          /* the param name it supplies under the map, or NULL */
} file_tensor;

/* A tensor the model reads from P: a param or a state tensor. */
typedef struct {
    const char *name;
    int rank;
    const int64_t *dims;
    int is_state;
    int index;             /* into m->params or m->state */
} model_tensor;

typedef struct {
    const dlc_model *m;
    const char *path, *flag;
    file_tensor *t;
    int n;
    model_tensor *mt;      /* the model's tensors in state_dict order */
    int nm;
} mapping;

static size_t prefix_length(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

/* The params in declaration order, each layer's state right after its last param (state whose
 * layer has no param at the end): the order of PyTorch's state_dict for the same network. */
static void model_tensors(mapping *x) {
    const dlc_model *m = x->m;
    x->mt = dlc_xcalloc((size_t)(m->n_params + m->n_state) + 1, sizeof *x->mt);
    int *placed = dlc_xcalloc((size_t)m->n_state + 1, sizeof *placed);
    for (int i = 0; i < m->n_params; i++) {
        const dlc_param_desc *p = &m->params[i];
        x->mt[x->nm++] = (model_tensor){p->name, p->rank, p->dims, 0, i};
        size_t len = prefix_length(p->name);
        int last = i + 1 == m->n_params || prefix_length(m->params[i + 1].name) != len ||
                   strncmp(m->params[i + 1].name, p->name, len) != 0;
        for (int k = 0; last && len && k < m->n_state; k++) {
            const dlc_state_desc *d = &m->state[k];
            if (placed[k] || prefix_length(d->name) != len || strncmp(d->name, p->name, len) != 0) continue;
            x->mt[x->nm++] = (model_tensor){d->name, d->rank, d->dims, 1, k};
            placed[k] = 1;
        }
    }
    for (int k = 0; k < m->n_state; k++)
        if (!placed[k]) x->mt[x->nm++] = (model_tensor){m->state[k].name, m->state[k].rank, m->state[k].dims, 1, k};
    free(placed);
}

static void read_tensors(mapping *x, const dlc_st_file *f) {
    x->t = dlc_xcalloc(f->header->len + 1, sizeof *x->t);
    for (size_t i = 0; i < f->header->len; i++) {
        if (strcmp(f->header->keys[i], "__metadata__") == 0) continue;
        file_tensor *t = &x->t[x->n++];
        const dlc_json *shape = dlc_json_get(&f->header->items[i], "shape");
        t->name = f->header->keys[i];
        t->too_deep = shape->len > DLC_MAX_RANK;
        t->rank = t->too_deep ? DLC_MAX_RANK : (int)shape->len;
        for (int d = 0; d < t->rank; d++) t->dims[d] = (int64_t)shape->items[d].uint;
    }
}

static int same_shape(const file_tensor *t, const model_tensor *p) {
    if (t->too_deep || t->rank != p->rank) return 0;
    for (int d = 0; d < p->rank; d++)
        if (t->dims[d] != p->dims[d]) return 0;
    return 1;
}

/* ---- PyTorch's state_dict order ---------------------------------------------------------------- */

/* Compares names part by part at '.', numbers as numbers ("2" < "10"); in the last part
 * `weight`, `bias` (nn.Linear's order), then batch normalization's buffers in their order,
 * then anything else. */
static int suffix_rank(const char *s) {
    static const char *const order[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, order[i]) == 0) return i;
    return 5;
}

static int compare_state_dict_order(const void *pa, const void *pb) {
    const char *a = ((const file_tensor *)pa)->name, *b = ((const file_tensor *)pb)->name;
    const char *la = strrchr(a, '.'), *lb = strrchr(b, '.');
    size_t pa_len = la ? (size_t)(la - a) : 0, pb_len = lb ? (size_t)(lb - b) : 0;
    /* The module prefixes, compared with digit runs as numbers. */
    size_t i = 0, j = 0;
    while (i < pa_len && j < pb_len) {
        if (isdigit((unsigned char)a[i]) && isdigit((unsigned char)b[j])) {
            unsigned long long x = 0, y = 0;
            while (i < pa_len && isdigit((unsigned char)a[i])) x = x * 10 + (unsigned)(a[i++] - '0');
            while (j < pb_len && isdigit((unsigned char)b[j])) y = y * 10 + (unsigned)(b[j++] - '0');
            if (x != y) return x < y ? -1 : 1;
            continue;
        }
        if (a[i] != b[j]) return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
        i++, j++;
    }
    if (i < pa_len || j < pb_len) return i < pa_len ? 1 : -1;
    const char *sa = la ? la + 1 : a, *sb = lb ? lb + 1 : b;
    int ra = suffix_rank(sa), rb = suffix_rank(sb);
    if (ra != rb) return ra < rb ? -1 : 1;
    return strcmp(sa, sb);
}

/* The file's tensors in state_dict order (a sorted copy). */
static file_tensor *state_dict_order(const mapping *x) {
    file_tensor *s = dlc_xcalloc((size_t)x->n + 1, sizeof *s);
    memcpy(s, x->t, (size_t)x->n * sizeof *s);
    qsort(s, (size_t)x->n, sizeof *s, compare_state_dict_order);
    return s;
}

/* 1 when the tensors in state_dict order line up with the model's: same count, same shapes. */
static int lines_up_by_position(const mapping *x, const file_tensor *ordered) {
    if (x->n != x->nm) return 0;
    for (int i = 0; i < x->n; i++)
        if (!same_shape(&ordered[i], &x->mt[i])) return 0;
    return 1;
}

/* ---- The messages ------------------------------------------------------------------------------ */

static void add_shape(dlc_str *s, int rank, const int64_t *dims) {
    char buf[160];
    dlc_str_add(s, " %s", dlc_shape_string(buf, sizeof buf, rank, dims));
}

/* "0.weight [512, 784], 0.bias [512], ..." (at most 24, then a count), in state_dict order. */
static void list_file(dlc_str *s, const file_tensor *t, int n) {
    for (int i = 0; i < n && i < 24; i++) {
        dlc_str_add(s, "%s%s", i ? ", " : "", t[i].name);
        add_shape(s, t[i].rank, t[i].dims);
        if (t[i].too_deep) dlc_str_add(s, "...");
    }
    if (n > 24) dlc_str_add(s, ", and %d more", n - 24);
}

static void list_params(dlc_str *s, const mapping *x) {
    for (int i = 0; i < x->nm && i < 24; i++) {
        dlc_str_add(s, "%s%s", i ? ", " : "", x->mt[i].name);
        add_shape(s, x->mt[i].rank, x->mt[i].dims);
    }
    if (x->nm > 24) dlc_str_add(s, ", and %d more", x->nm - 24);
}

/* The prefix map that turns the positional pairs into renames ('0.=fc1.,2.=fc2.'), when each
 * pair keeps its last part and the prefixes correspond one to one; else NULL. */
static char *prefix_map(const mapping *x, const file_tensor *ordered) {
    dlc_str s = {0};
    const char **from = dlc_xcalloc((size_t)x->n + 1, sizeof *from), **to = dlc_xcalloc((size_t)x->n + 1, sizeof *to);
    size_t *from_len = dlc_xcalloc((size_t)x->n + 1, sizeof *from_len), *to_len = dlc_xcalloc((size_t)x->n + 1, sizeof *to_len);
    int k = 0, ok = 1;
    for (int i = 0; i < x->n && ok; i++) {
        const char *a = ordered[i].name, *b = x->mt[i].name;
        const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
        if (!da || !db || strcmp(da, db) != 0) { ok = 0; break; }
        size_t la = (size_t)(da - a) + 1, lb = (size_t)(db - b) + 1;
        int seen = 0;
        for (int j = 0; j < k && ok; j++) {
            int same_from = from_len[j] == la && strncmp(from[j], a, la) == 0;
            int same_to = to_len[j] == lb && strncmp(to[j], b, lb) == 0;
            if (same_from != same_to) ok = 0;
            seen |= same_from;
        }
        if (ok && !seen) from[k] = a, from_len[k] = la, to[k] = b, to_len[k] = lb, k++;
    }
    for (int j = 0; ok && j < k; j++) {
        if (from_len[j] == to_len[j] && strncmp(from[j], to[j], to_len[j]) == 0) continue;  /* unchanged */
        dlc_str_add(&s, "%s%.*s=%.*s", s.len ? "," : "", (int)from_len[j], from[j], (int)to_len[j], to[j]);
    }
    free(from), free(to), free(from_len), free(to_len);
    if (!ok || !s.len) { free(s.s); return NULL; }
    return s.s;
}

/* The error, then notes: what P holds, what the model needs, and how to map one to the other. */
__attribute__((format(printf, 3, 4))) _Noreturn static void refuse(const mapping *x, const char *map, const char *fmt, ...) {
    va_list ap;
    dlc_progress_abandon();
    fflush(stdout);
    fprintf(stderr, "error: %s: ", x->path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    file_tensor *ordered = state_dict_order(x);
    dlc_str s = {0};
    list_file(&s, ordered, x->n);
    fprintf(stderr, "note: %s holds %d tensor%s: %s\n", x->path, x->n, x->n == 1 ? "" : "s", x->n ? s.s : "none");
    free(s.s);
    s = (dlc_str){0};
    list_params(&s, x);
    fprintf(stderr, "note: the model's %s: %s\n", x->m->n_state ? "params and state" : "params", s.s ? s.s : "none");
    free(s.s);
    if (lines_up_by_position(x, ordered) && !(map && strcmp(map, "position") == 0)) {
        char *prefixes = prefix_map(x, ordered);
        s = (dlc_str){0};
        for (int i = 0; i < x->n && i < 4; i++) dlc_str_add(&s, "%s%s -> %s", i ? ", " : "", ordered[i].name, x->mt[i].name);
        fprintf(stderr, "note: every shape lines up by position (%s%s): load them with ", s.s, x->n > 4 ? ", ..." : "");
        if (prefixes) fprintf(stderr, "%s '%s' or ", x->flag, prefixes);
        fprintf(stderr, "%s position\n", x->flag);
        free(prefixes);
        free(s.s);
    }
    free(ordered);
    dlc_comm_exit(1);
}

/* ---- Applying a map ------------------------------------------------------------------------------ */

/* --init-map 'FROM=TO,...': each tensor's name with its longest matching FROM replaced by TO. */
static void apply_prefixes(mapping *x, const char *map) {
    char *text = dlc_xstrdup(map);
    int np = 0;
    char *from[64], *to[64];
    for (char *piece = strtok(text, ","); piece; piece = strtok(NULL, ",")) {
        char *eq = strchr(piece, '=');
        if (!eq || eq == piece || np == 64)
            dlc_die(2, "%s: expected FROM=TO pairs separated by commas (e.g. '0.=fc1.,2.=fc2.') or position, got '%s'",
                    x->flag, map);
        *eq = 0;
        from[np] = piece, to[np] = eq + 1, np++;
    }
    if (np == 0) dlc_die(2, "%s: expected FROM=TO pairs or position, got '%s'", x->flag, map);
    for (int i = 0; i < x->n; i++) {
        int best = -1;
        for (int k = 0; k < np; k++)
            if (strncmp(x->t[i].name, from[k], strlen(from[k])) == 0 && (best < 0 || strlen(from[k]) > strlen(from[best])))
                best = k;
        dlc_str s = {0};
        if (best < 0) dlc_str_add(&s, "%s", x->t[i].name);
        else dlc_str_add(&s, "%s%s", to[best], x->t[i].name + strlen(from[best]));
        x->t[i].mapped = s.s;
    }
    free(text);
}

/* --init-map position: the tensors in state_dict order take the params' names in order. */
static void apply_position(mapping *x) {
    file_tensor *ordered = state_dict_order(x);
    if (x->n != x->nm)
        refuse(x, "position", "%s position: the file holds %d tensors and the model has %d %s", x->flag, x->n, x->nm,
               x->m->n_state ? "params and state tensors" : "params");
    for (int i = 0; i < x->n; i++) {
        if (!same_shape(&ordered[i], &x->mt[i]))
            refuse(x, "position", "%s position: tensor %d in state_dict order, '%s', does not have the shape of %s '%s'",
                   x->flag, i + 1, ordered[i].name, x->mt[i].is_state ? "state" : "param", x->mt[i].name);
        for (int k = 0; k < x->n; k++)
            if (x->t[k].name == ordered[i].name) x->t[k].mapped = dlc_xstrdup(x->mt[i].name);
    }
    free(ordered);
}

void dlc_load_params_mapped(const dlc_model *m, const dlc_layout *l, float *params, void *const *state, const char *path,
                            const char *map, const char *flag, dlc_st_file *f) {
    dlc_st_open(path, f);
    mapping x = {m, path, flag, NULL, 0, NULL, 0};
    read_tensors(&x, f);
    model_tensors(&x);
    if (!map) for (int i = 0; i < x.n; i++) x.t[i].mapped = dlc_xstrdup(x.t[i].name);
    else if (strcmp(map, "position") == 0) apply_position(&x);
    else apply_prefixes(&x, map);
    /* Each param and state tensor from the one tensor mapped to its name; then nothing may be
     * left over. */
    int *used = dlc_xcalloc((size_t)x.n + 1, sizeof *used);
    for (int i = 0; i < x.nm; i++) {
        const model_tensor *p = &x.mt[i];
        int src = -1;
        for (int k = 0; k < x.n; k++) {
            if (strcmp(x.t[k].mapped, p->name) != 0) continue;
            if (src >= 0) refuse(&x, map, "two tensors map to %s '%s'", p->is_state ? "state" : "param", p->name);
            src = k;
        }
        if (src < 0 && map) refuse(&x, map, "no tensor maps to %s '%s'", p->is_state ? "state" : "param", p->name);
        if (src < 0) refuse(&x, map, "missing tensor '%s'", p->name);
        used[src] = 1;
        if (p->is_state) dlc_read_state(f, &m->state[p->index], x.t[src].name, state[p->index]);
        else dlc_st_read(f, x.t[src].name, p->rank, p->dims, params + l->offset[p->index]);
    }
    for (int k = 0; k < x.n; k++)
        if (!used[k]) refuse(&x, map, "unexpected tensor '%s' (not part of this model)", x.t[k].name);
    for (int k = 0; k < x.n; k++) free(x.t[k].mapped);
    free(used);
    free(x.t);
    free(x.mt);
}
