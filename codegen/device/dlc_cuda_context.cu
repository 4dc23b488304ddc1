/* dlc_cuda_context.cu: the context the CUDA backend's entries run in (see dlc_cuda.h): the GPU
 * opened once, one stream, one cuBLAS handle, the step's scalars and fault record in device
 * memory, and the CUDA Graphs of the train steps.
 *
 * A train step (train_step, sgd_step) of one batch size on the same buffers is the same
 * sequence of launches every time: it is captured once as a CUDA Graph and then replayed, one
 * launch per step instead of one per kernel. Everything that changes from step to step (the
 * learning rate, the dropout stream) is read by the kernels from device memory, copied there
 * before the replay. A step with other buffers or another batch size (the last, partial batch
 * of an epoch) gets its own graph; the two most recent stay instantiated per entry.
 * DLC_CUDA_GRAPHS=0 in the environment launches every kernel directly instead. */
#include "dlc_cuda.h"

#include <string.h>

/* One captured step: the entry and everything its launches baked in. */
typedef struct {
    const dlc_cuda_entry *entry;
    int64_t n;
    int count;
    const void **pointers;      /* data, params, grads, state, arena */
    cudaGraphExec_t exec;
    uint64_t last_use;
} dlc_cuda_graph;

#define DLC_GRAPH_SLOTS 4
struct dlc_cuda_graphs {
    dlc_cuda_graph slot[DLC_GRAPH_SLOTS];
    uint64_t clock;
};

static dlc_cuda_context context;
static int opened;

/* The runtime's dlc_die (it clears a progress bar first); the kernel harness links without it. */
extern "C" void dlc_die(int code, const char *fmt, ...) __attribute__((weak, noreturn));

static void die(const char *fmt, const char *a, const char *b) {
    if (dlc_die) dlc_die(1, fmt, a, b);
    fflush(stdout);
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    exit(1);
}

extern "C" void dlc_cuda_check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return;
    if (e == cudaErrorMemoryAllocation) die("out of GPU memory (%s: %s)", what, cudaGetErrorString(e));
    die("CUDA: %s failed: %s", what, cudaGetErrorString(e));
}

/* `what` is the call's text (DLC_CUBLAS): the message names its function only. */
extern "C" void dlc_cublas_check(cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(what, "("), what);
    die("cuBLAS: %s failed: %s", name, cublasGetStatusString(s));
}

static void *device_alloc(size_t bytes, const char *what) {
    void *p = NULL;
    dlc_cuda_check(cudaMalloc(&p, bytes), what);
    return p;
}

static void *pinned_alloc(size_t bytes, const char *what) {
    void *p = NULL;
    dlc_cuda_check(cudaMallocHost(&p, bytes), what);
    memset(p, 0, bytes);
    return p;
}

extern "C" dlc_cuda_context *dlc_cuda_open(int device) {
    if (opened) return &context;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        fflush(stdout);
        fprintf(stderr, "error: no CUDA GPU is available%s%s%s\n", e != cudaSuccess ? " (" : "",
                e != cudaSuccess ? cudaGetErrorString(e) : "", e != cudaSuccess ? ")" : "");
        fprintf(stderr, "note: this trainer was built with --backend cuda; build one with --backend c to train on the CPU\n");
        exit(1);
    }
    if (device < 0 || device >= count) {
        fflush(stdout);
        fprintf(stderr, "error: --device %d: this machine has %d GPU%s (0 to %d)\n", device, count, count == 1 ? "" : "s",
                count - 1);
        exit(1);
    }
    cudaDeviceProp prop;
    dlc_cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    if (prop.major < 8) {
        fflush(stdout);
        fprintf(stderr, "error: GPU %d (%s) has compute capability %d.%d; dlc's CUDA trainers need 8.0 or newer\n", device,
                prop.name, prop.major, prop.minor);
        exit(1);
    }
    dlc_cuda_check(cudaSetDevice(device), "cudaSetDevice");
    context.device = device;
    dlc_cuda_check(cudaStreamCreateWithFlags(&context.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    dlc_cublas_check(cublasCreate(&context.blas), "cublasCreate");
    dlc_cublas_check(cublasSetStream(context.blas, context.stream), "cublasSetStream");
    /* A workspace of its own: cuBLAS then allocates nothing while a graph is captured. */
    const size_t workspace = 32u << 20;
    dlc_cublas_check(cublasSetWorkspace(context.blas, device_alloc(workspace, "the cuBLAS workspace"), workspace),
                     "cublasSetWorkspace");
    context.args = (dlc_cuda_step_args *)device_alloc(sizeof(dlc_cuda_step_args), "the step's scalars");
    context.host_args = (dlc_cuda_step_args *)pinned_alloc(sizeof(dlc_cuda_step_args), "the step's scalars");
    context.fault = (dlc_cuda_fault *)device_alloc(sizeof(dlc_cuda_fault), "the fault record");
    context.host_fault = (dlc_cuda_fault *)pinned_alloc(sizeof(dlc_cuda_fault), "the fault record");
    context.host_loss = (float *)pinned_alloc(sizeof(float), "the loss");
    dlc_cuda_check(cudaMemcpy(context.fault, context.host_fault, sizeof(dlc_cuda_fault), cudaMemcpyHostToDevice),
                   "clearing the fault record");
    context.graphs = (dlc_cuda_graphs *)calloc(1, sizeof(dlc_cuda_graphs));
    if (!context.graphs) die("out of memory%s%s", "", "");
    opened = 1;
    return &context;
}

extern "C" dlc_cuda_context *dlc_cuda_get(void) { return opened ? &context : dlc_cuda_open(0); }

static int graphs_enabled(void) {
    static int enabled = -1;
    if (enabled < 0) {
        const char *v = getenv("DLC_CUDA_GRAPHS");
        enabled = !(v && strcmp(v, "0") == 0);
    }
    return enabled;
}

/* The pointers a step's launches bake in, in a fixed order. */
static int step_pointers(const dlc_step *s, const dlc_cuda_entry *e, const void **out) {
    int k = 0;
    for (int i = 0; i < e->n_data; i++) out[k++] = s->data[i];
    for (int i = 0; i < e->n_params; i++) out[k++] = s->params[i];
    for (int i = 0; i < e->n_params; i++) out[k++] = s->grads ? s->grads[i] : NULL;
    for (int i = 0; i < e->n_state; i++) out[k++] = s->state[i];
    out[k++] = s->arena;
    return k;
}

/* Launches the entry's graph for this step, capturing it first when there is none. */
static void launch_graph(const dlc_step *s, void *const *outputs, const dlc_cuda_entry *e, dlc_cuda_enqueue enqueue,
                         dlc_cuda_context *c) {
    dlc_cuda_graphs *g = c->graphs;
    const void *key[256];
    int count = e->n_data + 2 * e->n_params + e->n_state + 1;
    const void **pointers = count <= (int)(sizeof key / sizeof key[0]) ? key : (const void **)malloc(sizeof(void *) * (size_t)count);
    if (!pointers) die("out of memory%s%s", "", "");
    step_pointers(s, e, pointers);
    g->clock++;
    dlc_cuda_graph *hit = NULL, *victim = &g->slot[0];
    for (int i = 0; i < DLC_GRAPH_SLOTS; i++) {
        dlc_cuda_graph *slot = &g->slot[i];
        if (slot->entry == e && slot->n == s->n && slot->count == count &&
            memcmp(slot->pointers, pointers, sizeof(void *) * (size_t)count) == 0) {
            hit = slot;
            break;
        }
        if (slot->last_use < victim->last_use) victim = slot;
    }
    if (!hit) {
        if (victim->entry) {
            dlc_cuda_check(cudaGraphExecDestroy(victim->exec), "cudaGraphExecDestroy");
            free(victim->pointers);
        }
        cudaGraph_t graph;
        dlc_cuda_check(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
        enqueue(s, outputs, c);
        dlc_cuda_check(cudaGetLastError(), e->name);
        dlc_cuda_check(cudaStreamEndCapture(c->stream, &graph), "cudaStreamEndCapture");
        dlc_cuda_check(cudaGraphInstantiate(&victim->exec, graph, 0), "cudaGraphInstantiate");
        dlc_cuda_check(cudaGraphDestroy(graph), "cudaGraphDestroy");
        victim->entry = e;
        victim->n = s->n;
        victim->count = count;
        victim->pointers = (const void **)malloc(sizeof(void *) * (size_t)count);
        if (!victim->pointers) die("out of memory%s%s", "", "");
        memcpy(victim->pointers, pointers, sizeof(void *) * (size_t)count);
        hit = victim;
    }
    hit->last_use = g->clock;
    if (pointers != key) free(pointers);
    dlc_cuda_check(cudaGraphLaunch(hit->exec, c->stream), "cudaGraphLaunch");
}

extern "C" float dlc_cuda_run(const dlc_step *s, void *const *outputs, const dlc_cuda_entry *e, dlc_cuda_enqueue enqueue,
                              const float *loss) {
    dlc_cuda_context *c = dlc_cuda_get();
    dlc_cuda_step_args *a = c->host_args;
    a->lr = s->lr;
    a->neg_lr = -s->lr;
    a->one = 1.0f;
    a->zero = 0.0f;
    a->dropout_epoch_key = s->dropout ? s->dropout->epoch_key : 0;
    a->dropout_first_row = s->dropout ? s->dropout->first_row : 0;
    a->global_n = s->global_n;
    dlc_cuda_check(cudaMemcpyAsync(c->args, a, sizeof *a, cudaMemcpyHostToDevice, c->stream), "copying the step's scalars");
    if (e->graph && graphs_enabled()) {
        launch_graph(s, outputs, e, enqueue, c);
    } else {
        enqueue(s, outputs, c);
        dlc_cuda_check(cudaGetLastError(), e->name);
    }
    if (loss) dlc_cuda_check(cudaMemcpyAsync(c->host_loss, loss, sizeof(float), cudaMemcpyDeviceToHost, c->stream), "copying the loss");
    if (e->places)
        dlc_cuda_check(cudaMemcpyAsync(c->host_fault, c->fault, sizeof(dlc_cuda_fault), cudaMemcpyDeviceToHost, c->stream),
                       "reading the fault record");
    dlc_cuda_check(cudaStreamSynchronize(c->stream), e->name);
    if (e->places && c->host_fault->flag)
        dlc_index_error(e->places[c->host_fault->place], (long)c->host_fault->index, (long)c->host_fault->size);
    return loss ? *c->host_loss : NAN;
}
