/* dlc_model.h: the contract between a generated model file and the generic C runtime.
 *
 * The compiler emits one C file per model. It includes this header, implements the three
 * kernels below (arena size, training step, evaluation step) and defines exactly one
 *
 *     const dlc_model dlc_generated_model = { ... };
 *
 * Everything else (command line, data loading, batching, optimizers, schedules, metrics,
 * checkpoints, gradient checks) lives in the runtime (codegen/dlc_*.c), which owns main().
 * See codegen/README.md for the build line and a worked example (codegen/tests/).
 *
 * Conventions:
 * - Every buffer is row-major and contiguous; f32 is `float`, i32 is `int32_t`.
 * - Every input and target has the batch N as its first axis; its descriptor gives the
 *   per-example dims (the axes after N, possibly none: `x: f32[N]`).
 * - Params are given in declaration order (a layer's weight, then its bias); that is the
 *   order of initialisation (docs/rng.md) and of the checkpoint's tensors.
 */
#ifndef DLC_MODEL_H
#define DLC_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "dlc_rng.h"

/* The CUDA backend's .cu files (C++) include this header too. */
#ifdef __cplusplus
#define DLC_NORETURN [[noreturn]]
extern "C" {
#else
#define DLC_NORETURN _Noreturn
#endif

#define DLC_MAX_RANK 8

typedef enum { DLC_F32 = 0, DLC_I32 = 1 } dlc_dtype;

/* ---- Params ---------------------------------------------------------------------------- */

typedef enum {
    DLC_INIT_ZEROS,
    DLC_INIT_ONES,
    DLC_INIT_CONSTANT,        /* a = the value */
    DLC_INIT_NORMAL,          /* a = mean, b = std */
    DLC_INIT_UNIFORM,         /* a = lo, b = hi */
    DLC_INIT_KAIMING_UNIFORM, /* uniform(-1/sqrt(fan_in), +1/sqrt(fan_in)), PyTorch's Linear */
    DLC_INIT_XAVIER_UNIFORM,  /* uniform(-b, b), b = sqrt(6 / (fan_in + fan_out)) */
    DLC_INIT_VALUES,          /* values[0 .. size), row-major (`= [1.0, 0.5]`); draws nothing */
} dlc_init_kind;

typedef struct {
    dlc_init_kind kind;
    double a, b;
    const float *values;      /* DLC_INIT_VALUES only */
} dlc_init;

typedef struct {
    const char *name;           /* checkpoint name, e.g. "fc1.weight" or "grid" */
    int rank;                   /* 0 for a scalar */
    int64_t dims[DLC_MAX_RANK]; /* the first `rank` entries are used */
    int64_t size;               /* element count: product of dims (1 for a scalar) */
    dlc_init init;
} dlc_param_desc;

/* ---- State: tensors carried between training steps, not trained --------------------------- */

/* Batch normalization's running statistics: `bn.running_mean`, `bn.running_var` (f32) and
 * `bn.num_batches_tracked` (i32 in memory, I64 in a checkpoint, as PyTorch stores it). Every
 * entry reads them; a training step ends by storing their new values. Saved and loaded with
 * the params, under these names. */
typedef struct {
    const char *name;
    dlc_dtype dtype;
    int rank;                   /* 0 for a scalar */
    int64_t dims[DLC_MAX_RANK];
    int64_t size;               /* element count (1 for a scalar) */
    double init;                /* every element's initial value */
} dlc_state_desc;

/* ---- Data tensors (inputs and targets) --------------------------------------------------- */

typedef struct {
    const char *name;
    int is_target;              /* 1 for `target`: not read by predict */
    dlc_dtype dtype;
    int rank;                   /* per-example rank: the axes after N (0 for `f32[N]`) */
    int64_t dims[DLC_MAX_RANK];
    int64_t size;               /* per-example element count (1 when rank is 0) */
    int64_t classes;            /* i32 class labels of cross_entropy/nll: C, values in [0, C); else 0 */
} dlc_data_desc;

/* ---- Outputs ----------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    dlc_dtype dtype;
    int batched;                /* 1 when the first axis is N; dims/size are then per example */
    int rank;                   /* rank of dims below (per example when batched) */
    int64_t dims[DLC_MAX_RANK];
    int64_t size;               /* element count (per example when batched) */
} dlc_output_desc;

/* ---- Default training configuration (the `train` block, spec section 6) ------------------- */

typedef enum { DLC_OPT_SGD, DLC_OPT_ADAM, DLC_OPT_ADAMW, DLC_OPT_ADAGRAD } dlc_opt_kind;
typedef enum { DLC_SCHED_NONE, DLC_SCHED_STEP_LR, DLC_SCHED_COSINE, DLC_SCHED_PLATEAU } dlc_sched_kind;
typedef enum { DLC_METRIC_NONE, DLC_METRIC_ACCURACY, DLC_METRIC_MSE, DLC_METRIC_MAE } dlc_metric_kind;

/* The loss at the root of the graph, as far as the accuracy rule needs to know it
 * (one output column: > 0.5 for bce and the rest, > 0 for bce_logits and hinge). */
typedef enum { DLC_LOSS_OTHER, DLC_LOSS_BCE, DLC_LOSS_BCE_LOGITS, DLC_LOSS_HINGE } dlc_loss_kind;

typedef struct {
    dlc_opt_kind kind;
    double lr, momentum, weight_decay;   /* weight_decay: decoupled for adamw */
    int nesterov;                        /* sgd only */
    double beta1, beta2, eps;            /* adam/adamw (beta1, beta2, eps); adagrad (eps) */
} dlc_optimizer_config;

typedef struct {
    dlc_sched_kind kind;
    int64_t every;     /* step_lr */
    double gamma;      /* step_lr */
    int64_t t_max;     /* cosine(epochs: T): CosineAnnealingLR's T_max, eta_min 0 */
    double factor;     /* reduce_on_plateau */
    int64_t patience;  /* reduce_on_plateau */
    double threshold;  /* reduce_on_plateau (relative, mode min) */
} dlc_schedule_config;

typedef struct {
    const char *name;    /* an input or target */
    const char *columns; /* a COLUMNS spec: "0-63", "label", "a,b,3" */
} dlc_column_binding;

typedef struct {
    dlc_optimizer_config optimizer;
    int64_t batch;          /* 0 means `batch full` */
    int drop_last;
    int64_t epochs;
    int64_t steps;          /* updates of a model without data */
    int shuffle;
    dlc_schedule_config schedule;
    int64_t accumulate;     /* >= 1 */
    dlc_metric_kind metric;
    uint64_t seed;
    int n_normalize;
    const char *const *normalize;        /* input names */
    const char *data;                    /* default data path, or NULL */
    int n_columns;
    const dlc_column_binding *columns;
    double validation;                   /* fraction in [0, 1) */
    int64_t early_stop_patience;         /* `early_stop patience: N`; 0: no early stopping */
    double early_stop_min_delta;         /* the improvement that counts */
} dlc_train_config;

/* ---- Kernels ----------------------------------------------------------------------------- */

/* What one step sees. The runtime owns every buffer. */
typedef struct {
    int64_t n;                  /* rows in this batch (1 for a model without data) */
    const void *const *data;    /* per data tensor, in descriptor order: n * size elements;
                                   a target is NULL when absent (predict) */
    int has_targets;            /* 0 in predict: the kernels must not read targets */
    const float *const *params; /* per param */
    float *const *grads;        /* per param (train_step only) */
    void *arena;                /* arena_bytes(n) bytes, 64-byte aligned, uninitialised */
    const dlc_dropout *dropout; /* where train_step's dropout masks come from; eval_step ignores it */
    int training;               /* 1 in train_step (dropout on), 0 in eval_step */
    float lr;                   /* sgd_step only: the learning rate of this update */
    void *const *state;         /* per state tensor (running statistics), in descriptor order:
                                   every entry reads them; train_step and sgd_step end by
                                   storing their new values */
    int64_t global_n;           /* rows of the whole batch over every process of a data-parallel
                                   run (n in one process, and in eval_step): the counts of a
                                   train_step that sums batch statistics (sums_batch_statistics) */
} dlc_step;

typedef struct {
    const char *name;                    /* the model's name */
    int n_params;
    const dlc_param_desc *params;
    int n_data;
    const dlc_data_desc *data;           /* in declaration order */
    int n_outputs;
    const dlc_output_desc *outputs;      /* in `output` order; may be 0 (predict refuses) */
    dlc_loss_kind loss;
    int metric_output;                   /* index of the output the metric reads (-1: none) */
    int metric_target;                   /* index into data of the target it compares to (-1: none) */
    /* When the loss's target is an expression of the data (`2 * y - 1`, `y - 1`): its shape,
     * and eval_step (with targets) writes its value into outputs[n_outputs]; the metric then
     * compares with that instead of data[metric_target]. NULL otherwise. */
    const dlc_output_desc *metric_target_output;
    dlc_train_config config;

    /* Scratch bytes one step needs for a batch of n rows (n <= the largest batch used). */
    size_t (*arena_bytes)(int64_t n);
    /* Forward and backward on one batch: overwrites every element of every s->grads[i] with
     * d(loss)/d(param) (zero where the param does not reach the loss) and returns the loss,
     * the mean over the batch's rows. Dropout masks are drawn as s->dropout says. */
    float (*train_step)(const dlc_step *s);
    /* Forward only, dropout off: writes each output into outputs[i] (n * size elements of its
     * dtype when batched, size otherwise) and returns the loss, or NAN when !s->has_targets. */
    float (*eval_step)(const dlc_step *s, void *const *outputs);
    /* Optional (may be NULL): floating-point operations of one training step. */
    double (*train_flops)(int64_t n);
    /* Optional (may be NULL): train_step fused with plain SGD. Forward and backward on one
     * batch, each param updated in place, p -= s->lr * d(loss)/d(p), as soon as nothing else
     * in the step reads it (a weight gradient's GEMM writes straight into the weight with
     * alpha = -lr, beta = 1). s->grads is not touched. Returns the loss. The runtime calls it
     * for SGD with no momentum and no weight decay, without accumulation. */
    float (*sgd_step)(const dlc_step *s);
    /* Optional: whether a step on n rows calls BLAS (small products run as plain loops); when
     * it does not, the runtime keeps OpenBLAS to one thread, whose idle workers would
     * otherwise spin beside a model too small to use them. */
    int (*uses_blas)(int64_t n);
    int n_state;
    const dlc_state_desc *state;         /* in declaration order; may be 0 */
    /* NULL, or where (MODEL.dl:LINE:COL) a batch normalization needs training batches of at
     * least two rows (it normalises over [N, C]: one row leaves one value per channel). The
     * runtime refuses a run whose batches would include a batch of one row, before its first
     * step. */
    const char *needs_two_rows;
    /* 1 when train_step sums batch statistics across the processes of a data-parallel run
     * (batch normalization's mean and variance, and their gradients: PyTorch's SyncBatchNorm),
     * calling dlc_sum_across_processes; its counts over the batch are then over s->global_n rows,
     * and it returns this process's share of the loss (its rows' sum over the global rows) and
     * its share of the gradient, which the runtime only sums. 0: train_step sees its own rows
     * alone; the runtime scales its mean loss and gradient by its share of the rows. */
    int sums_batch_statistics;
    /* NULL, or where (MODEL.dl:LINE:COL: 'OP') the step mixes the rows of a batch in a way no
     * sum across processes splits (a max or softmax along the batch axis): `train` refuses to
     * run in more than one process. */
    const char *mixes_rows;
} dlc_model;

/* Defined by the generated file. */
extern const dlc_model dlc_generated_model;

/* Called by a train_step that sums batch statistics (sums_batch_statistics), in place over n
 * floats of device memory: each process's share becomes the sum over every process whose step
 * takes a part of the same global batch (codegen/comm). Does nothing in one process, and when
 * the step is whole (gradient checks). */
void dlc_sum_across_processes(float *buf, int64_t n);

/* Called by generated gather code when an index is out of range: prints
 * "error: WHERE: index IDX is out of range for a first axis of SIZE" and exits 1.
 * WHERE names the source, e.g. "line_grid.dl:12:16". Never returns. */
DLC_NORETURN void dlc_index_error(const char *where, long idx, long size);

/* ---- Threads ----------------------------------------------------------------------------
 * The trainer's worker threads (codegen/core/dlc_parallel.c), for work split across cores.
 * dlc_parallel_for runs fn(ctx, begin, end, part) for `parts` (at most dlc_parallel_threads())
 * contiguous chunks [begin, end) of [0, n), thread p (0: the caller) taking chunk p first, then
 * any chunk still free, and returns when all are done. The split is static: chunk `part`
 * is [n·part/parts, n·(part+1)/parts), so a given part count always gives the same chunks; a
 * chunk's result must not depend on the thread that runs it. */
typedef void (*dlc_chunk_fn)(void *ctx, int64_t begin, int64_t end, int part);
void dlc_parallel_for(int64_t n, int parts, dlc_chunk_fn fn, void *ctx);
int dlc_parallel_threads(void);
/* The parts to split `work` (a loop's elements) into: the thread count when the work is large
 * enough to pay (131 072 elements, or $DLC_PARALLEL_MIN_WORK), else 1 (run it inline). */
int dlc_parallel_parts(int64_t work);

/* cblas_sgemm's arguments (order, transposes and CBLAS_* values as int; row-major only): the
 * product on the trainer's threads, split along M or N into contiguous blocks when it is large
 * enough to pay (codegen/device/dlc_device_host.c). Generated code calls it for every BLAS
 * product. */
void dlc_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

#ifdef __cplusplus
}
#endif
#endif
