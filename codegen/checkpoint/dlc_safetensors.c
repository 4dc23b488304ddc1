/* dlc_safetensors.c: the safetensors file format, written atomically and read strictly.
 *
 * Layout: an 8-byte little-endian header length, a JSON header
 *   {"__metadata__": {"key": "value", ...},
 *    "NAME": {"dtype": "F32", "shape": [a, b], "data_offsets": [begin, end]}, ...}
 * then the tensors' bytes, little-endian, offsets counted from the end of the header. We write
 * the tensors back to back in the order given, the header padded with spaces so the data
 * starts 8-byte aligned, as the Python library does. Reading trusts nothing: every entry is
 * validated when the file is opened (valid UTF-8 JSON; dtype, shape and byte count agreeing;
 * the tensors back to back covering the data area exactly, as the format requires), and every
 * defect is refused naming the path and the tensor. */
#include "dlc_runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The Python library refuses headers above 100 MB; so do we. */
#define DLC_ST_MAX_HEADER (100u << 20)

_Static_assert(sizeof(float) == 4, "f32 is a 4-byte float");

static int host_little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* ---- Writing ------------------------------------------------------------------------------- */

static int write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

/* F32 (the default) or I64. */
static int element_bytes(const dlc_st_tensor *t) { return t->dtype && strcmp(t->dtype, "I64") == 0 ? 8 : 4; }

char *dlc_st_write_temp(const char *path, const dlc_st_tensor *t, int nt, const dlc_st_meta *meta, int nm, int *err) {
    if (!host_little_endian()) dlc_die(1, "%s: writing safetensors needs a little-endian machine", path);
    dlc_str h = {0};
    dlc_str_add(&h, "{");
    if (nm > 0) {
        dlc_str_add(&h, "\"__metadata__\":{");
        for (int i = 0; i < nm; i++) {
            dlc_str_add(&h, "%s", i ? "," : "");
            dlc_json_add_string(&h, meta[i].key);
            dlc_str_add(&h, ":");
            dlc_json_add_string(&h, meta[i].value);
        }
        dlc_str_add(&h, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < nt; i++) {
        uint64_t count = 1;
        for (int d = 0; d < t[i].rank; d++) count *= (uint64_t)t[i].dims[d];
        dlc_str_add(&h, "%s", (i || nm > 0) ? "," : "");
        dlc_json_add_string(&h, t[i].name);
        dlc_str_add(&h, ":{\"dtype\":\"%s\",\"shape\":[", t[i].dtype ? t[i].dtype : "F32");
        for (int d = 0; d < t[i].rank; d++) dlc_str_add(&h, "%s%lld", d ? "," : "", (long long)t[i].dims[d]);
        uint64_t bytes = (uint64_t)element_bytes(&t[i]) * count;
        dlc_str_add(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                    (unsigned long long)(offset + bytes));
        offset += bytes;
    }
    dlc_str_add(&h, "}");
    while ((8 + h.len) % 8) dlc_str_add(&h, " ");

    size_t tlen = strlen(path) + 32;
    char *tmp = dlc_xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    ok = ok && write_all(f, len8, 8) && write_all(f, h.s, h.len);
    for (int i = 0; ok && i < nt; i++) {
        size_t count = 1;
        for (int d = 0; d < t[i].rank; d++) count *= (size_t)t[i].dims[d];
        ok = write_all(f, t[i].data, count * (size_t)element_bytes(&t[i]));
    }
    /* On disk before anyone renames it: a crash after the rename must not find it empty. */
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    *err = ok ? 0 : errno;
    if (f && fclose(f) != 0 && ok) {
        ok = 0;
        *err = errno;
    }
    free(h.s);
    if (ok) return tmp;
    if (f) unlink(tmp);
    free(tmp);
    return NULL;
}

void dlc_st_write(const char *path, const dlc_st_tensor *t, int nt, const dlc_st_meta *meta, int nm) {
    /* A temporary file beside the target, then rename(): readers see the old file or the new
     * one, never half of one. */
    int err;
    char *tmp = dlc_st_write_temp(path, t, nt, meta, nm, &err);
    if (!tmp) dlc_die(1, "%s: cannot write: %s", path, strerror(err));
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        dlc_die(1, "%s: cannot write: %s", path, strerror(err));
    }
    free(tmp);
}

/* ---- Reading ------------------------------------------------------------------------------- */

static int dtype_bytes(const char *dtype) {
    static const struct { const char *name; int bytes; } known[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
        {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, dtype) == 0) return known[i].bytes;
    return 0;
}

/* Checks one tensor entry; returns NULL or what is wrong with it. */
static const char *check_entry(const dlc_json *e, size_t data_size, char *buf, size_t cap) {
    if (e->kind != DLC_JSON_OBJECT) return "is not an object";
    const dlc_json *dtype = dlc_json_get(e, "dtype"), *shape = dlc_json_get(e, "shape"),
                   *offsets = dlc_json_get(e, "data_offsets");
    if (!dtype || !shape || !offsets || e->len != 3) return "needs exactly dtype, shape and data_offsets";
    if (dtype->kind != DLC_JSON_STRING || !dtype_bytes(dtype->string)) return "has an unknown dtype";
    if (shape->kind != DLC_JSON_ARRAY) return "has a shape that is not a list";
    uint64_t count = 1;
    for (size_t i = 0; i < shape->len; i++) {
        const dlc_json *d = &shape->items[i];
        if (d->kind != DLC_JSON_NUMBER || !d->is_uint) return "has a shape that is not a list of non-negative integers";
        if (d->uint && count > UINT64_MAX / d->uint) return "has a shape too large";
        count *= d->uint;
    }
    if (offsets->kind != DLC_JSON_ARRAY || offsets->len != 2 || offsets->items[0].kind != DLC_JSON_NUMBER ||
        offsets->items[1].kind != DLC_JSON_NUMBER || !offsets->items[0].is_uint || !offsets->items[1].is_uint)
        return "has data_offsets that are not two non-negative integers";
    uint64_t begin = offsets->items[0].uint, end = offsets->items[1].uint;
    if (begin > end || end > data_size) {
        snprintf(buf, cap, "has data_offsets [%llu, %llu] out of range (%llu data bytes)", (unsigned long long)begin,
                 (unsigned long long)end, (unsigned long long)data_size);
        return buf;
    }
    uint64_t bytes = (uint64_t)dtype_bytes(dtype->string);
    if (count > UINT64_MAX / bytes || end - begin != count * bytes) {
        snprintf(buf, cap, "has data_offsets [%llu, %llu] that do not match its dtype and shape",
                 (unsigned long long)begin, (unsigned long long)end);
        return buf;
    }
    return NULL;
}

/* One tensor's bytes in the data area. */
typedef struct {
    uint64_t begin, end;
    const char *name;
} span;

static int by_offset(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The format's rule: the tensors lie back to back from byte 0 and cover the data area exactly.
 * Anything else (a header length one byte off, a hole, bytes left over, two tensors sharing
 * bytes) means the file is not what its header says. */
static void check_coverage(const char *path, const dlc_json *header, size_t data_size) {
    span *s = dlc_xcalloc(header->len + 1, sizeof *s);
    size_t n = 0;
    for (size_t i = 0; i < header->len; i++) {
        if (strcmp(header->keys[i], "__metadata__") == 0) continue;
        const dlc_json *offsets = dlc_json_get(&header->items[i], "data_offsets");
        s[n++] = (span){offsets->items[0].uint, offsets->items[1].uint, header->keys[i]};
    }
    qsort(s, n, sizeof *s, by_offset);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].begin < at)
            dlc_die(1, "%s: tensor '%s' overlaps tensor '%s' (bytes [%llu, %llu) of the data area)", path, s[i].name,
                    s[i - 1].name, (unsigned long long)s[i].begin, (unsigned long long)at);
        if (s[i].begin > at) {
            unsigned long long gap = (unsigned long long)(s[i].begin - at);
            if (i == 0)
                dlc_die(1, "%s: %llu byte%s before tensor '%s' belong%s to no tensor (the data area starts at its first tensor)",
                        path, gap, gap == 1 ? "" : "s", s[i].name, gap == 1 ? "s" : "");
            dlc_die(1, "%s: %llu byte%s between tensor '%s' and tensor '%s' belong%s to no tensor", path, gap,
                    gap == 1 ? "" : "s", s[i - 1].name, s[i].name, gap == 1 ? "s" : "");
        }
        at = s[i].end;
    }
    if (at != data_size) {
        unsigned long long left = (unsigned long long)(data_size - at);
        if (n == 0) dlc_die(1, "%s: %llu data bytes but no tensor", path, left);
        dlc_die(1, "%s: the tensors end at byte %llu of %llu: %llu byte%s after tensor '%s' belong%s to no tensor%s", path,
                (unsigned long long)at, (unsigned long long)data_size, left, left == 1 ? "" : "s", s[n - 1].name,
                left == 1 ? "s" : "", left == 1 ? " (is the header length one byte short?)" : "");
    }
    free(s);
}

void dlc_st_open(const char *path, dlc_st_file *f) {
    memset(f, 0, sizeof *f);
    f->path = path;
    FILE *fp = fopen(path, "rb");
    if (!fp) dlc_die(1, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = dlc_xmalloc(cap);
    for (;;) {
        if (len == cap) buf = dlc_xrealloc(buf, cap = dlc_mul_size(cap, 2));
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) dlc_die(1, "%s: cannot read (is it a directory?)", path);
    f->bytes = buf;
    f->size = len;
    if (len < 8)
        dlc_die(1, "%s: truncated file (%zu bytes; a safetensors file starts with an 8-byte header length)", path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > len - 8)
        dlc_die(1, "%s: header length %llu runs past the end of the file (%zu bytes)", path, (unsigned long long)hlen, len);
    if (hlen > DLC_ST_MAX_HEADER) dlc_die(1, "%s: header of %llu bytes is too large", path, (unsigned long long)hlen);
    char err[160];
    f->header = dlc_json_parse((const char *)buf + 8, (size_t)hlen, err, sizeof err);
    if (!f->header) dlc_die(1, "%s: bad JSON in the header: %s", path, err);
    if (f->header->kind != DLC_JSON_OBJECT) dlc_die(1, "%s: bad header: not a JSON object", path);
    f->data_start = 8 + (size_t)hlen;
    size_t data_size = len - f->data_start;
    for (size_t i = 0; i < f->header->len; i++) {
        const char *key = f->header->keys[i];
        const dlc_json *e = &f->header->items[i];
        if (strcmp(key, "__metadata__") == 0) {
            if (e->kind != DLC_JSON_OBJECT) dlc_die(1, "%s: bad header: __metadata__ is not an object", path);
            for (size_t k = 0; k < e->len; k++)
                if (e->items[k].kind != DLC_JSON_STRING)
                    dlc_die(1, "%s: bad header: __metadata__ value '%s' is not a string", path, e->keys[k]);
            continue;
        }
        char why[160];
        const char *bad = check_entry(e, data_size, why, sizeof why);
        if (bad) dlc_die(1, "%s: tensor '%s' %s", path, key, bad);
    }
    check_coverage(path, f->header, data_size);
}

void dlc_st_close(dlc_st_file *f) {
    dlc_json_free(f->header);
    free(f->bytes);
    memset(f, 0, sizeof *f);
}

/* The entry of a tensor that must exist with dtype `want` and exactly these dims. */
static const dlc_json *checked_entry(const dlc_st_file *f, const char *name, const char *want, int rank,
                                     const int64_t *dims) {
    const dlc_json *e = strcmp(name, "__metadata__") ? dlc_json_get(f->header, name) : NULL;
    if (!e) dlc_die(1, "%s: missing tensor '%s'", f->path, name);
    const char *dtype = dlc_json_get(e, "dtype")->string;
    if (strcmp(dtype, want) != 0) dlc_die(1, "%s: tensor '%s' has dtype %s, expected %s", f->path, name, dtype, want);
    const dlc_json *shape = dlc_json_get(e, "shape");
    int same = (int)shape->len == rank;
    for (int d = 0; same && d < rank; d++) same = shape->items[d].uint == (uint64_t)dims[d];
    if (!same) {
        char want[160], got[160];
        int64_t have[DLC_MAX_RANK];
        int hr = shape->len > DLC_MAX_RANK ? DLC_MAX_RANK : (int)shape->len;
        for (int d = 0; d < hr; d++) have[d] = (int64_t)shape->items[d].uint;
        dlc_die(1, "%s: tensor '%s' has shape %s%s, expected %s", f->path, name, dlc_shape_string(got, sizeof got, hr, have),
                shape->len > DLC_MAX_RANK ? "..." : "", dlc_shape_string(want, sizeof want, rank, dims));
    }
    if (!host_little_endian()) dlc_die(1, "%s: reading safetensors needs a little-endian machine", f->path);
    return e;
}

static void copy_data(const dlc_st_file *f, const dlc_json *e, void *dst) {
    const dlc_json *offsets = dlc_json_get(e, "data_offsets");
    size_t begin = (size_t)offsets->items[0].uint, end = (size_t)offsets->items[1].uint;
    memcpy(dst, f->bytes + f->data_start + begin, end - begin);
}

void dlc_st_read_i64(const dlc_st_file *f, const char *name, int rank, const int64_t *dims, int64_t *dst) {
    copy_data(f, checked_entry(f, name, "I64", rank, dims), dst);
}

void dlc_st_read(const dlc_st_file *f, const char *name, int rank, const int64_t *dims, float *dst) {
    copy_data(f, checked_entry(f, name, "F32", rank, dims), dst);
    size_t count = 1;
    for (int d = 0; d < rank; d++) count *= (size_t)dims[d];
    /* NaN or inf is never a trained value: loaded, it would only make every loss NaN. */
    for (size_t i = 0; i < count; i++)
        if (!isfinite(dst[i]))
            dlc_die(1, "%s: tensor '%s' element %zu is %s (a checkpoint holds finite values only)", f->path, name, i,
                    isnan(dst[i]) ? "NaN" : dst[i] > 0 ? "inf" : "-inf");
}

void dlc_st_no_extra(const dlc_st_file *f, const char *const *names, int n) {
    for (size_t i = 0; i < f->header->len; i++) {
        const char *key = f->header->keys[i];
        if (strcmp(key, "__metadata__") == 0) continue;
        int known = 0;
        for (int k = 0; k < n && !known; k++) known = strcmp(names[k], key) == 0;
        if (!known) dlc_die(1, "%s: unexpected tensor '%s' (not part of this model)", f->path, key);
    }
}

const char *dlc_st_meta_get(const dlc_st_file *f, const char *key) {
    const dlc_json *v = dlc_json_get(dlc_json_get(f->header, "__metadata__"), key);
    return v ? v->string : NULL;
}
