/* dlc_data_idx.c: reads one tensor from an MNIST IDX file (.idx, -ubyte, optionally .gz).
 *
 * IDX: two zero bytes, a type byte, the number of axes, each axis as a big-endian u32, then
 * the values big-endian. As in torchvision, uint8 values read into an f32 tensor are scaled
 * to [0, 1] (value / 255, ToTensor); into an i32 tensor (labels) they stay integers. Other
 * types are read as they are. The first axis holds the examples; the rest must hold the
 * tensor's per-example element count (28x28 images fit `f32[N, 784]`). */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

static uint64_t be(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | p[i];
    return v;
}

static double element(const unsigned char *p, int type) {
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

void dlc_load_idx(const dlc_model *m, const char *path, int tensor, dlc_loaded *out) {
    const dlc_data_desc *d = &m->data[tensor];
    size_t size;
    const char *why;
    unsigned char *buf = dlc_read_file(path, &size, &why);
    if (!buf) dlc_die(1, "%s: %s", path, why);
    memset(out, 0, sizeof *out);
    int type = size >= 4 ? buf[2] : 0, rank = size >= 4 ? buf[3] : 0, bytes = type_bytes(type);
    if (size < 4 || buf[0] || buf[1] || !bytes || rank < 1) {
        dlc_data_error(path, 0, 0, "not an IDX file (bad magic number)");
        free(buf);
        return;
    }
    if (size < 4 + 4 * (size_t)rank) {
        dlc_data_error(path, 0, 0, "truncated header");
        free(buf);
        return;
    }
    int64_t n = (int64_t)be(buf + 4, 4), per = 1;
    for (int a = 1; a < rank; a++) {
        int64_t dim = (int64_t)be(buf + 4 + 4 * a, 4);
        per = per < 0 || (dim && per > INT64_MAX / dim) ? -1 : per * dim;
    }
    if (per != d->size) {
        dlc_data_error(path, 0, 0, "%lld values per example do not fit %s (%lld per example)", (long long)per, d->name,
                       (long long)d->size);
        free(buf);
        return;
    }
    size_t start = 4 + 4 * (size_t)rank;
    if ((size_t)n > (size - start) / (size_t)bytes / (size_t)per) {
        dlc_data_error(path, 0, 0, "truncated data: %lld examples do not fit in the file", (long long)n);
        free(buf);
        return;
    }
    if (n == 0) {
        dlc_data_error(path, 0, 0, "no data rows");
        free(buf);
        return;
    }
    size_t count = (size_t)n * (size_t)per;
    out->values = dlc_xmalloc(dlc_mul_size(count, 4));
    char msg[160];
    for (size_t i = 0; i < count; i++) {
        double v = element(buf + start + i * (size_t)bytes, type);
        const char *err = dlc_check_value(d, v, msg, sizeof msg);
        if (err) {
            dlc_data_error(path, 0, 0, "example %lld, element %lld: %s (%s)", (long long)(i / (size_t)per),
                           (long long)(i % (size_t)per), err, d->name);
            break;
        }
        if (d->dtype == DLC_I32) ((int32_t *)out->values)[i] = (int32_t)v;
        else if (type == 0x08) ((float *)out->values)[i] = (float)buf[start + i] / 255.0f;
        else ((float *)out->values)[i] = (float)v;
    }
    out->n = n;
    free(buf);
}
