/* dlc_data_csv.c: reads the tensors bound to one CSV file, checking every field it uses.
 *
 * Layout (spec section 8): a first row that is not numeric is a header. A tensor with a
 * COLUMNS spec takes those columns (header names first, then 0-based indices and inclusive
 * ranges A-B); the tensors without one take the remaining columns in order (inputs, then
 * targets), which must be exactly as many as they need. Every problem is reported as
 * FILE:LINE:COL with LINE the physical line and COL the 1-based field; only the fields a
 * tensor reads are checked, so a gap in an unused column is no error. Blank lines are
 * skipped. Fields may be quoted ("...", with "" for a quote) and padded with spaces. */
#include "dlc_runtime.h"
#include "dlc_columns.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef dlc_column_name field; /* the field's text, trimmed and without quotes */

typedef struct {
    field *f;
    int64_t n, cap;
    int64_t bad_field;   /* a malformed quoted field (1-based), or 0 */
    char bad[80];        /* what is wrong with it */
} row;

/* Splits [p, end) at commas outside quotes. A quoted field must close on its line and be
 * followed by nothing but spaces before the next comma: anything else leaves the row's
 * fields in doubt, so it is recorded in bad_field (the row is refused, used columns or not). */
static void split_row(const char *p, const char *end, row *r) {
    r->n = 0;
    r->bad_field = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *s = p, *e;
        if (p < end && *p == '"') {
            s = ++p;
            while (p < end && !(*p == '"' && (p + 1 >= end || p[1] != '"'))) p += (*p == '"') ? 2 : 1;
            e = p < end ? p : end;
            if (p >= end && !r->bad_field) {
                r->bad_field = r->n + 1;
                snprintf(r->bad, sizeof r->bad, "unterminated quote (a quoted field must end on its line)");
            }
            if (p < end) p++;
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            const char *after = p;
            while (p < end && *p != ',') p++;
            if (p > after && !r->bad_field) {
                r->bad_field = r->n + 1;
                snprintf(r->bad, sizeof r->bad, "text after the closing quote: '%.*s'", (int)(p - after > 20 ? 20 : p - after),
                         after);
            }
        } else {
            while (p < end && *p != ',') p++;
            e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        }
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            r->f = dlc_xrealloc(r->f, dlc_mul_size((size_t)r->cap, sizeof *r->f));
        }
        r->f[r->n].s = s;
        r->f[r->n].len = (size_t)(e - s);
        r->n++;
        if (p >= end) break;
        p++; /* the comma */
    }
}

/* A decimal number as the spec writes them: [+-]digits[.digits][e[+-]digits] (one side of
 * the point may be empty). */
static int is_decimal(const char *s, size_t n) {
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && isdigit((unsigned char)s[i])) i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && isdigit((unsigned char)s[i])) i++, digits++;
    }
    if (!digits) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t exp = 0;
        while (i < n && isdigit((unsigned char)s[i])) i++, exp++;
        if (!exp) return 0;
    }
    return i == n;
}

static int is_nan_or_inf(const char *s, size_t n) {
    if (n && (*s == '+' || *s == '-')) s++, n--;
    return (n == 3 && (strncasecmp(s, "nan", 3) == 0 || strncasecmp(s, "inf", 3) == 0)) ||
           (n == 8 && strncasecmp(s, "infinity", 8) == 0);
}

static int looks_numeric(const field *f) { return f->len == 0 || is_decimal(f->s, f->len) || is_nan_or_inf(f->s, f->len); }

/* The field as a double, or NULL with the reason. */
static const char *read_number(const field *f, double *v, char *buf, size_t cap) {
    if (f->len == 0) return "empty field";
    if (is_nan_or_inf(f->s, f->len)) {
        snprintf(buf, cap, "NaN or infinity is not allowed: '%.*s'", (int)f->len, f->s);
        return buf;
    }
    if (!is_decimal(f->s, f->len)) {
        snprintf(buf, cap, "not a number: '%.*s'", (int)(f->len > 40 ? 40 : f->len), f->s);
        return buf;
    }
    char small[64];
    char *tmp = f->len < sizeof small ? small : dlc_xmalloc(f->len + 1);
    memcpy(tmp, f->s, f->len);
    tmp[f->len] = 0;
    *v = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    return NULL;
}

/* ---- COLUMNS specs ---------------------------------------------------------------------- */

static int csv_header_index(const row *header, const char *name, size_t len) {
    if (!header) return -1;
    for (int64_t i = 0; i < header->n; i++)
        if (header->f[i].len == len && memcmp(header->f[i].s, name, len) == 0) return (int)i;
    return -1;
}

/* After "no column 'NAME'": the nearest header name, and the header itself. */
static void note_header(const row *header, const char *name, size_t len) {
    const char **names = dlc_xcalloc((size_t)header->n + 1, sizeof *names);
    size_t *lens = dlc_xcalloc((size_t)header->n + 1, sizeof *lens);
    for (int64_t i = 0; i < header->n; i++) names[i] = header->f[i].s, lens[i] = header->f[i].len;
    int near = dlc_nearest_name(name, len, names, lens, (int)header->n);
    const char *dash = memchr(name, '-', len);
    if (near >= 0) {
        dlc_data_note("did you mean '%.*s'?", (int)lens[near], names[near]);
    } else if (dash) {
        /* A range of names, A-B: each end exact or nearest. */
        size_t la = (size_t)(dash - name), lb = len - la - 1;
        int a = csv_header_index(header, name, la), b = csv_header_index(header, dash + 1, lb);
        if (a < 0) a = dlc_nearest_name(name, la, names, lens, (int)header->n);
        if (b < 0) b = dlc_nearest_name(dash + 1, lb, names, lens, (int)header->n);
        if (a >= 0 && b >= 0)
            dlc_data_note("did you mean '%.*s-%.*s'?", (int)lens[a], names[a], (int)lens[b], names[b]);
    }
    dlc_str list = {0};
    for (int64_t i = 0; i < header->n && list.len < 300; i++)
        dlc_str_add(&list, "%s%.*s", i ? ", " : "", (int)lens[i], names[i]);
    if (list.len >= 300) dlc_str_add(&list, ", ...");
    dlc_data_note("the header has %lld column%s: %s", (long long)header->n, header->n == 1 ? "" : "s", list.s);
    free(list.s);
    free(names);
    free(lens);
}

/* Resolves one spec into column indices (dlc_columns.c, the one definition of the language);
 * returns the count, or -1 after reporting (with the nearest column and the header when a name
 * is not in it). */
static int64_t resolve_spec(const char *path, int64_t line, const char *spec, const row *header, int64_t width,
                            int64_t **cols) {
    char why[512];
    int64_t n = dlc_columns_resolve(spec, header ? header->f : NULL, header ? header->n : 0, width, cols, why,
                                    sizeof why);
    if (n == -2) dlc_die(1, "out of memory");
    if (n < 0) {
        dlc_data_error(path, line, 1, "%s", why);
        const char *name = strncmp(why, "no column '", 11) == 0 ? why + 11 : NULL;
        const char *end = name ? strchr(name, '\'') : NULL;
        if (header && end) note_header(header, name, (size_t)(end - name));
    }
    return n;
}

/* ---- The file ---------------------------------------------------------------------------- */

/* The next line at *pos: [start, end) without the newline or a trailing \r. */
static int next_line(const char *buf, size_t size, size_t *pos, const char **start, const char **end) {
    if (*pos >= size) return 0;
    const char *s = buf + *pos, *nl = memchr(s, '\n', size - *pos);
    const char *e = nl ? nl : buf + size;
    *pos = (size_t)(e - buf) + (nl ? 1 : 0);
    if (e > s && e[-1] == '\r') e--;
    *start = s;
    *end = e;
    return 1;
}

/* How many lines next_line yields from `from` on: one per newline, and one more for a last
 * line without a newline. A bound on the data rows, so that rows go straight into place. */
static int64_t count_lines(const char *buf, size_t from, size_t size) {
    int64_t lines = 0;
    for (const char *p = buf + from, *end = buf + size; p < end; p++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lines++;
        if (!nl) break;
        p = nl;
    }
    return lines;
}

static int blank(const char *s, const char *e) {
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

/* Names the tensors an implicit layout needs, e.g. "x: 64, y: 1". */
static const char *layout_names(const dlc_model *m, const int *tensors, const int *implicit, int k, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < k && used < cap; i++)
        if (implicit[i])
            used += (size_t)snprintf(buf + used, cap - used, "%s%s: %lld", used ? ", " : "", m->data[tensors[i]].name,
                                     (long long)m->data[tensors[i]].size);
    return buf;
}

void dlc_load_csv(const dlc_model *m, const char *path, const int *tensors, const char *const *specs,
                  const int *optional, int k, dlc_loaded *out) {
    size_t size;
    const char *why;
    char *buf = (char *)dlc_read_file(path, &size, &why);
    if (!buf) dlc_die(1, "%s: %s", path, why);
    for (int i = 0; i < k; i++) memset(&out[i], 0, sizeof out[i]);
    size_t pos = 0;
    if (size >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) pos = 3; /* a UTF-8 byte-order mark */

    /* The first non-blank line: a header, or the first data row. */
    const char *s, *e, *first_text = NULL;
    size_t first_len = 0;
    int64_t line = 0, first_line = 0;
    row first = {0}, r = {0};
    size_t first_start = pos; /* where the first non-blank line begins */
    while (next_line(buf, size, &pos, &s, &e)) {
        line++;
        if (!blank(s, e)) {
            first_line = line;
            first_text = s, first_len = (size_t)(e - s);
            split_row(s, e, &first);
            break;
        }
        first_start = pos;
    }
    if (!first_line) {
        dlc_data_error(path, line ? line : 1, 1, "no data rows");
        free(buf);
        return;
    }
    if (first.bad_field) {
        dlc_data_error(path, first_line, first.bad_field, "%s", first.bad);
        free(first.f);
        free(buf);
        return;
    }
    int has_header = 0;
    for (int64_t i = 0; i < first.n; i++)
        if (!looks_numeric(&first.f[i])) has_header = 1;
    int64_t width = first.n;

    /* Columns of the tensors with a spec, then the rest for those without. */
    int64_t **cols = dlc_xcalloc((size_t)k, sizeof *cols);
    int *implicit = dlc_xcalloc((size_t)k, sizeof *implicit);
    char *claimed = dlc_xcalloc((size_t)width + 1, 1);
    int errors = dlc_data_error_count();
    for (int i = 0; i < k; i++) {
        const dlc_data_desc *d = &m->data[tensors[i]];
        if (!specs[i]) {
            implicit[i] = 1;
            continue;
        }
        int64_t got = resolve_spec(path, first_line, specs[i], has_header ? &first : NULL, width, &cols[i]);
        if (got < 0) continue;
        if (got != d->size) {
            dlc_data_error(path, first_line, 1, "the columns '%s' select %lld columns, but %s takes %lld per example",
                           specs[i], (long long)got, d->name, (long long)d->size);
            continue;
        }
        for (int64_t c = 0; c < got; c++) claimed[cols[i][c]] = 1;
    }
    int64_t need = 0, optional_need = 0, free_cols = 0;
    for (int i = 0; i < k; i++)
        if (implicit[i]) {
            if (optional[i]) optional_need += m->data[tensors[i]].size;
            else need += m->data[tensors[i]].size;
        }
    for (int64_t c = 0; c < width; c++) free_cols += !claimed[c];
    int with_optional = free_cols == need + optional_need;
    if (dlc_data_error_count() == errors && need + optional_need > 0 && !with_optional && free_cols != need) {
        char names[256];
        layout_names(m, tensors, implicit, k, names, sizeof names);
        int64_t want = need + optional_need, have = free_cols;
        if (has_header)
            dlc_data_error(path, first_line, 1, "%lld columns remain unassigned, but the tensors without columns take %lld (%s)",
                           (long long)have, (long long)want, names);
        else
            dlc_data_error(path, first_line, have < want ? have + 1 : want + 1, "%s row: %lld fields, expected %lld (%s)",
                           have < want ? "short" : "long", (long long)have, (long long)want, names);
    }
    if (dlc_data_error_count() != errors) {
        /* A file separated by ';' (or tabs) reads as one column: say so. */
        char sep = dlc_other_separator(first_text, first_len);
        if (sep) {
            const char *shown = sep == '\t' ? "\\t" : sep == ';' ? ";" : "|";
            dlc_data_file_note(path, "the first line has no ',' but '%s': dlc reads comma-separated files (convert it, "
                               "e.g. with tr '%s' ',')", shown, shown);
        }
        free(buf);
        return;
    }
    int64_t next = 0;
    for (int i = 0; i < k; i++) {
        if (!implicit[i]) continue;
        int64_t sz = m->data[tensors[i]].size;
        if (optional[i] && !with_optional) continue; /* an absent target: nothing to read */
        cols[i] = dlc_xmalloc((size_t)sz * sizeof **cols);
        for (int64_t c = 0; c < sz; c++) {
            while (claimed[next]) next++;
            cols[i][c] = next++;
        }
    }

    /* Room for every line from the first data row on (the first line itself when it is no
     * header), so that rows go straight into place. */
    int64_t max_rows = count_lines(buf, has_header ? pos : first_start, size);
    for (int i = 0; i < k; i++) {
        if (optional[i]) continue;
        const dlc_data_desc *d = &m->data[tensors[i]];
        out[i].values = dlc_xmalloc(dlc_mul_size(dlc_mul_size((size_t)max_rows, (size_t)d->size), 4));
        out[i].lines = dlc_xmalloc(dlc_mul_size((size_t)max_rows, sizeof(int64_t)));
    }

    int64_t n = 0;
    char msg[200];
    int have_row = !has_header;
    row *cur = &first;
    int64_t cur_line = first_line;
    for (;;) {
        if (!have_row) {
            if (!next_line(buf, size, &pos, &s, &e)) break;
            line++;
            if (blank(s, e)) continue;
            split_row(s, e, &r);
            cur = &r;
            cur_line = line;
        }
        have_row = 0;
        if (cur->bad_field) {
            dlc_data_error(path, cur_line, cur->bad_field, "%s", cur->bad);
            n++;
            continue;
        }
        if (cur->n != width) {
            int shortrow = cur->n < width;
            dlc_data_error(path, cur_line, shortrow ? cur->n + 1 : width + 1, "%s row: %lld fields, expected %lld",
                           shortrow ? "short" : "long", (long long)cur->n, (long long)width);
            n++;
            continue;
        }
        for (int i = 0; i < k; i++) {
            if (optional[i]) continue;
            const dlc_data_desc *d = &m->data[tensors[i]];
            const char *bad = NULL;
            int64_t c;
            for (c = 0; c < d->size && !bad; c++) {
                double v = 0;
                const field *f = &cur->f[cols[i][c]];
                bad = read_number(f, &v, msg, sizeof msg);
                int is_number = !bad;
                if (!bad) bad = dlc_check_value(d, v, msg, sizeof msg);
                if (bad && has_header)
                    dlc_data_error(path, cur_line, cols[i][c] + 1, "%s in column '%.*s' (%s)", bad,
                                   (int)first.f[cols[i][c]].len, first.f[cols[i][c]].s, d->name);
                else if (bad)
                    dlc_data_error(path, cur_line, cols[i][c] + 1, "%s (%s)", bad, d->name);
                if (bad) dlc_data_value_note(d, f->len, is_number, v);
                else if (d->dtype == DLC_F32) ((float *)out[i].values)[n * d->size + c] = (float)v;
                else ((int32_t *)out[i].values)[n * d->size + c] = (int32_t)v;
            }
            out[i].lines[n] = cur_line;
            if (bad) break; /* one error per row is enough */
        }
        n++;
    }
    if (n == 0) dlc_data_error(path, line + 1, 1, "no data rows");
    for (int i = 0; i < k; i++) {
        out[i].n = n;
        if (out[i].values) {
            /* Where each element came from, for messages about a row after loading. */
            int64_t size = m->data[tensors[i]].size;
            out[i].fields = dlc_xmalloc(dlc_mul_size((size_t)size, sizeof *out[i].fields));
            out[i].names = has_header ? dlc_xcalloc((size_t)size, sizeof *out[i].names) : NULL;
            for (int64_t c = 0; c < size; c++) {
                const field *h = &first.f[cols[i][c]];
                out[i].fields[c] = cols[i][c] + 1;
                if (has_header) {
                    out[i].names[c] = memcpy(dlc_xmalloc(h->len + 1), h->s, h->len);
                    out[i].names[c][h->len] = 0;
                }
            }
        }
        free(cols[i]);
    }
    free(cols);
    free(implicit);
    free(claimed);
    free(first.f);
    free(r.f);
    /* Field pointers point into buf, which is no longer needed. */
    free(buf);
}
