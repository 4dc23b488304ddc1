/* dlc_data_npy.c: reads one tensor from a NumPy .npy file (float32, float64, int32, int64).
 *
 * The array must be in C order with the examples on its first axis; the other axes must hold
 * exactly the tensor's per-example element count (any shape with that product: they are
 * flattened row-major, as CSV columns are). Every value is checked like a CSV field.
 *
 * After the header the values go from the file straight into the tensor's array, a block at
 * a time (no copy of the whole file first): so loading costs about one copy of the data. */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char descr[16];
    int fortran;
    int rank;
    int64_t shape[DLC_MAX_RANK + 1];
} npy_header;

/* The header text being parsed: [p, end), and where it starts in the file (for messages). */
typedef struct {
    const char *start, *p, *end;
    size_t file_offset;
    char why[120];
} cursor;

/* Records the first problem, with its byte offset in the file; returns 0. */
static int bad(cursor *c, const char *what) {
    if (!c->why[0])
        snprintf(c->why, sizeof c->why, "bad header at byte %zu: %s", c->file_offset + (size_t)(c->p - c->start), what);
    return 0;
}

static void spaces(cursor *c) {
    while (c->p < c->end && *c->p == ' ') c->p++;
}

static int take(cursor *c, char ch) {
    spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* string = "'" chars "'" | '"' chars '"'  (no escapes: no key or value .npy uses has one) */
static int py_string(cursor *c, char *out, size_t cap) {
    spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad(c, "expected a quoted string");
    char q = *c->p++;
    const char *s = c->p;
    while (c->p < c->end && *c->p != q && *c->p != '\\') c->p++;
    if (c->p >= c->end || *c->p != q) return bad(c, "unterminated string");
    if ((size_t)(c->p - s) >= cap) return bad(c, "string too long");
    memcpy(out, s, (size_t)(c->p - s));
    out[c->p - s] = 0;
    c->p++;
    return 1;
}

/* shape = "(" ")" | "(" dim "," ")" | "(" dim ("," dim)+ [","] ")"   dim = digits ["L"] */
static int py_shape(cursor *c, npy_header *h) {
    if (!take(c, '(')) return bad(c, "the shape is not a tuple");
    h->rank = 0;
    int commas = 0;
    while (!take(c, ')')) {
        if (h->rank > commas) return bad(c, "expected ',' or ')' in the shape");
        spaces(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return bad(c, "expected a dimension (decimal digits)");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return bad(c, "a dimension is too large");
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2's long literals, as numpy reads them */
        if (h->rank >= DLC_MAX_RANK + 1) return bad(c, "too many dimensions");
        h->shape[h->rank++] = v;
        commas += take(c, ',');
    }
    if (h->rank == 1 && commas == 0) return bad(c, "the shape is not a tuple (one dimension is written '(n,)')");
    return 1;
}

/* Records a problem that is not about a place in the header; returns 0. */
static int refuse_header(cursor *c, const char *what, const char *key) {
    snprintf(c->why, sizeof c->why, what, key);
    return 0;
}

/* The header, as numpy.lib.format defines it: a Python dict literal with exactly the keys
 * descr, fortran_order and shape, then spaces, then a newline that ends the header:
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }          \n
 * Keys may use either quote and come in any order; items are separated by commas (one may
 * follow the last); only spaces separate tokens (numpy writes no other whitespace). Returns 1,
 * or 0 with the reason in c->why. */
static int parse_header(cursor *c, npy_header *h) {
    h->rank = -1;
    for (const char *q = c->start; q < c->end; q++)
        if ((unsigned char)*q < 0x20 && !(*q == '\n' && q == c->end - 1)) {
            c->p = q;
            return bad(c, *q == '\n' ? "a newline before the end of the header" : "a control character");
        }
    if (c->end == c->start || c->end[-1] != '\n') {
        c->p = c->end;
        return bad(c, "the header does not end with a newline");
    }
    if (!take(c, '{')) return bad(c, "the header is not a dict");
    int seen = 0, comma = 1;
    while (!take(c, '}')) {
        char key[32];
        if (!comma) return bad(c, "expected ',' or '}'");
        if (!py_string(c, key, sizeof key)) return 0;
        if (!take(c, ':')) return bad(c, "expected ':'");
        int bit = strcmp(key, "descr") == 0 ? 1 : strcmp(key, "fortran_order") == 0 ? 2 : strcmp(key, "shape") == 0 ? 4 : 0;
        if (!bit) return refuse_header(c, "unknown key '%s' in the header", key);
        if (seen & bit) return refuse_header(c, "key '%s' appears twice in the header", key);
        seen |= bit;
        spaces(c);
        if (bit == 1) {
            if (c->p < c->end && *c->p == '[') return refuse_header(c, "unsupported dtype (a structured array)%s", "");
            if (!py_string(c, h->descr, sizeof h->descr)) return 0;
        } else if (bit == 2) {
            if (c->end - c->p >= 4 && memcmp(c->p, "True", 4) == 0) h->fortran = 1, c->p += 4;
            else if (c->end - c->p >= 5 && memcmp(c->p, "False", 5) == 0) h->fortran = 0, c->p += 5;
            else return bad(c, "fortran_order is not True or False");
        } else if (!py_shape(c, h)) {
            return 0;
        }
        comma = take(c, ',');
    }
    spaces(c);
    if (c->p != c->end - 1) return bad(c, "text after the dict (only spaces may pad the header)");
    if (seen != 7) return refuse_header(c, "the header lacks %s", !(seen & 1) ? "descr" : !(seen & 2) ? "fortran_order" : "shape");
    return 1;
}

/* The file's byte order to the machine's (little-endian, as '<' is taken to be). */
static void swap_bytes(unsigned char *p, size_t k, int bytes) {
    if (bytes == 4) {
        for (size_t i = 0; i < k; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            u = __builtin_bswap32(u);
            memcpy(p + 4 * i, &u, 4);
        }
    } else {
        for (size_t i = 0; i < k; i++) {
            uint64_t u;
            memcpy(&u, p + 8 * i, 8);
            u = __builtin_bswap64(u);
            memcpy(p + 8 * i, &u, 8);
        }
    }
}

/* Element i of k elements of the file's type (machine byte order) as a double. */
static double npy_element(const void *src, size_t i, char kind, int bytes) {
    const unsigned char *p = (const unsigned char *)src + i * (size_t)bytes;
    switch (kind * 16 + bytes) {
    case 'f' * 16 + 4: { float v; memcpy(&v, p, 4); return v; }
    case 'f' * 16 + 8: { double v; memcpy(&v, p, 8); return v; }
    case 'i' * 16 + 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    }
}

/* The first of k f32 values that is NaN or infinite, or k: a branch-free pass per block. */
static size_t npy_first_nonfinite(const float *x, size_t k) {
    size_t i = 0;
    for (; i + 256 <= k; i += 256) {
        uint32_t bad = 0;
        for (size_t j = 0; j < 256; j++) {
            uint32_t u;
            memcpy(&u, &x[i + j], 4);
            bad += (u & 0x7f800000u) == 0x7f800000u;
        }
        if (bad) break;
    }
    for (; i < k; i++)
        if (!isfinite(x[i])) return i;
    return k;
}

/* The first of k i32 labels outside [0, classes), or k. */
static size_t first_bad_label(const int32_t *x, size_t k, int64_t classes) {
    uint32_t limit = classes > 2147483647 ? 2147483648u : (uint32_t)classes;
    size_t i = 0;
    for (; i + 256 <= k; i += 256) {
        uint32_t bad = 0;
        for (size_t j = 0; j < 256; j++) bad += (uint32_t)x[i + j] >= limit;
        if (bad) break;
    }
    for (; i < k; i++)
        if ((uint32_t)x[i] >= limit) return i;
    return k;
}

/* Checks k elements of the file's type at src and writes them as the tensor's dtype to dst.
 * When the file holds the tensor's own type, src == dst and only the check remains. Returns
 * the index of the first bad element, or k. */
static size_t npy_convert(const dlc_data_desc *d, char kind, int bytes, const void *src, void *dst, size_t k) {
    if (src == dst) {
        if (d->dtype == DLC_F32) return npy_first_nonfinite(dst, k);
        return d->classes > 0 ? first_bad_label(dst, k, d->classes) : k; /* every int32 is a valid i32 */
    }
#define DLC_CONVERT(T, U)                                          \
    do {                                                           \
        const T *s_ = (const T *)src;                              \
        U *o_ = (U *)dst;                                          \
        for (size_t i = 0; i < k; i++) {                           \
            double v = (double)s_[i];                              \
            if (!dlc_value_ok(d, v)) return i;                     \
            o_[i] = (U)v;                                          \
        }                                                          \
    } while (0)
    int f32 = d->dtype == DLC_F32;
    switch (kind * 16 + bytes) {
    case 'f' * 16 + 4: if (f32) DLC_CONVERT(float, float); else DLC_CONVERT(float, int32_t); break;
    case 'f' * 16 + 8: if (f32) DLC_CONVERT(double, float); else DLC_CONVERT(double, int32_t); break;
    case 'i' * 16 + 4: if (f32) DLC_CONVERT(int32_t, float); else DLC_CONVERT(int32_t, int32_t); break;
    default: if (f32) DLC_CONVERT(int64_t, float); else DLC_CONVERT(int64_t, int32_t); break;
    }
#undef DLC_CONVERT
    return k;
}

void dlc_load_npy(const dlc_model *m, const char *path, int tensor, dlc_loaded *out) {
    const dlc_data_desc *d = &m->data[tensor];
    memset(out, 0, sizeof *out);
    dlc_reader r;
    const char *why;
    if (!dlc_reader_open(&r, path, &why)) dlc_die(1, "%s: %s", path, why);
    unsigned char pre[12];
    if (dlc_reader_read(&r, pre, 10) < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        dlc_reader_data_error(&r, "not a .npy file (bad magic)");
        return;
    }
    /* Versions 1.0 (a 2-byte header length), 2.0 and 3.0 (4 bytes; 3.0 allows UTF-8 in the
     * header, which no dtype read here needs). */
    size_t hlen, prefix = pre[6] == 1 ? 10 : 12;
    if (pre[6] == 1 && pre[7] == 0) hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    else if ((pre[6] == 2 || pre[6] == 3) && pre[7] == 0) {
        if (dlc_reader_read(&r, pre + 10, 2) < 2) { dlc_reader_data_error(&r, "truncated header"); return; }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        dlc_reader_data_error(&r, "unsupported .npy version %d.%d (1.0, 2.0 or 3.0)", pre[6], pre[7]);
        return;
    }
    size_t got;
    char *hbuf = dlc_reader_read_grow(&r, hlen, &got);
    npy_header h = {{0}, 0, 0, {0}};
    cursor c = {hbuf, hbuf, hbuf + hlen, prefix, {0}};
    const char *bad = got < hlen ? "truncated header" : NULL;
    /* numpy pads the header so that the data starts at a multiple of 64 bytes (16 in older
     * versions): a length that is no multiple of 16 is not a header numpy wrote. */
    if (!bad && (prefix + hlen) % 16 != 0) {
        snprintf(c.why, sizeof c.why, "bad header: its length %zu + %zu is not a multiple of 16 (.npy pads it with spaces)",
                 prefix, hlen);
        bad = c.why;
    }
    if (!bad && !parse_header(&c, &h)) bad = c.why;
    free(hbuf);
    static const char *const supported[] = {"<f4", ">f4", "<f8", ">f8", "<i4", ">i4", "<i8", ">i8"};
    int known = 0;
    for (size_t i = 0; i < sizeof supported / sizeof *supported; i++) known |= strcmp(h.descr, supported[i]) == 0;
    char kind = h.descr[1];
    int bytes = known ? h.descr[2] - '0' : 0, big = h.descr[0] == '>';
    if (!bad && !known) {
        snprintf(c.why, sizeof c.why, "unsupported dtype '%s' (<f4, <f8, <i4 or <i8, or big-endian >)", h.descr);
        bad = c.why;
    }
    if (!bad && h.fortran) bad = "Fortran-order arrays are not supported (use np.ascontiguousarray)";
    if (!bad && h.rank < 1) bad = "a scalar array has no examples";
    if (bad) {
        dlc_reader_data_error(&r, "%s", bad);
        return;
    }
    int64_t per = 1; /* -1 once past any tensor's size */
    for (int a = 1; a < h.rank; a++)
        per = per < 0 || (h.shape[a] && per > INT64_MAX / h.shape[a]) ? -1 : per * h.shape[a];
    if (per != d->size) {
        char shape[160];
        dlc_reader_data_error(&r, "shape %s does not fit %s (%lld values per example)",
                 dlc_shape_string(shape, sizeof shape, h.rank, h.shape), d->name, (long long)d->size);
        return;
    }
    int64_t n = h.shape[0];
    /* Divide rather than multiply: a forged shape must not overflow. (A gzip stream's bound is
     * what deflate could expand to; one that ends early is caught as it is read.) */
    uint64_t left = dlc_reader_left(&r);
    if ((uint64_t)n > left / (uint64_t)bytes / (uint64_t)per) {
        dlc_reader_data_error(&r, "truncated data: shape (%lld, ...) needs more bytes than the file has", (long long)n);
        return;
    }
    if (n == 0) {
        dlc_reader_data_error(&r, "no data rows");
        return;
    }
    /* The values go straight from the file into the tensor's array, a block at a time, each
     * block checked while it is in cache. A file of the tensor's own type (float32 for f32,
     * int32 for i32) is read in place; other types pass through a small buffer. */
    size_t count = (size_t)n * (size_t)per;
    int same = bytes == 4 && (kind == 'f') == (d->dtype == DLC_F32);
    size_t block = same ? (size_t)1 << 18 : (size_t)1 << 15;
    size_t cap = dlc_reader_capacity(&r, count, (size_t)bytes);
    out->values = dlc_xmalloc(dlc_mul_size(cap, 4));
    out->n = n;
    unsigned char *scratch = same ? NULL : dlc_xmalloc(block * (size_t)bytes);
    char msg[160], where[400];
    where[0] = 0;
    int short_read = 0;
    for (size_t i = 0; i < count && !where[0] && !short_read;) {
        size_t k = count - i < block ? count - i : block;
        if (i + k > cap) { /* a stream longer than its size hint */
            cap = cap > count / 2 ? count : 2 * cap;
            out->values = dlc_xrealloc(out->values, cap * 4);
        }
        unsigned char *dst = (unsigned char *)out->values + i * 4, *src = same ? dst : scratch;
        if (dlc_reader_read(&r, src, k * (size_t)bytes) < k * (size_t)bytes) {
            short_read = 1;
            break;
        }
        if (big) swap_bytes(src, k, bytes);
        size_t j = npy_convert(d, kind, bytes, src, dst, k);
        if (j < k) {
            const char *err = dlc_check_value(d, npy_element(src, j, kind, bytes), msg, sizeof msg);
            snprintf(where, sizeof where, "row %lld, element %lld: %s (%s)", (long long)((i + j) / (size_t)per),
                     (long long)((i + j) % (size_t)per), err ? err : "bad value", d->name);
        }
        i += k;
    }
    free(scratch);
    char truncated[200];
    snprintf(truncated, sizeof truncated, "truncated data: shape (%lld, ...) needs more bytes than the file has", (long long)n);
    dlc_reader_end_values(&r, out, short_read, truncated, where);
}
