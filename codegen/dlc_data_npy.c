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

static void skip_ws(const char **p, const char *end) {
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')) (*p)++;
}

/* A quoted Python string literal (no escapes in the keys and values .npy uses). */
static int py_string(const char **p, const char *end, char *out, size_t cap) {
    if (*p >= end || (**p != '\'' && **p != '"')) return 0;
    char q = *(*p)++;
    const char *s = *p;
    while (*p < end && **p != q) (*p)++;
    if (*p >= end || (size_t)(*p - s) >= cap) return 0;
    memcpy(out, s, (size_t)(*p - s));
    out[*p - s] = 0;
    (*p)++;
    return 1;
}

/* Parses the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
static const char *parse_header(const char *p, const char *end, npy_header *h) {
    int seen = 0;
    h->rank = -1;
    skip_ws(&p, end);
    if (p >= end || *p++ != '{') return "the header is not a dict";
    for (;;) {
        char key[32];
        skip_ws(&p, end);
        if (p < end && *p == '}') break;
        if (!py_string(&p, end, key, sizeof key)) return "cannot read the header";
        skip_ws(&p, end);
        if (p >= end || *p++ != ':') return "cannot read the header";
        skip_ws(&p, end);
        if (strcmp(key, "descr") == 0) {
            if (!py_string(&p, end, h->descr, sizeof h->descr)) return "unsupported dtype (a structured array?)";
            seen |= 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (end - p >= 4 && memcmp(p, "True", 4) == 0) h->fortran = 1, p += 4;
            else if (end - p >= 5 && memcmp(p, "False", 5) == 0) h->fortran = 0, p += 5;
            else return "cannot read fortran_order";
            seen |= 2;
        } else if (strcmp(key, "shape") == 0) {
            if (p >= end || *p++ != '(') return "cannot read the shape";
            h->rank = 0;
            for (;;) {
                skip_ws(&p, end);
                if (p < end && *p == ')') { p++; break; }
                if (p >= end || *p < '0' || *p > '9') return "cannot read the shape";
                int64_t v = 0;
                while (p < end && *p >= '0' && *p <= '9') {
                    if (v > (INT64_MAX - 9) / 10) return "a dimension is too large";
                    v = v * 10 + (*p++ - '0');
                }
                if (p < end && *p == 'L') p++;
                if (h->rank > DLC_MAX_RANK) return "too many dimensions";
                h->shape[h->rank++] = v;
                skip_ws(&p, end);
                if (p < end && *p == ',') p++;
            }
            seen |= 4;
        } else {
            return "unknown key in the header";
        }
        skip_ws(&p, end);
        if (p < end && *p == ',') p++;
    }
    return seen == 7 ? NULL : "the header lacks descr, fortran_order or shape";
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
static double element(const void *src, size_t i, char kind, int bytes) {
    const unsigned char *p = (const unsigned char *)src + i * (size_t)bytes;
    switch (kind * 16 + bytes) {
    case 'f' * 16 + 4: { float v; memcpy(&v, p, 4); return v; }
    case 'f' * 16 + 8: { double v; memcpy(&v, p, 8); return v; }
    case 'i' * 16 + 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    }
}

/* The first of k f32 values that is NaN or infinite, or k: a branch-free pass per block. */
static size_t first_nonfinite(const float *x, size_t k) {
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
static size_t convert(const dlc_data_desc *d, char kind, int bytes, const void *src, void *dst, size_t k) {
    if (src == dst) {
        if (d->dtype == DLC_F32) return first_nonfinite(dst, k);
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
    size_t hlen;
    if (pre[6] == 1) hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    else if (pre[6] == 2 || pre[6] == 3) {
        if (dlc_reader_read(&r, pre + 10, 2) < 2) { dlc_reader_data_error(&r, "truncated header"); return; }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        dlc_reader_data_error(&r, "unsupported .npy version %d", pre[6]);
        return;
    }
    size_t got;
    char *hbuf = dlc_reader_read_grow(&r, hlen, &got);
    npy_header h = {{0}, 0, 0, {0}};
    const char *bad = got < hlen ? "truncated header" : parse_header(hbuf, hbuf + hlen, &h);
    free(hbuf);
    char kind = h.descr[1];
    int bytes = h.descr[0] ? atoi(h.descr + 2) : 0, big = h.descr[0] == '>';
    if (!bad && (!strchr("<>|=", h.descr[0]) || !((kind == 'f' || kind == 'i') && (bytes == 4 || bytes == 8))))
        bad = "unsupported dtype (float32, float64, int32 or int64)";
    if (!bad && h.fortran) bad = "Fortran-order arrays are not supported (use np.ascontiguousarray)";
    if (!bad && h.rank < 1) bad = "a scalar array has no examples";
    if (bad) {
        dlc_reader_data_error(&r, "%s%s%s", bad, h.descr[0] ? ", dtype " : "", h.descr);
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
        size_t j = convert(d, kind, bytes, src, dst, k);
        if (j < k) {
            const char *err = dlc_check_value(d, element(src, j, kind, bytes), msg, sizeof msg);
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
