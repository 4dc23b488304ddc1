/* dlc_data_idx.c: reads one tensor from an MNIST IDX file (.idx, -ubyte, optionally .gz).
 *
 * IDX: two zero bytes, a type byte, the number of axes, each axis as a big-endian u32, then
 * the values big-endian. As in torchvision, uint8 values read into an f32 tensor are scaled
 * to [0, 1] (value / 255, ToTensor); into an i32 tensor (labels) they stay integers. Other
 * types are read as they are. The first axis holds the examples; the rest must hold the
 * tensor's per-example element count (28x28 images fit `f32[N, 784]`). The values stream
 * through a small buffer into the tensor's array (no copy of the whole file first). */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

static uint64_t be(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | p[i];
    return v;
}

static double idx_element(const unsigned char *p, int type) {
    uint64_t u;
    switch (type) {
    case 0x08: return p[0];
    case 0x09: return (int8_t)p[0];
    case 0x0B: return (int16_t)(uint16_t)be(p, 2);
    case 0x0C: return (int32_t)(uint32_t)be(p, 4);
    case 0x0D: { u = be(p, 4); uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); return f; }
    default: { u = be(p, 8); double f; memcpy(&f, &u, 8); return f; }
    }
}

static int type_bytes(int type) {
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

/* Checks k elements of the given type at p and writes them as the tensor's dtype to dst.
 * Returns the index of the first bad element, or k. */
static size_t idx_convert(const dlc_data_desc *d, int type, const unsigned char *p, void *dst, size_t k) {
    int bytes = type_bytes(type);
    if (d->dtype == DLC_F32) {
        float *o = dst;
        if (type == 0x08) { /* pixels: value / 255, always in range */
            for (size_t i = 0; i < k; i++) o[i] = (float)p[i] / 255.0f;
            return k;
        }
        for (size_t i = 0; i < k; i++) {
            double v = idx_element(p + i * (size_t)bytes, type);
            if (!dlc_value_ok(d, v)) return i;
            o[i] = (float)v;
        }
    } else {
        int32_t *o = dst;
        for (size_t i = 0; i < k; i++) {
            double v = idx_element(p + i * (size_t)bytes, type);
            if (!dlc_value_ok(d, v)) return i;
            o[i] = (int32_t)v;
        }
    }
    return k;
}

void dlc_load_idx(const dlc_model *m, const char *path, int tensor, dlc_loaded *out) {
    const dlc_data_desc *d = &m->data[tensor];
    memset(out, 0, sizeof *out);
    dlc_reader r;
    const char *why;
    if (!dlc_reader_open(&r, path, &why)) dlc_die(1, "%s: %s", path, why);
    unsigned char head[4 + 4 * 255];
    size_t got = dlc_reader_read(&r, head, 4);
    int type = got >= 4 ? head[2] : 0, rank = got >= 4 ? head[3] : 0, bytes = type_bytes(type);
    if (got < 4 || head[0] || head[1] || !bytes || rank < 1) {
        dlc_reader_data_error(&r, "not an IDX file (bad magic number)");
        return;
    }
    if (dlc_reader_read(&r, head + 4, 4 * (size_t)rank) < 4 * (size_t)rank) {
        dlc_reader_data_error(&r, "truncated header");
        return;
    }
    int64_t n = (int64_t)be(head + 4, 4), per = 1;
    for (int a = 1; a < rank; a++) {
        int64_t dim = (int64_t)be(head + 4 + 4 * a, 4);
        per = per < 0 || (dim && per > INT64_MAX / dim) ? -1 : per * dim;
    }
    if (per != d->size) {
        dlc_reader_data_error(&r, "%lld values per example do not fit %s (%lld per example)", (long long)per, d->name,
                              (long long)d->size);
        return;
    }
    /* A gzip stream that ends early is caught as it is read. */
    if ((uint64_t)n > dlc_reader_left(&r) / (uint64_t)bytes / (uint64_t)per) {
        dlc_reader_data_error(&r, "truncated data: %lld examples do not fit in the file", (long long)n);
        return;
    }
    if (n == 0) {
        dlc_reader_data_error(&r, "no data rows");
        return;
    }
    /* Read a block at a time through a small buffer, straight into the tensor's array. */
    size_t count = (size_t)n * (size_t)per, block = (size_t)1 << 16;
    size_t cap = dlc_reader_capacity(&r, count, (size_t)bytes);
    out->values = dlc_xmalloc(dlc_mul_size(cap, 4));
    out->n = n;
    unsigned char *scratch = dlc_xmalloc(block * (size_t)bytes);
    char msg[160], where[400];
    where[0] = 0;
    int short_read = 0;
    for (size_t i = 0; i < count && !where[0];) {
        size_t k = count - i < block ? count - i : block;
        if (i + k > cap) { /* a stream longer than its size hint */
            cap = cap > count / 2 ? count : 2 * cap;
            out->values = dlc_xrealloc(out->values, cap * 4);
        }
        if (dlc_reader_read(&r, scratch, k * (size_t)bytes) < k * (size_t)bytes) {
            short_read = 1;
            break;
        }
        size_t j = idx_convert(d, type, scratch, (unsigned char *)out->values + i * 4, k);
        if (j < k) {
            const char *err = dlc_check_value(d, idx_element(scratch + j * (size_t)bytes, type), msg, sizeof msg);
            snprintf(where, sizeof where, "example %lld, element %lld: %s (%s)", (long long)((i + j) / (size_t)per),
                     (long long)((i + j) % (size_t)per), err ? err : "bad value", d->name);
        }
        i += k;
    }
    free(scratch);
    char truncated[200];
    snprintf(truncated, sizeof truncated, "truncated data: %lld examples do not fit in the file", (long long)n);
    dlc_reader_end_values(&r, out, short_read, truncated, where);
}
