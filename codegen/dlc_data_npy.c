/* dlc_data_npy.c: reads one tensor from a NumPy .npy file (float32, float64, int32, int64).
 *
 * The array must be in C order with the examples on its first axis; the other axes must hold
 * exactly the tensor's per-example element count (any shape with that product: they are
 * flattened row-major, as CSV columns are). Every value is checked like a CSV field. */
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

/* Element i of the array as a double. */
static double element(const unsigned char *data, size_t i, char kind, int bytes, int big) {
    unsigned char b[8];
    for (int k = 0; k < bytes; k++) b[k] = data[i * (size_t)bytes + (size_t)(big ? bytes - 1 - k : k)];
    switch (kind * 16 + bytes) {
    case 'f' * 16 + 4: { float v; memcpy(&v, b, 4); return v; }
    case 'f' * 16 + 8: { double v; memcpy(&v, b, 8); return v; }
    case 'i' * 16 + 4: { int32_t v; memcpy(&v, b, 4); return v; }
    default: { int64_t v; memcpy(&v, b, 8); return (double)v; }
    }
}

void dlc_load_npy(const dlc_model *m, const char *path, int tensor, dlc_loaded *out) {
    const dlc_data_desc *d = &m->data[tensor];
    size_t size;
    const char *why;
    unsigned char *buf = dlc_read_file(path, &size, &why);
    if (!buf) dlc_die(1, "%s: %s", path, why);
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        dlc_data_error(path, 0, 0, "not a .npy file (bad magic)");
        free(buf);
        return;
    }
    size_t hlen, hstart;
    if (buf[6] == 1) hlen = (size_t)buf[8] | (size_t)buf[9] << 8, hstart = 10;
    else if (buf[6] == 2 || buf[6] == 3) {
        if (size < 12) { dlc_data_error(path, 0, 0, "truncated header"); free(buf); return; }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24, hstart = 12;
    } else {
        dlc_data_error(path, 0, 0, "unsupported .npy version %d", buf[6]);
        free(buf);
        return;
    }
    npy_header h = {{0}, 0, 0, {0}};
    const char *bad = hlen > size - hstart ? "truncated header"
                                           : parse_header((char *)buf + hstart, (char *)buf + hstart + hlen, &h);
    char kind = h.descr[1];
    int bytes = h.descr[0] ? atoi(h.descr + 2) : 0, big = h.descr[0] == '>';
    if (!bad && (!strchr("<>|=", h.descr[0]) || !((kind == 'f' || kind == 'i') && (bytes == 4 || bytes == 8))))
        bad = "unsupported dtype (float32, float64, int32 or int64)";
    if (!bad && h.fortran) bad = "Fortran-order arrays are not supported (use np.ascontiguousarray)";
    if (!bad && h.rank < 1) bad = "a scalar array has no examples";
    if (bad) {
        dlc_data_error(path, 0, 0, "%s%s%s", bad, h.descr[0] ? ", dtype " : "", h.descr);
        free(buf);
        return;
    }
    int64_t per = 1; /* -1 once past any tensor's size */
    for (int a = 1; a < h.rank; a++)
        per = per < 0 || (h.shape[a] && per > INT64_MAX / h.shape[a]) ? -1 : per * h.shape[a];
    if (per != d->size) {
        char shape[160];
        dlc_data_error(path, 0, 0, "shape %s does not fit %s (%lld values per example)",
                       dlc_shape_string(shape, sizeof shape, h.rank, h.shape), d->name, (long long)d->size);
        free(buf);
        return;
    }
    int64_t n = h.shape[0];
    /* Divide rather than multiply: a forged shape must not overflow. */
    if ((size_t)n > (size - hstart - hlen) / (size_t)bytes / (size_t)per) {
        dlc_data_error(path, 0, 0, "truncated data: shape (%lld, ...) needs more bytes than the file has", (long long)n);
        free(buf);
        return;
    }
    if (n == 0) {
        dlc_data_error(path, 0, 0, "no data rows");
        free(buf);
        return;
    }
    size_t count = (size_t)n * (size_t)per;
    const unsigned char *data = buf + hstart + hlen;
    out->values = dlc_xmalloc(dlc_mul_size(count, 4));
    char msg[160];
    for (size_t i = 0; i < count; i++) {
        double v = element(data, i, kind, bytes, big);
        const char *err = dlc_check_value(d, v, msg, sizeof msg);
        if (err) {
            dlc_data_error(path, 0, 0, "row %lld, element %lld: %s (%s)", (long long)(i / (size_t)per),
                           (long long)(i % (size_t)per), err, d->name);
            break;
        }
        if (d->dtype == DLC_F32) ((float *)out->values)[i] = (float)v;
        else ((int32_t *)out->values)[i] = (int32_t)v;
    }
    out->n = n;
    free(buf);
}
