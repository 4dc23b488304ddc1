/* fuzz_metadata.c: checkpoint metadata. An input is JSON text: first parsed alone by
 * dlc_json_parse (the parser of every safetensors header), then used as the __metadata__
 * object of a params file and of its optimizer file, both otherwise valid for the fuzz model,
 * and read back as --resume reads them: dlc_load_params, dlc_load_norms, dlc_checkpoint_partner
 * (the pair's step and params hash), dlc_load_optim. */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

static char params_path[600];

static void parse(const uint8_t *data, size_t size) {
    char err[160];
    dlc_json *v = dlc_json_parse((const char *)data, size, err, sizeof err);
    if (v) dlc_json_free(v);
}

static void resume(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    const dlc_model *m = &dlc_fuzz_model;
    dlc_layout l;
    dlc_layout_make(m, &l);
    float *params = dlc_xcalloc((size_t)l.total, sizeof *params);
    dlc_st_file f;
    dlc_load_params(m, &l, params, NULL, params_path, &f); /* the fuzz model has no state */
    dlc_norms nz;
    dlc_load_norms(m, &m->config, &f, &nz);
    dlc_st_close(&f);
    char *optim_path = dlc_checkpoint_partner(m, params_path);
    dlc_optimizer opt;
    dlc_optim_init(&opt, &m->config.optimizer, l.total);
    dlc_progress p;
    memset(&p, 0, sizeof p);
    dlc_load_optim(m, &l, &opt, &p, optim_path);
}

/* A safetensors file of the fuzz model's tensors (named with `suffix`), zeros, whose header
 * holds `meta` as its __metadata__. */
static void write_checkpoint(const char *name, const char *suffix, const uint8_t *meta, size_t meta_len) {
    static const char *const names[] = {"w", "b", "s"};
    static const char *const shapes[] = {"[2,3]", "[3]", "[]"};
    static const int bytes[] = {24, 12, 4};
    dlc_str h = {0};
    dlc_str_add(&h, "{\"__metadata__\":");
    size_t at = h.len;
    dlc_str_add(&h, "%*s", (int)meta_len, "");
    memcpy(h.s + at, meta, meta_len);
    int offset = 0;
    for (int i = 0; i < 3; i++) {
        dlc_str_add(&h, ",\"%s%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}", names[i], suffix, shapes[i],
                    offset, offset + bytes[i]);
        offset += bytes[i];
    }
    dlc_str_add(&h, "}");
    while (h.len % 8) dlc_str_add(&h, " ");
    size_t total = 8 + h.len + (size_t)offset;
    unsigned char *file = calloc(1, total);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    memcpy(file + 8, h.s, h.len);
    const char *path = dlc_fuzz_file(name, file, total);
    if (!suffix[0]) snprintf(params_path, sizeof params_path, "%s", path);
    free(file);
    free(h.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dlc_fuzz_run(parse, data, size);
    if (size > (1u << 16)) return 0;
    write_checkpoint("ckpt.safetensors", "", data, size);
    write_checkpoint("ckpt.optim.safetensors", ".momentum_buffer", data, size);
    dlc_fuzz_run(resume, data, size);
    return 0;
}
