/* dlc_columns.c: the column language (dlc_columns.h). Self-contained: the Swift side compiles
 * this same file, so the two cannot disagree. */
#include "dlc_columns.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t column_header_index(const dlc_column_name *header, int64_t n_header, const char *name, size_t len) {
    for (int64_t i = 0; i < n_header; i++)
        if (header[i].len == len && memcmp(header[i].s, name, len) == 0) return i;
    return -1;
}

static int all_digits(const char *s, size_t n) {
    if (!n || n > 9) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int64_t number(const char *s, size_t n) {
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

int64_t dlc_columns_resolve(const char *spec, const dlc_column_name *header, int64_t n_header, int64_t width,
                            int64_t **cols, char *why, size_t why_size) {
    int64_t n = 0, cap = 16;
    int64_t *out = malloc((size_t)cap * sizeof *out);
    if (!out) return -2;
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *s = p, *e = comma ? comma : p + strlen(p);
        p = comma ? comma + 1 : e;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '"')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '"')) e--;
        size_t len = (size_t)(e - s);
        int64_t lo = -1, hi = -1;
        const char *dash = len ? memchr(s, '-', len) : NULL;
        if (!len) {
            snprintf(why, why_size, "empty item in the column list '%s'", spec);
            goto bad;
        }
        if ((lo = column_header_index(header, n_header, s, len)) >= 0) {
            hi = lo;
        } else if (all_digits(s, len)) {
            lo = hi = number(s, len);
        } else if (dash && all_digits(s, (size_t)(dash - s)) && all_digits(dash + 1, (size_t)(e - dash - 1))) {
            lo = number(s, (size_t)(dash - s));
            hi = number(dash + 1, (size_t)(e - dash - 1));
        } else {
            /* A range of header names, e.g. p0-p63: try every '-' as the separator. */
            for (const char *d = s; d < e && lo < 0; d++) {
                if (*d != '-') continue;
                int64_t a = column_header_index(header, n_header, s, (size_t)(d - s));
                int64_t b = column_header_index(header, n_header, d + 1, (size_t)(e - d - 1));
                if (a >= 0 && b >= 0) lo = a, hi = b;
            }
            if (lo < 0) {
                snprintf(why, why_size, "no column '%.*s'%s", (int)len, s, n_header ? "" : " (the file has no header)");
                goto bad;
            }
        }
        if (hi < lo) {
            snprintf(why, why_size, "column range '%.*s' is backwards", (int)len, s);
            goto bad;
        }
        if (hi >= width) {
            snprintf(why, why_size, "column %lld is out of range (the file has %lld columns, numbered from 0)",
                     (long long)hi, (long long)width);
            goto bad;
        }
        for (int64_t c = lo; c <= hi; c++) {
            if (n == cap) {
                int64_t *grown = realloc(out, (size_t)(cap *= 2) * sizeof *out);
                if (!grown) {
                    free(out);
                    return -2;
                }
                out = grown;
            }
            out[n++] = c;
        }
        if (!comma) break; /* so that a trailing comma is an empty item */
    }
    *cols = out;
    return n;
bad:
    free(out);
    return -1;
}
