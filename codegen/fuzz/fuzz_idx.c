/* fuzz_idx.c: IDX files through dlc_load_idx, as they are on disk (so a seed that is a gzip
 * stream exercises the compressed path too; fuzz_gzip.c varies the compression itself). The
 * first byte of an input picks the tensor (bit 0: x, f32 with 3 values per example; else y,
 * i32 labels in [0, 4)); the rest is the file. */
#include "fuzz_support.h"

static const char *path;
static int tensor;

static void load(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    dlc_loaded out;
    dlc_load_idx(&dlc_fuzz_model, path, tensor, &out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    tensor = data[0] & 1 ? 0 : 1;
    path = dlc_fuzz_file("data.idx", data + 1, size - 1);
    dlc_fuzz_run(load, data, size);
    return 0;
}
