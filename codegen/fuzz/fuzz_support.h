/* fuzz_support.h: what the fuzz targets share (codegen/fuzz/, built by scripts/fuzz.sh).
 *
 * Each target is one libFuzzer entry point that hands its input to a public reader of the
 * runtime (dlc_load_csv, dlc_st_open, dlc_parse_args, ...) through dlc_fuzz_run. */
#ifndef DLC_FUZZ_SUPPORT_H
#define DLC_FUZZ_SUPPORT_H
/* First: it sets the POSIX feature macro for every system header. scripts/fuzz.sh puts the
 * runtime's folders on the include path. */
#include "dlc_runtime.h"

/* The model the targets read for: inputs x f32[N, 3] (normalized) and y i32[N] labels of 4
 * classes; params w f32[2, 3], b f32[3] and a scalar s; SGD with momentum (so an optimizer
 * checkpoint holds NAME.momentum_buffer). Its kernels are never called. */
extern const dlc_model dlc_fuzz_model;

/* Runs body(data, size) as a command would, but in this process: when the runtime calls
 * exit() (every refused input does), control comes back here; then whatever the call left
 * allocated or open is released, as the end of a process would. Returns the exit code, or -1
 * when body returned. */
int dlc_fuzz_run(void (*body)(const uint8_t *data, size_t size), const uint8_t *data, size_t size);

/* Writes bytes to a file named `name` in this process's scratch folder; returns its path
 * (valid until the next call with the same name). */
const char *dlc_fuzz_file(const char *name, const void *data, size_t size);

/* `size` bytes as a gzip stream (one member), into a buffer the caller frees. */
unsigned char *dlc_fuzz_gzip(const void *data, size_t size, size_t *out_size);

#endif
