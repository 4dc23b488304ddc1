/* fuzz_gzip.c: the gzip reader (dlc_reader.c) under an IDX file. An input is an IDX file's
 * bytes after a control byte that says how to compress them:
 *   bit 0:    the tensor (x, f32 with 3 values per example; else y, i32 labels)
 *   bits 1-2: one member; two members split at the middle; one member then the last
 *             (control >> 3) bytes of the input again, uncompressed (garbage); one member
 *             cut short by (control >> 3) bytes
 * The same file is read twice: streamed by dlc_load_idx, and whole by dlc_read_file (as CSV
 * text is). */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

static const char *path;
static int tensor;

static void load(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    dlc_loaded out;
    dlc_load_idx(&dlc_fuzz_model, path, tensor, &out);
}

static void load_whole(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    size_t n;
    const char *why;
    dlc_read_file(path, &n, &why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned control = data[0], extra = control >> 3;
    const uint8_t *idx = data + 1;
    size_t n = size - 1, n_whole, n_head, n_tail;
    tensor = control & 1 ? 0 : 1;
    unsigned char *whole = dlc_fuzz_gzip(idx, n, &n_whole);
    unsigned char *head = dlc_fuzz_gzip(idx, n / 2, &n_head), *tail = dlc_fuzz_gzip(idx + n / 2, n - n / 2, &n_tail);
    unsigned char *file = malloc(n_whole + n_head + n_tail + extra + 1);
    size_t len = 0, garbage = extra < n ? extra : n;
    switch ((control >> 1) & 3) {
    case 0: /* one member */
        memcpy(file, whole, len = n_whole);
        break;
    case 1: /* two members */
        memcpy(file, head, n_head);
        memcpy(file + n_head, tail, n_tail);
        len = n_head + n_tail;
        break;
    case 2: /* one member, then garbage */
        memcpy(file, whole, n_whole);
        memcpy(file + n_whole, idx + n - garbage, garbage);
        len = n_whole + garbage;
        break;
    default: /* one member, cut short */
        len = extra < n_whole ? n_whole - extra : 0;
        memcpy(file, whole, len);
        break;
    }
    path = dlc_fuzz_file("data.idx.gz", file, len);
    dlc_fuzz_run(load, data, size);
    dlc_fuzz_run(load_whole, data, size);
    free(whole);
    free(head);
    free(tail);
    free(file);
    return 0;
}
