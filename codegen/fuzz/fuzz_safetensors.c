/* fuzz_safetensors.c: a params checkpoint through dlc_load_params and dlc_load_norms, as
 * --init, --weights and --resume read one. An input is the whole file. */
#include "fuzz_support.h"

static const char *path;

static void load(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    const dlc_model *m = &dlc_fuzz_model;
    dlc_layout l;
    dlc_layout_make(m, &l);
    float *params = dlc_xcalloc((size_t)l.total, sizeof *params);
    dlc_st_file f;
    dlc_load_params(m, &l, params, NULL, path, &f); /* the fuzz model has no state */
    dlc_norms nz;
    dlc_load_norms(m, &m->config, &f, &nz);
    dlc_st_close(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    path = dlc_fuzz_file("params.safetensors", data, size);
    dlc_fuzz_run(load, data, size);
    return 0;
}
