/* dlc_runtime.h: what the runtime's files share with each other (generated code never sees it).
 *
 * The table of contents of the runtime, one banner per file. Every runtime .c file includes
 * this header first, so that the POSIX feature macro below precedes every system header.
 */
#ifndef DLC_RUNTIME_H
#define DLC_RUNTIME_H
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "dlc_comm.h"
#include "dlc_device.h"
#include "dlc_model.h"

#define DLC_PI 3.14159265358979323846

/* ==== dlc_util.c: errors, memory, clocks ================================================== */

/* The largest count (epochs, steps, a batch, rows, updates) a flag or a checkpoint may give:
 * 2^53, up to which every integer is exact as a double; a sum of two such counts stays far
 * from int64 overflow, so the training loop's arithmetic cannot overflow. */
#define DLC_MAX_COUNT 9007199254740992LL

/* Prints "error: MESSAGE" to stderr and exits with `code` (1 data/checkpoint, 2 flag). */
_Noreturn void dlc_die(int code, const char *fmt, ...);
/* ==== dlc_data_report.c: located data errors, collapsed, with notes ========================= */

/* Records "FILE:LINE:COL: error: MESSAGE" (LINE/COL omitted when 0); the same message in the
 * same file and column again is one more row of it. After too many distinct errors, prints
 * them and stops the program. Loading goes on to report more, then dlc_stop_on_data_errors()
 * prints them (each once, with its repeats counted and notes after it) and exits 1. */
void dlc_data_error(const char *file, int64_t line, int64_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A note printed after the error just recorded (once per file, however often it applies). */
void dlc_data_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A note after the first error of `file` not yet printed: the cause of all of them (a separator). */
void dlc_data_file_note(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dlc_data_error_count(void);
/* Forgets the errors counted so far (for a process that reads many files: the fuzz targets). */
void dlc_data_errors_reset(void);
void dlc_stop_on_data_errors(void);
/* The index of the name closest to name[0..len) (a typo or a prefix of it), or -1. */
int dlc_nearest_name(const char *name, size_t len, const char *const *names, const size_t *lens, int n);
/* ';', '\t' or '|' when a CSV line has no ',' but one of those (the likely separator), else 0. */
char dlc_other_separator(const char *line, size_t len);
/* Notes for a bad value of an i32 tensor (a field of len bytes; v when is_number): class
 * names in a label column, labels numbered from 1, fractions. */
void dlc_data_value_note(const dlc_data_desc *d, size_t len, int is_number, double v);

void *dlc_xmalloc(size_t bytes);
void *dlc_xcalloc(size_t count, size_t size);
void *dlc_xrealloc(void *p, size_t bytes);
char *dlc_xstrdup(const char *s);
/* 64-byte aligned, at least one byte; free with free(). */
void *dlc_aligned_alloc(size_t bytes);
/* n * size with overflow checked (exits 1 on overflow). */
size_t dlc_mul_size(size_t n, size_t size);

/* Exits 2 with "FLAG: cannot write 'PATH': REASON" unless path can be written: replaced
 * through a temporary file beside it (in_place 0: --save, --out, --plot, --save-best), or
 * appended to or created (in_place 1: --log); a directory cannot. Creates nothing that stays:
 * dlc_parse_args runs it, so a file written after an epoch is checked before the first. */
void dlc_check_writable(const char *flag, const char *path, int in_place);
/* SIGINT (Ctrl-C) and SIGTERM only set dlc_stop_signal (to the signal's number), so that a
 * command can finish what it is writing, save, and exit with dlc_stop_status(): 130 or 143. */
void dlc_catch_stop_signals(void);
extern volatile sig_atomic_t dlc_stop_signal;
int dlc_stop_status(void);
/* "interrupted" (SIGINT) or "terminated" (SIGTERM), for the last message. */
const char *dlc_stop_word(void);
/* fflush(stdout), remembering why the first failed flush failed. */
void dlc_flush_stdout(void);
/* Flushes stdout; a write that failed there (a full disk, /dev/full) is reported and turns a
 * status of 0 into 1. main returns through it. */
int dlc_finish_stdout(int status);
double dlc_now(void);
/* The cores this process may run on (its affinity mask where the system has one). */
int dlc_cpu_count(void);
int dlc_ends_with(const char *s, const char *suffix);
/* Appends to a growable string. */
typedef struct { char *s; size_t len, cap; } dlc_str;
void dlc_str_add(dlc_str *b, const char *fmt, ...);
/* `rank` dims as "[a, b]" into buf. */
const char *dlc_shape_string(char *buf, size_t cap, int rank, const int64_t *dims);

/* ==== dlc_reader.c: files read front to back, plain or gzip ================================== */

/* A file read front to back, plain or gzip-compressed (one or more members; anything after
 * the last one is refused), so that a loader can read a header and then put the data where
 * it belongs, with no copy of the whole file in between. */
struct dlc_inflate;
typedef struct {
    int fd;                  /* -1 once closed */
    const char *path;
    int compressed;          /* a gzip stream (else plain bytes) */
    uint64_t file_bytes;     /* size on disk; 0 when not a regular file */
    uint64_t size_hint;      /* expected data bytes (plain: the size; gzip: its trailer's), or 0 */
    uint64_t consumed;       /* data bytes read so far */
    int failed, at_end;
    char reason[128];        /* why it failed */
    struct dlc_inflate *gz;  /* a gzip stream's inflate state */
    unsigned char ahead[2];  /* the first bytes, read to look for gzip's magic */
    int ahead_len, ahead_used;
} dlc_reader;

/* 0 with *why (strerror) when the file cannot be opened. */
int dlc_reader_open(dlc_reader *r, const char *path, const char **why);
/* Up to n bytes; fewer only at the end of the data or on a failure (r->failed). */
size_t dlc_reader_read(dlc_reader *r, void *buf, size_t n);
/* An upper bound on the data bytes still to come (exact for a plain file). */
uint64_t dlc_reader_left(const dlc_reader *r);
/* How many of `count` elements of `bytes` bytes each to allocate before reading them: all of
 * them when the file surely holds them (a plain file), else what a gzip trailer promises (at
 * least 2^20), so that a forged count in a small stream allocates little; grow as they come. */
size_t dlc_reader_capacity(const dlc_reader *r, size_t count, size_t bytes);
/* Up to n bytes into a new buffer that grows with what arrives (a NUL follows them). */
void *dlc_reader_read_grow(dlc_reader *r, size_t n, size_t *got);
/* Skips to the end of the data; returns how many bytes that was (a gzip stream is inflated to
 * its end, so its damage shows in r->failed). */
uint64_t dlc_reader_skip_rest(dlc_reader *r);
/* Closes the file; a gzip stream is first read to its end, since damage anywhere in it must
 * refuse the file. NULL, or why the file could not be read. Closing twice is harmless. */
const char *dlc_reader_close(dlc_reader *r);
/* dlc_reader_close, exiting 1 with "error: PATH: REASON" when the file could not be read:
 * loaders call it before reporting anything about the contents. */
void dlc_reader_finish(dlc_reader *r);
/* A problem with the contents of r's file, "PATH: error: MESSAGE" (dlc_data_error), reported
 * after dlc_reader_finish: a damaged gzip stream is refused as such, whatever its header says. */
void dlc_reader_data_error(dlc_reader *r, const char *fmt, ...);
/* Whole file, plain or gzip-compressed, in one buffer (sized from the file's size, or from a
 * gzip trailer's). NULL on failure with a reason in *why (a static string or strerror). A NUL
 * follows the data. */
unsigned char *dlc_read_file(const char *path, size_t *size, const char **why);

/* ==== dlc_json.c: a small strict JSON parser (RFC 8259) for safetensors headers ============= */

typedef enum { DLC_JSON_NULL, DLC_JSON_BOOL, DLC_JSON_NUMBER, DLC_JSON_STRING, DLC_JSON_ARRAY, DLC_JSON_OBJECT } dlc_json_kind;

typedef struct dlc_json {
    dlc_json_kind kind;
    int boolean;
    double number;
    int is_uint;              /* the literal was a plain non-negative integer below 2^64 */
    uint64_t uint;            /* its exact value */
    char *string;             /* NUL-terminated, UTF-8 */
    size_t len;               /* string: bytes; array/object: items */
    struct dlc_json *items;   /* array elements or object values */
    char **keys;              /* object keys (unique) */
} dlc_json;

/* Parses text[0..len) as one JSON value. Returns NULL with a message in err on failure. */
dlc_json *dlc_json_parse(const char *text, size_t len, char *err, size_t errcap);
void dlc_json_free(dlc_json *v);
/* 1 when the whole of s, with no white space, is one JSON number (`-12.5e3`; not `+1`, `0x10`,
 * `.5`, `01`, `inf`); out gets its double (±inf when it overflows) and, for a plain
 * non-negative integer below 2^64, its exact value (is_uint). */
int dlc_json_number(const char *s, dlc_json *out);
const dlc_json *dlc_json_get(const dlc_json *obj, const char *key);
/* Appends s as a JSON string literal. */
void dlc_json_add_string(dlc_str *b, const char *s);

/* ==== dlc_cli.c: the command line =========================================================== */

typedef enum { DLC_CMD_TRAIN, DLC_CMD_EVAL, DLC_CMD_PREDICT, DLC_CMD_INFO, DLC_CMD_GRADCHECK } dlc_command;

/* Where one data tensor comes from. */
typedef struct {
    const char *path;     /* NULL: not bound */
    const char *columns;  /* a COLUMNS spec, or NULL for the implicit layout */
} dlc_source;

typedef struct {
    dlc_command command;
    const char *program;
    dlc_train_config cfg;     /* the model's train block with every flag applied */
    const char *data;         /* --data, or the train block's data */
    const char *val;          /* --val */
    dlc_source *inputs;       /* --input, per data tensor (path NULL when not given) */
    const char *init, *save, *resume, *weights, *log, *out;
    const char *init_map;     /* --init-map: how --init's or --weights' names map to params (dlc_init_map.c) */
    const char *plot;         /* --plot FILE.svg: the chart, rewritten after every epoch */
    const char *save_best;    /* --save-best P: the params of the epoch with the lowest watched loss */
    int threads;              /* 0: OpenBLAS's default */
    int device;               /* --device N; -1: the device's default */
    int64_t max_steps;        /* --steps; -1 when not given */
    int epochs_given, lr_given, seed_given;
} dlc_options;

/* Parses argv; exits 0 after --help and 2 on a bad flag. */
void dlc_parse_args(const dlc_model *m, int argc, char **argv, dlc_options *o);

/* ==== dlc_params.c: param storage and initialisation (docs/rng.md, stream init) ============ */

/* All params in one float block, each param a slice; the same layout serves gradients and
 * optimizer state, so optimizers run over one flat array. */
typedef struct {
    int64_t total;       /* floats in all params */
    int64_t *offset;     /* per param */
} dlc_layout;

void dlc_layout_make(const dlc_model *m, dlc_layout *l);
/* Per-param pointers into a block laid out by l. */
float **dlc_layout_views(const dlc_model *m, const dlc_layout *l, float *block);
void dlc_init_params(const dlc_model *m, const dlc_layout *l, float *params, uint64_t seed);
const char *dlc_init_string(char *buf, size_t cap, const dlc_init *init);

/* ==== dlc_data*.c: data sets ================================================================ */

/* Where one data tensor's examples came from, for messages about a row long after loading
 * (a normalized value that f32 cannot hold, an index computed from the row). */
typedef struct {
    const char *path;     /* the file (NULL: not loaded) */
    int64_t *lines;       /* CSV: the physical line of each example; NULL: .npy/IDX (row = example) */
    int64_t *fields;      /* CSV: the 1-based field of each element of an example; else NULL */
    char **names;         /* CSV with a header: the column name of each element; else NULL */
} dlc_origin;

/* n examples; per data tensor one contiguous buffer of n * size elements (NULL: not loaded). */
typedef struct {
    int64_t n;
    void **cols;
    int64_t *example;     /* each row's example (0-based, in file order); NULL: row i is example i */
    void **dev;           /* per data tensor, its rows on the device (dlc_dataset_to_device); NULL: none */
    dlc_origin *origin;   /* per data tensor; NULL: unknown. Shared with subsets (the owner frees) */
    int owns_origin;
} dlc_dataset;

/* One tensor's values as loaded from one file, before the lengths are compared. */
typedef struct {
    int64_t n;
    void *values;
    int64_t *lines;       /* CSV: the physical line of each row (for located errors); else NULL */
    int64_t *fields;      /* CSV: the 1-based field of each element; else NULL */
    char **names;         /* CSV with a header: each element's column name; else NULL */
} dlc_loaded;
/* The end of a loader's block-by-block read of values into `out`: a short read (reported with
 * the loader's `truncated` message), the first bad value (`bad`, "" for none) or bytes after
 * the values the header described stop the trainer; otherwise the file is closed. */
void dlc_reader_end_values(dlc_reader *r, dlc_loaded *out, int short_read, const char *truncated, const char *bad);

/* Which tensors to load: `want[i]` 1 = required, 2 = optional (targets in predict: loaded
 * only if the file has their columns), 0 = skip. Exits 1 on bad data. */
void dlc_load_dataset(const dlc_model *m, const dlc_source *src, const int *want, dlc_dataset *ds);
void dlc_load_csv(const dlc_model *m, const char *path, const int *tensors, const char *const *specs,
                  const int *optional, int k, dlc_loaded *out);
void dlc_load_npy(const dlc_model *m, const char *path, int tensor, dlc_loaded *out);
void dlc_load_idx(const dlc_model *m, const char *path, int tensor, dlc_loaded *out);
/* Checks one value for tensor t (f32 finite; i32 integral, in range, below classes). Returns
 * NULL when fine, else the message. v is the value read as a double. */
const char *dlc_check_value(const dlc_data_desc *d, double v, char *buf, size_t cap);
/* dlc_check_value(d, v, ...) == NULL, without the message: for the loaders' tight loops. */
static inline int dlc_value_ok(const dlc_data_desc *d, double v) {
    if (d->dtype == DLC_F32) return fabs(v) <= FLT_MAX; /* false for NaN and infinities */
    return v == floor(v) && v >= -2147483648.0 && v <= 2147483647.0 &&
           (d->classes <= 0 || (v >= 0 && v < (double)d->classes));
}
int dlc_is_idx_path(const char *path);

/* A problem with element `element` of data tensor t in row `row` of ds, located in the file it
 * came from: "FILE:LINE:FIELD: error: MESSAGE in column 'NAME' (TENSOR)" for CSV, "FILE: error:
 * row R, element E: MESSAGE (TENSOR)" for .npy/IDX (R from 0, as their loaders count). With
 * t < 0 the message is about the row as a whole ("FILE:LINE: error: MESSAGE"), located in the
 * first file that holds it and naming the others. Counted as a data error. */
void dlc_row_error(const dlc_model *m, const dlc_dataset *ds, int64_t row, int t, int64_t element, const char *fmt, ...);

/* Rows idx[0..k) of ds, copied into a new data set. */
void dlc_dataset_subset(const dlc_model *m, const dlc_dataset *ds, const int64_t *idx, int64_t k, dlc_dataset *out);
/* Keeps rows idx[0..k) of ds (ascending), in place: no second copy of the data. */
void dlc_dataset_keep(const dlc_model *m, dlc_dataset *ds, const int64_t *idx, int64_t k);
void dlc_dataset_free(const dlc_model *m, dlc_dataset *ds);
/* The seeded validation split: sorted training and validation row indices. */
void dlc_split(int64_t n, double fraction, uint64_t seed, int64_t **train, int64_t *n_train,
               int64_t **val, int64_t *n_val);

/* ==== dlc_normalize.c: z-scores per feature ================================================= */

typedef struct {
    int tensor;          /* index into model->data */
    float *mean, *std;   /* per-example size each */
} dlc_norm;

typedef struct {
    int count;
    dlc_norm *items;
} dlc_norms;

/* Statistics of each listed input over ds's rows (population std; 1 for a constant feature). */
void dlc_norm_compute(const dlc_model *m, const dlc_train_config *cfg, const dlc_dataset *ds, dlc_norms *out);
/* (x - mean) / std in double, rounded to f32; a value f32 cannot hold (a row far outside the
 * statistics, e.g. a validation row) is reported at its row and column, and exits 1. */
void dlc_norm_apply(const dlc_model *m, const dlc_norms *nz, dlc_dataset *ds);

/* ==== dlc_batch.c: minibatches ============================================================== */

/* Where a batch's rows were read from: a data set, rows order[start..start+count) (order
 * NULL: rows start..). */
typedef struct {
    const dlc_dataset *ds;
    const int64_t *order;
    int64_t start, count;
} dlc_batch_rows;

/* One batch's rows, as the kernels see them (device memory) and as the host sees them. */
typedef struct {
    int n_data;
    const void **ptr;    /* what dlc_step.data points to */
    void **gather;       /* host buffers for rows in a shuffled order, made when first needed */
    void **dev;          /* device buffers (a device whose memory is not the host's) */
    int64_t max_rows;
    /* Streaming (the rows stay on the host of a device that is not): two slots of page-locked
     * host rows and their device buffers; while one slot's batch is in a step, the next batch
     * is copied into the other. */
    void **staged[2], **staged_dev[2];
    int slot;                 /* the slot of the batch handed out last */
    dlc_batch_rows last;      /* that batch (last.ds NULL: none yet) */
    dlc_batch_rows ahead;     /* the batch copied ahead into slot 1 - slot (ahead.ds NULL: none) */
    int64_t *ahead_order;     /* its rows' entries of order, when it had one */
} dlc_batch;

/* On a device whose memory is not the host's: ds's rows copied there once, when they fit
 * (dlc_device_can_hold), so that each batch is gathered on the device; the host rows must not
 * change after. Nothing on the host device, or when the rows do not fit (batches then stream
 * over). dlc_dataset_off_device frees the copy (before dlc_dataset_free). */
void dlc_dataset_to_device(const dlc_model *m, dlc_dataset *ds);
void dlc_dataset_off_device(const dlc_model *m, dlc_dataset *ds);
/* A batch of at most max_rows rows per fill. */
void dlc_batch_init(const dlc_model *m, int64_t max_rows, dlc_batch *b);
/* Rows order[start..start+count) of ds (order NULL: rows start.., passed in place on the host);
 * they become the batch of the next step (dlc_rows_current). */
void dlc_batch_fill(const dlc_model *m, const dlc_dataset *ds, const int64_t *order, int64_t start,
                    int64_t count, dlc_batch *b);
void dlc_batch_free(dlc_batch *b);

/* ==== dlc_safetensors.c: the file format ==================================================== */

typedef struct {
    const char *name;
    int rank;
    const int64_t *dims;
    const void *data;          /* little-endian values of `dtype` */
    const char *dtype;         /* "F32" (NULL means it too) or "I64" */
} dlc_st_tensor;

typedef struct {
    const char *key, *value;
} dlc_st_meta;

/* Writes an F32 safetensors file through a temporary file and rename(); exits 1 on failure. */
void dlc_st_write(const char *path, const dlc_st_tensor *t, int nt, const dlc_st_meta *meta, int nm);
/* The same file under a temporary name beside path (PATH.tmp-PID), flushed to disk (fsync):
 * returns that name for the caller to rename, or NULL with *err = errno, leaving nothing. */
char *dlc_st_write_temp(const char *path, const dlc_st_tensor *t, int nt, const dlc_st_meta *meta, int nm, int *err);

/* A file read whole and validated: every entry's dtype, shape and offsets. */
typedef struct {
    const char *path;
    unsigned char *bytes;
    size_t size;
    size_t data_start;
    dlc_json *header;
} dlc_st_file;

/* Reads and checks path; a defect exits 1 with a message naming the path. */
void dlc_st_open(const char *path, dlc_st_file *f);
void dlc_st_close(dlc_st_file *f);
/* A tensor that must exist, be F32, have exactly these dims and hold only finite values;
 * copied into dst. */
void dlc_st_read(const dlc_st_file *f, const char *name, int rank, const int64_t *dims, float *dst);
/* The same for an I64 tensor (num_batches_tracked), read into int64 values. */
void dlc_st_read_i64(const dlc_st_file *f, const char *name, int rank, const int64_t *dims, int64_t *dst);
/* Exits 1 naming the first tensor not in names[0..n). */
void dlc_st_no_extra(const dlc_st_file *f, const char *const *names, int n);
/* A __metadata__ string, or NULL. */
const char *dlc_st_meta_get(const dlc_st_file *f, const char *key);

/* ==== dlc_checkpoint.c: params, normalize statistics and training state in files ============ */

/* The optimizer/schedule/progress state that --resume restores. */
typedef struct {
    int64_t step;            /* updates so far */
    int64_t epoch;           /* completed epochs */
    int64_t epoch_batches;   /* micro-batches done in the epoch under way */
    double epoch_loss_sum;   /* sum of loss * rows over those micro-batches */
    int64_t epoch_rows;
    uint64_t shuffle_state;  /* the shuffle stream at the start of the epoch under way */
    uint64_t seed;
    double lr;               /* the current learning rate */
    int64_t sched_epoch;     /* the scheduler's last_epoch */
    double sched_best;
    int64_t sched_bad_epochs;
    double watch_best;       /* --save-best and early stopping (dlc_watch): the lowest watched loss, */
    int64_t watch_best_epoch; /* its epoch, the last loss that improved by more than min_delta and */
    double watch_stop_best;  /* the epochs since; INFINITY, 0, INFINITY, 0 before any epoch */
    int64_t watch_bad_epochs;
} dlc_progress;

typedef struct dlc_optimizer dlc_optimizer;

/* Writes the checkpoint pair, P = path and P.optim.safetensors, so that a crash at any moment
 * leaves the old pair or the new one (dlc_checkpoint.c's commit: both written to temporary
 * files and flushed first; the old optimizer file kept as P.optim.prev.safetensors until the
 * params are in place). Exits 1 on a write error, the old pair intact. */
void dlc_save_checkpoint(const dlc_model *m, const dlc_layout *l, const float *params, void *const *state,
                         const dlc_norms *nz, const dlc_optimizer *opt, const dlc_progress *p, const char *path);
/* A params file alone (no optimizer state: --save-best), through a temporary file and
 * rename(); exits 1 on a write error, the old file intact. */
void dlc_save_params(const dlc_model *m, const dlc_layout *l, const float *params, void *const *state,
                     const dlc_norms *nz, const char *path, int64_t step);
/* Reads every param and every state tensor (strictly) into params and state (the params file
 * holds the state too: running statistics F32, num_batches_tracked I64); returns the file for
 * metadata look-ups. */
void dlc_load_params(const dlc_model *m, const dlc_layout *l, float *params, void *const *state, const char *path,
                     dlc_st_file *f);
/* State tensor d from the file's tensor `name` (F32; an i32 counter from I64, 0..2^31-1) into dst. */
void dlc_read_state(const dlc_st_file *f, const dlc_state_desc *d, const char *name, void *dst);
/* The "dlc.step" of a params file (exits 1 when it lacks one or it is not a count). */
int64_t dlc_checkpoint_step(const dlc_st_file *f);
/* The optimizer file that pairs with params file P (the same dlc.step, and a dlc.params_hash
 * equal to P's params' hash): P.optim.safetensors, or P.optim.prev.safetensors after a save
 * interrupted in its commit (with a note on stderr). Reads all of P; exits 1 naming the files
 * when neither pairs. */
char *dlc_checkpoint_partner(const dlc_model *m, const char *params_path);
/* The seed of the run saved in an optimizer file. */
uint64_t dlc_checkpoint_seed(const char *optim_path);
/* ==== dlc_init_map.c: --init / --weights with names mapped (--init-map) ===================== */
/* dlc_load_params with path's names mapped by `map` (NULL: as they are; 'FROM=TO,...': prefix
 * renames; "position": state_dict order against declaration order). A mismatch exits 1 listing
 * the file's tensors and the model's params; `flag` is the flag that named the file. */
void dlc_load_params_mapped(const dlc_model *m, const dlc_layout *l, float *params, void *const *state, const char *path,
                            const char *map, const char *flag, dlc_st_file *f);
/* Reads normalize statistics from a params file's metadata (exits 1 when missing; a mean must
 * be a finite f32, a std a positive normal f32). */
void dlc_load_norms(const dlc_model *m, const dlc_train_config *cfg, const dlc_st_file *f, dlc_norms *nz);
/* Reads optimizer state and progress from an optimizer file (the one dlc_checkpoint_partner
 * chose). */
void dlc_load_optim(const dlc_model *m, const dlc_layout *l, dlc_optimizer *opt, dlc_progress *p, const char *path);
/* P with ".safetensors" replaced by ".optim.safetensors" (appended when P lacks it). */
char *dlc_optim_path(const char *params_path);

/* ==== dlc_optim.c: optimizers and learning-rate schedules (torch.optim's formulas) ========= */

struct dlc_optimizer {
    dlc_optimizer_config cfg;
    double lr;               /* the current learning rate (the schedule changes it) */
    int64_t step;            /* updates done */
    int n_slots;             /* state tensors per param: sgd+momentum 1, adam(w) 2, adagrad 1 */
    const char *slot_names[2];
    float *dev_slot[2];      /* each laid out like the params, on the device */
    float *slot[2];          /* their host copies, for checkpoints (the same memory on the host) */
    int64_t total;
};

void dlc_optim_init(dlc_optimizer *o, const dlc_optimizer_config *cfg, int64_t total);
int dlc_optim_slots(const dlc_optimizer_config *cfg);
/* One update of the params (device memory) with the gradients (device memory). */
void dlc_optim_update(dlc_optimizer *o, float *params, const float *grads);
/* The state between the device and its host copies (before a save, after a load). */
void dlc_optim_to_host(dlc_optimizer *o);
void dlc_optim_to_device(dlc_optimizer *o);
const char *dlc_optim_name(dlc_opt_kind k);

typedef struct {
    dlc_schedule_config cfg;
    double base_lr;
    int64_t last_epoch;
    double best;             /* reduce_on_plateau */
    int64_t bad_epochs;
} dlc_schedule;

void dlc_sched_init(dlc_schedule *s, const dlc_schedule_config *cfg, double base_lr, int64_t epochs);
/* One epoch ended: returns the learning rate for the next; `watched` is the plateau's loss. */
double dlc_sched_step(dlc_schedule *s, double lr, double watched);

/* ==== dlc_metrics.c: loss averages and metrics ============================================== */

typedef struct {
    double loss_sum;         /* sum of batch loss * batch rows */
    int64_t rows;
    double correct, predictions;   /* accuracy */
    double err_sum;          /* mse: squared, mae: absolute errors */
    int64_t elements;
} dlc_metrics;

/* Checks that the metric can be computed for this model (exits 2 naming the flag otherwise). */
void dlc_metric_check(const dlc_model *m, dlc_metric_kind metric);
/* Adds one evaluated batch: its loss, outputs and targets (host memory). */
void dlc_metrics_add(const dlc_model *m, dlc_metric_kind metric, dlc_metrics *acc, int64_t n, float loss,
                     void *const *outputs, const void *const *data);
/* dlc_metrics_add in two parts, for outputs on the device: the loss and the counts of
 * predictions or elements here, and the metric's sum (dlc_metrics_sum) through
 * dlc_device_count with the batch's dlc_metric_count. */
void dlc_metrics_tally(const dlc_model *m, dlc_metric_kind metric, dlc_metrics *acc, int64_t n, float loss);
dlc_count dlc_metric_count(const dlc_model *m, dlc_metric_kind metric, int64_t n);
double *dlc_metrics_sum(dlc_metrics *acc, dlc_metric_kind metric);
/* dlc_device_count's loop in host memory (the host device's, and dlc_metrics_add's). */
void dlc_count_host(const dlc_count *c, const void *output, const void *target, double *sum);
double dlc_metrics_loss(const dlc_metrics *acc);
double dlc_metrics_value(dlc_metric_kind metric, const dlc_metrics *acc);
const char *dlc_metric_name(dlc_metric_kind k);

/* ==== dlc_runner.c: a model on the device, and forward passes over a data set =============== */

/* A model ready to run: params, state, gradients, the arena sized for max_rows and the
 * outputs, on the device; the params, state and outputs also in host memory (the same memory
 * on the host). */
typedef struct {
    const dlc_model *m;
    dlc_layout layout;
    float *params;           /* host: what initialisation and checkpoints read and write */
    float *dev_params, *grads;
    float **param_views, **grad_views;   /* per param, into dev_params and grads */
    void **state;            /* host, per state tensor: at its initial value until loaded or trained */
    void **dev_state;        /* the same on the device (what the steps read and update) */
    void *arena;
    int64_t max_rows;
    void **dev_outputs;      /* per output, max_rows rows */
    void **outputs;          /* their host copies after each forward pass */
} dlc_runner;

void dlc_runner_init(dlc_runner *r, const dlc_model *m, int64_t max_rows);
/* The step of one batch of n rows for r's params and state on the device (dropout and flags
 * set by the caller). */
dlc_step dlc_runner_step(dlc_runner *r, int64_t n, const void *const *data, const dlc_dropout *dropout, int training);
/* Exits 1 (before any step) when the model needs training batches of two rows and the run
 * would make one of one row: n_train rows in batches of `batch`, the last one dropped or not. */
void dlc_check_batch_rows(const dlc_model *m, int64_t n_train, int64_t batch, int drop_last);
void dlc_runner_free(dlc_runner *r);
/* The params and the state between the host and the device (after initialising or loading;
 * before saving). */
void dlc_runner_params_to_device(dlc_runner *r);
void dlc_runner_params_to_host(dlc_runner *r);
/* Device threads: --threads N when given; else one when the model's steps on `rows` rows (the
 * most a command runs) make no BLAS call (m->uses_blas says so; NULL counts as "calls BLAS"),
 * since OpenBLAS's idle workers would only spin beside it; else, when several processes of a
 * job share this machine, each its share of the cores; else the device's default. */
void dlc_set_threads(const dlc_model *m, int threads, int64_t rows);
/* One forward pass on n rows (dropout off); the outputs land in r->outputs. Returns the loss
 * (NAN when a target is missing from data). */
float dlc_forward(dlc_runner *r, int64_t n, const void *const *data);
/* Loss and metric over every row of ds in batches of `batch` rows (dropout off); the metric
 * is counted on the device, and r->outputs are not filled (but for a model without data, which
 * makes one dlc_forward). The batches
 * are those of one process, dealt round-robin to the processes of a job (batch j to rank
 * j mod K), and the sums are reduced: every process gets the totals, and each batch's loss is
 * the one a single process computes. Every process of a job must call it. */
void dlc_evaluate(dlc_runner *r, const dlc_dataset *ds, int64_t batch, dlc_metric_kind metric, dlc_metrics *acc);
/* This process's contiguous part [lo, hi) of n rows (rank r of K: n*r/K to n*(r+1)/K), and the
 * part of process `rank`. */
void dlc_share(int64_t n, int64_t *lo, int64_t *hi);
void dlc_share_of(int rank, int64_t n, int64_t *lo, int64_t *hi);

/* ==== dlc_eval.c: the eval and predict commands ============================================= */

int dlc_cmd_eval(const dlc_model *m, const dlc_options *o);
int dlc_cmd_predict(const dlc_model *m, const dlc_options *o);

/* ==== dlc_watch.c: the chart, the best epoch's params and early stopping, after each epoch === */

typedef struct {
    const dlc_model *m;
    const char *plot, *save_best, *x_label;
    int64_t patience;           /* 0: no early stopping */
    double min_delta;
    dlc_metric_kind metric;
    int has_val;                /* the watched loss is the validation loss (else the training loss) */
    double best;                /* the lowest watched loss, and its epoch */
    int64_t best_epoch;
    double stop_best;           /* the last loss that improved by more than min_delta */
    int64_t bad_epochs;
    int64_t n, cap;             /* the chart's epochs: x, loss, val_loss, metric */
    double *series[4];
} dlc_watch;

void dlc_watch_init(dlc_watch *w, const dlc_model *m, const dlc_options *o, const dlc_train_config *cfg, int has_val);
/* After epoch `epoch` (1-based) ended with these values (NAN when absent) and the params in r:
 * redraws the chart, saves the best params, and returns 1 when early stopping ends training. */
int dlc_watch_epoch(dlc_watch *w, int64_t epoch, double loss, double val_loss, double metric, dlc_runner *r,
                    const dlc_norms *norms, int64_t step);
void dlc_watch_free(dlc_watch *w);
/* A resumed run goes on watching where the saved one was (patience and the best loss carry
 * over; the chart starts with the epochs in its --log file, given as log). */
void dlc_watch_restore(dlc_watch *w, const dlc_progress *p, const char *log);
void dlc_watch_remember(const dlc_watch *w, dlc_progress *p);

/* ==== dlc_rowcheck.c: the data row behind a failure in a step ============================== */

/* The rows of the step about to run (dlc_batch_fill says so). */
void dlc_rows_current(const dlc_dataset *ds, const int64_t *order, int64_t start, int64_t count);
/* The runner whose steps are watched (dlc_runner_init; NULL: none). */
void dlc_rows_watch(dlc_runner *r);
/* Called by dlc_index_error: when the failing step ran on rows of a data set, finds the first
 * row whose forward pass alone goes out of range, reports it in its file (row, line) with the
 * model's source place, and exits 1. Returns when no row can be blamed (a model without data,
 * or an index that only the batch as a whole puts out of range). */
void dlc_locate_index_error(const char *where, long idx, long size);
/* Rows order[start..start+count) of ds (order NULL: consecutive) run alone with `params`
 * (per-param views of the params the run started from): the first whose loss is not finite
 * is reported at its row, with its largest input value's column, and exits 1 (a value the
 * model cannot represent). Returns when every row's loss is finite: training diverged. */
void dlc_blame_rows(dlc_runner *r, float *const *params, const dlc_dataset *ds, const int64_t *order, int64_t start,
                    int64_t count);
/* dlc_blame_rows over the rows of the step that just ran (dlc_batch_fill's last batch). */
void dlc_blame_batch(dlc_runner *r, float *const *params);

/* ==== dlc_train.c, dlc_gradcheck.c, dlc_info.c: the other commands ========================= */

int dlc_cmd_train(const dlc_model *m, const dlc_options *o);
int dlc_cmd_gradcheck(const dlc_model *m, const dlc_options *o);
int dlc_cmd_info(const dlc_model *m, const dlc_options *o);

/* Loads the data a command needs from o's sources (--input, --data, the train block). */
void dlc_load_command_data(const dlc_model *m, const dlc_options *o, const char *data_path, int for_predict,
                           dlc_dataset *ds);
int dlc_model_has_data(const dlc_model *m);

/* ==== dlc_plot.c: the training chart as SVG (also built into `dlc plot`; self-contained) ===== */

/* One run's curves, per epoch (or update): NAN where a value is absent. */
typedef struct {
    const char *title;
    const char *x_label;        /* "epoch" or "update" */
    const char *metric;         /* "accuracy", "mse", "mae", or NULL */
    int metric_on_validation;   /* the metric was taken on the validation rows (else the training rows) */
    int64_t n;
    const double *x, *loss, *val_loss, *metric_values;
} dlc_plot_data;

/* Renders the chart and writes it to path atomically; 0, or -1 with the reason in why. */
int dlc_plot_svg(const dlc_plot_data *d, const char *path, char *why, size_t cap);
/* The chart of a --log CSV file (`dlc plot`); 0, or -1 with a message naming the file in why. */
int dlc_plot_from_log(const char *log, const char *svg, const char *title, char *why, size_t cap);

/* A --log file's curves: columns x, loss, val_loss, metric (NAN where absent); x_label and
 * metric point into header. */
typedef struct {
    char header[1024];
    const char *x_label, *metric; /* metric: NULL when the run had none */
    int64_t n;
    double *columns[4];
} dlc_plot_log;

/* Reads a --log file; 0, or -1 with a message naming the file (and line) in why. */
int dlc_plot_read_log(const char *log, dlc_plot_log *out, char *why, size_t cap);
void dlc_plot_log_free(dlc_plot_log *l);

/* ==== dlc_format.c: numbers for the epoch lines, as printf writes them, faster ============= */

/* snprintf(out, cap, "%.*f", decimals, v)'s characters and return value, without printf's
 * multi-precision path for the usual values (|v| < 1e15 / 10^decimals, decimals <= 9). */
int dlc_format_fixed(char *out, size_t cap, double v, int decimals);
/* snprintf(out, cap, "%lld", v). */
int dlc_format_int(char *out, size_t cap, int64_t v);

/* ==== dlc_progress.c: the live progress bar of `train` on a terminal ======================== */

/* One epoch's bar, drawn on stdout when stdout is a terminal and TERM is not "dumb" (`live`);
 * otherwise every call returns at once and stdout carries the plain lines only. */
typedef struct {
    int live;
    int64_t epoch, epochs;      /* epochs < 0: no total to show (--steps) */
    int64_t total;              /* micro-batches in the epoch */
    int64_t done0, rows0;       /* where this run entered the epoch (a resumed one starts part-way) */
    int width;                  /* terminal columns */
    double t0, last_check, last_draw;
    int64_t stride, countdown;  /* micro-batches between clock reads (adapts to about 20 ms) */
} dlc_bar;

/* 1 when train draws a live bar (decided once, from stdout, TERM, NO_COLOR and the locale). */
int dlc_progress_live(void);
/* Starts epoch `epoch` (1-based) of `epochs` with `done` of `total` micro-batches and `rows`
 * rows already behind it, and draws the empty bar. */
void dlc_bar_begin(dlc_bar *b, int64_t epoch, int64_t epochs, int64_t total, int64_t done, int64_t rows);
/* The clock read and maybe a redraw; call through dlc_bar_tick. */
void dlc_bar_update(dlc_bar *b, int64_t done, int64_t rows, double loss_sum);
/* After each micro-batch: `done` micro-batches, `rows` rows and their summed loss (loss * rows)
 * so far in the epoch. One branch when the bar is off; a countdown when it is on. */
static inline void dlc_bar_tick(dlc_bar *b, int64_t done, int64_t rows, double loss_sum) {
    if (b->live && (--b->countdown <= 0 || done >= b->total)) dlc_bar_update(b, done, rows, loss_sum);
}
/* Erases the bar, so that the plain epoch line takes its place; the bar stays off after. */
void dlc_bar_clear(dlc_bar *b);
/* Erases whatever bar is on the screen (dlc_die calls it before its message). */
void dlc_progress_abandon(void);

#endif
