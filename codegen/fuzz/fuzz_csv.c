/* fuzz_csv.c: CSV files through dlc_load_dataset, with x and y bound to one file as --data
 * binds them. The first byte of an input picks the binding, the rest is the file:
 *   bits 0-1: the columns: implicit; header names (x: a-c, y: label); indices (x: 0-2,
 *             y: 3); x by a list (0,1,2) and y implicit
 *   bit 2:    y optional, as predict reads targets
 *   bit 3:    the file gzip-compressed (.csv.gz) */
#include "fuzz_support.h"

#include <stdlib.h>

static dlc_source sources[2];
static int want[2];

static void load(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    dlc_dataset ds;
    dlc_load_dataset(&dlc_fuzz_model, sources, want, &ds);
    dlc_dataset_free(&dlc_fuzz_model, &ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const specs[4][2] = {{NULL, NULL}, {"a-c", "label"}, {"0-2", "3"}, {"0,1,2", NULL}};
    unsigned mode = data[0];
    const char *path;
    if (mode & 8) {
        size_t n;
        unsigned char *gz = dlc_fuzz_gzip(data + 1, size - 1, &n);
        path = dlc_fuzz_file("data.csv.gz", gz, n);
        free(gz);
    } else {
        path = dlc_fuzz_file("data.csv", data + 1, size - 1);
    }
    for (int t = 0; t < 2; t++) sources[t] = (dlc_source){path, specs[mode & 3][t]};
    want[0] = 1;
    want[1] = mode & 4 ? 2 : 1;
    dlc_fuzz_run(load, data, size);
    return 0;
}
