/* kernel_harness.c: runs a generated model's entry points once on given params and data, so
 * that tests can compare every number with the reference interpreter. It links with the
 * generated model file and, for the C and LLVM backends, the runtime's threads (dlc_parallel.c,
 * dlc_host_gemm.c), nothing else: a kernel-level check of the backend.
 *
 * DLC_HARNESS_THREADS=N runs the entries on N threads (when the runtime's threads are linked);
 * with DLC_PARALLEL_MIN_WORK=0 every kernel a printer splits runs split, however small.
 *
 * usage: kernel_harness IN OUT
 *   IN:  int64 n; uint64 dropout epoch key; int64 first row; each param (float32, declaration order);
 *        each data tensor (n rows, float32 or int32, declaration order)
 *   OUT: train loss (float32); each gradient; each state tensor after the train step (float32 or
 *        int32); sgd_step's loss and each param after it (lr 0.125); eval loss; each output
 *        (eval); each output (predict). Every entry starts from the state's initial values.
 */
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlc_model.h"

_Noreturn void dlc_index_error(const char *where, long idx, long size) {
    fprintf(stderr, "error: %s: index %ld is out of range for a first axis of %ld\n", where, idx, size);
    exit(3);
}

/* One process: a train step's batch statistics are its own (dlc_model.h). */
void dlc_sum_across_processes(float *buf, int64_t n) {
    (void)buf;
    (void)n;
}

/* The runtime's threads, when linked (the CUDA backend's harness links without them). */
void dlc_parallel_init(int threads) __attribute__((weak));

/* dlc_parallel.c's only call into the rest of the runtime. */
_Noreturn void dlc_die(int code, const char *fmt, ...) {
    fprintf(stderr, "error: %s\n", fmt);
    exit(code);
}

static void *read_exact(FILE *f, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || fread(p, 1, bytes, f) != bytes) { fprintf(stderr, "short input\n"); exit(2); }
    return p;
}

/* Every state tensor at its initial value. */
static void reset_state(const dlc_model *m, void **running) {
    for (int i = 0; i < m->n_state; i++)
        for (int64_t k = 0; k < m->state[i].size; k++) {
            if (m->state[i].dtype == DLC_F32) ((float *)running[i])[k] = (float)m->state[i].init;
            else ((int32_t *)running[i])[k] = (int32_t)m->state[i].init;
        }
}

static size_t output_bytes(const dlc_output_desc *o, int64_t n) {
    return (size_t)(o->batched ? n * o->size : o->size) * 4;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const dlc_model *m = &dlc_generated_model;
    const char *threads = getenv("DLC_HARNESS_THREADS");
    if (threads && dlc_parallel_init) dlc_parallel_init(atoi(threads));
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!in || !out) return 2;
    int64_t n;
    dlc_dropout dropout;
    if (fread(&n, 8, 1, in) != 1 || fread(&dropout.epoch_key, 8, 1, in) != 1 || fread(&dropout.first_row, 8, 1, in) != 1)
        return 2;
    float **params = calloc((size_t)m->n_params + 1, sizeof *params);
    float **grads = calloc((size_t)m->n_params + 1, sizeof *grads);
    for (int i = 0; i < m->n_params; i++) {
        params[i] = read_exact(in, (size_t)m->params[i].size * 4);
        grads[i] = calloc((size_t)m->params[i].size, 4);
        for (int64_t j = 0; j < m->params[i].size; j++) grads[i][j] = NAN;  /* must be overwritten */
    }
    void **data = calloc((size_t)m->n_data + 1, sizeof *data);
    for (int i = 0; i < m->n_data; i++) data[i] = read_exact(in, (size_t)(n * m->data[i].size) * 4);
    void *arena = NULL;
    if (posix_memalign(&arena, 64, m->arena_bytes(n))) return 2;
    void **outputs = calloc((size_t)m->n_outputs + 1, sizeof *outputs);
    for (int i = 0; i < m->n_outputs; i++) outputs[i] = calloc(1, output_bytes(&m->outputs[i], n));
    /* eval_step also writes the metric's computed target there (not compared here). */
    if (m->metric_target_output) outputs[m->n_outputs] = calloc(1, output_bytes(m->metric_target_output, n));

    void **running = calloc((size_t)m->n_state + 1, sizeof *running);
    for (int i = 0; i < m->n_state; i++) running[i] = calloc((size_t)m->state[i].size, 4);
    dlc_step s = {.n = n, .data = (const void *const *)data, .has_targets = 1,
                  .params = (const float *const *)params, .grads = grads, .arena = arena,
                  .dropout = &dropout, .training = 1, .state = (void *const *)running, .global_n = n};
    reset_state(m, running);
    float loss = m->train_step(&s);
    fwrite(&loss, 4, 1, out);
    for (int i = 0; i < m->n_params; i++) fwrite(grads[i], 4, (size_t)m->params[i].size, out);
    for (int i = 0; i < m->n_state; i++) fwrite(running[i], 4, (size_t)m->state[i].size, out);
    reset_state(m, running);

    /* sgd_step: the same batch and dropout masks, on a copy of the params */
    float **updated = calloc((size_t)m->n_params + 1, sizeof *updated);
    for (int i = 0; i < m->n_params; i++) {
        updated[i] = malloc((size_t)m->params[i].size * 4 + 4);
        memcpy(updated[i], params[i], (size_t)m->params[i].size * 4);
    }
    dlc_step u = s;
    u.params = (const float *const *)updated;
    u.grads = NULL;
    u.lr = 0.125f;
    loss = m->sgd_step(&u);
    fwrite(&loss, 4, 1, out);
    for (int i = 0; i < m->n_params; i++) fwrite(updated[i], 4, (size_t)m->params[i].size, out);

    reset_state(m, running);
    s.training = 0;
    s.grads = NULL;
    loss = m->eval_step(&s, outputs);
    fwrite(&loss, 4, 1, out);
    for (int i = 0; i < m->n_outputs; i++) fwrite(outputs[i], 1, output_bytes(&m->outputs[i], n), out);

    /* predict: the targets are absent and must not be read */
    for (int i = 0; i < m->n_data; i++) if (m->data[i].is_target) data[i] = NULL;
    s.has_targets = 0;
    int predictable = 1;
    loss = m->eval_step(&s, outputs);
    (void)loss;
    for (int i = 0; i < m->n_outputs && predictable; i++) fwrite(outputs[i], 1, output_bytes(&m->outputs[i], n), out);
    return fclose(out) == 0 ? 0 : 2;
}
