/* npy.h: a minimal .npy reader for the hand-written baseline trainers.
 * Reads a C-order little-endian float32 ('<f4') or int32/int64 ('<i4'/'<i8', converted to
 * int32) array straight into one malloc'd buffer (no second copy of the file). */
#ifndef BENCH_NPY_H
#define BENCH_NPY_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    void *data;         /* float* for 'f', int32_t* for 'i' */
    char kind;          /* 'f' or 'i' */
    int ndim;
    int64_t shape[4];
    int64_t count;      /* product of shape */
} npy_array;

static void npy_die(const char *path, const char *why) {
    fprintf(stderr, "%s: %s\n", path, why);
    exit(1);
}

static npy_array npy_load(const char *path) {
    npy_array a;
    memset(&a, 0, sizeof a);
    FILE *f = fopen(path, "rb");
    if (!f) npy_die(path, "cannot open");
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) npy_die(path, "not a .npy file");
    size_t hlen;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) npy_die(path, "short header");
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)more[0] << 16) | ((size_t)more[1] << 24);
    }
    char *h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) npy_die(path, "short header");
    h[hlen] = 0;
    if (strstr(h, "'fortran_order': True")) npy_die(path, "Fortran order is not supported");
    int elem = 0;
    const char *d = strstr(h, "'descr':");
    if (!d) npy_die(path, "no descr");
    if (strstr(d, "'<f4'")) { a.kind = 'f'; elem = 4; }
    else if (strstr(d, "'<i4'")) { a.kind = 'i'; elem = 4; }
    else if (strstr(d, "'<i8'")) { a.kind = 'i'; elem = 8; }
    else npy_die(path, "dtype must be <f4, <i4 or <i8");
    const char *s = strstr(h, "'shape':");
    if (!s || !(s = strchr(s, '('))) npy_die(path, "no shape");
    s++;
    a.count = 1;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        if (a.ndim == 4) npy_die(path, "more than 4 dims");
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s) npy_die(path, "bad shape");
        a.shape[a.ndim++] = v;
        a.count *= v;
        s = end;
    }
    free(h);
    a.data = malloc((size_t)a.count * 4 + 64);
    if (!a.data) npy_die(path, "out of memory");
    if (elem == 4) {
        if (fread(a.data, 4, (size_t)a.count, f) != (size_t)a.count) npy_die(path, "short data");
    } else {
        int32_t *out = a.data;
        int64_t buf[4096];
        for (int64_t i = 0; i < a.count;) {
            size_t want = (size_t)(a.count - i < 4096 ? a.count - i : 4096);
            if (fread(buf, 8, want, f) != want) npy_die(path, "short data");
            for (size_t k = 0; k < want; k++) out[i + (int64_t)k] = (int32_t)buf[k];
            i += (int64_t)want;
        }
    }
    fclose(f);
    return a;
}
#endif
