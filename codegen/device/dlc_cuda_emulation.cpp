/* dlc_cuda_emulation.cpp: the CPU emulation of the CUDA subset dlc uses (see
 * dlc_cuda_emulation.h for what is emulated and how). Built with the host C++ compiler, for
 * tests only: `dlc compile --backend cuda --emulate`. */
#include "dlc_cuda_emulation.h"

#include <cblas.h>
#include <cstdio>
#include <cstdlib>
#include <ucontext.h>
#include <unordered_map>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define DLC_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DLC_EMU_ASAN 1
#endif
#endif
#ifdef DLC_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

struct dlc_emu_stream {
    bool capturing = false;
    std::vector<std::function<void()>> recorded;
};
struct dlc_emu_graph {
    std::vector<std::function<void()>> work;
};
struct dlc_emu_blas {
    cudaStream_t stream = nullptr;
    cublasPointerMode_t mode = CUBLAS_POINTER_MODE_HOST;
};

namespace dlc_emu {
uint3 block_idx;
dim3 block_dim, grid_dim;

namespace {
enum State { ready, at_block_barrier, at_warp_barrier, done };

/* One thread of the block that runs: a fiber with its own stack. */
struct Fiber {
    ucontext_t context;
    Thread thread;
    State state = ready;
    char *stack = nullptr;
#ifdef DLC_EMU_ASAN
    void *fake_stack = nullptr;
#endif
};

const size_t stack_bytes = 256 * 1024;
std::vector<Fiber> fibers;
std::vector<double> lanes;       /* each thread's value in the warp exchange under way */
ucontext_t scheduler;
Fiber *running = nullptr;
Thread outside;                  /* threadIdx outside a kernel (host code): 0 */
const std::function<void()> *body = nullptr;
const char *kernel_name = "";
cudaError_t last_error = cudaSuccess;
#ifdef DLC_EMU_ASAN
const void *scheduler_stack = nullptr;
size_t scheduler_stack_size = 0;
#endif

bool reverse_order() {
    static int reverse = -1;
    if (reverse < 0) {
        const char *order = getenv("DLC_EMULATE_ORDER");
        reverse = order && strcmp(order, "reverse") == 0;
    }
    return reverse == 1;
}

/* From the running fiber back to the scheduler; `dying` when the fiber will not resume. */
void to_scheduler(bool dying) {
    Fiber *f = running;
#ifdef DLC_EMU_ASAN
    __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake_stack, scheduler_stack, scheduler_stack_size);
#endif
    if (dying) {
        setcontext(&scheduler);
    } else {
        swapcontext(&f->context, &scheduler);
    }
#ifdef DLC_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &scheduler_stack, &scheduler_stack_size);
#endif
}

void fiber_main() {
#ifdef DLC_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack, &scheduler_stack_size);
#endif
    (*body)();
    running->state = done;
    to_scheduler(true);
}

void resume(Fiber &f) {
    running = &f;
#ifdef DLC_EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f.stack, stack_bytes);
#endif
    swapcontext(&scheduler, &f.context);
#ifdef DLC_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    running = nullptr;
}

[[noreturn]] void deadlock(const char *what) {
    fprintf(stderr, "error: CUDA emulation: kernel %s, block %u: %s\n", kernel_name, block_idx.x, what);
    exit(3);
}

/* Thread t of the block, ready to start the kernel on its own stack. */
__attribute__((noinline)) void prepare(unsigned t) {
    Fiber &f = fibers[t];
    f.thread.thread_idx = uint3(t, 0, 0);
    f.state = ready;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack;
    f.context.uc_stack.ss_size = stack_bytes;
    f.context.uc_link = nullptr;
    makecontext(&f.context, fiber_main, 0);
}

/* The threads of one block, round-robin until every one has ended. */
void run_block(unsigned threads) {
    for (unsigned t = 0; t < threads; t++) prepare(t);
    bool reverse = reverse_order();
    for (;;) {
        for (unsigned i = 0; i < threads; i++) {
            Fiber &f = fibers[reverse ? threads - 1 - i : i];
            if (f.state == ready) resume(f);
        }
        // Every thread has ended or waits at a barrier: release the barriers that every live
        // thread of their group has reached.
        unsigned live = 0, at_block = 0;
        for (unsigned t = 0; t < threads; t++) {
            live += fibers[t].state != done;
            at_block += fibers[t].state == at_block_barrier;
        }
        if (live == 0) return;
        if (at_block == live && live == threads) {
            for (unsigned t = 0; t < threads; t++)
                if (fibers[t].state == at_block_barrier) fibers[t].state = ready;
            continue;
        }
        bool released = false;
        for (unsigned w = 0; w < threads; w += 32) {
            unsigned end = w + 32 < threads ? w + 32 : threads, waiting = 0;
            for (unsigned t = w; t < end; t++) waiting += fibers[t].state == at_warp_barrier;
            if (waiting > 0 && waiting == end - w) {
                for (unsigned t = w; t < end; t++)
                    if (fibers[t].state == at_warp_barrier) fibers[t].state = ready;
                released = true;
            }
        }
        // A barrier some thread never reaches (it ended, or waits at another one) is a
        // deadlock, or undefined behaviour, on a GPU.
        if (!released)
            deadlock(at_block ? "__syncthreads() is not reached by every thread of the block"
                              : "a warp shuffle is not reached by every thread of the warp");
    }
}

void wait(State s) {
    if (!running) {
        fprintf(stderr, "error: CUDA emulation: a barrier outside a kernel\n");
        exit(3);
    }
    running->state = s;
    to_scheduler(false);
}
}  // namespace

Thread *current() { return running ? &running->thread : &outside; }

/* Kernels run so far: an event remembers the count when it is recorded, so that a wait on it
 * can tell a copy made ahead of a step (kernels ran since) from one made just before its use. */
unsigned long long kernels_run;

void launch(const char *name, dim3 grid, dim3 block, std::function<void()> kernel) {
    kernels_run++;
    if (grid.x < 1 || block.x < 1 || block.x > 1024 || grid.y != 1 || grid.z != 1 || block.y != 1 || block.z != 1) {
        last_error = cudaErrorInvalidValue;
        return;
    }
    if (fibers.size() < block.x) {
        size_t old = fibers.size();
        fibers.resize(block.x);
        for (size_t t = old; t < fibers.size(); t++) fibers[t].stack = static_cast<char *>(malloc(stack_bytes));
        lanes.resize(block.x);
    }
    kernel_name = name;
    body = &kernel;
    grid_dim = grid;
    block_dim = block;
    for (unsigned b = 0; b < grid.x; b++) {
        block_idx = uint3(b, 0, 0);
        run_block(block.x);
    }
    body = nullptr;
}

void sync_block() { wait(at_block_barrier); }

double exchange(double value, int source_lane) {
    unsigned t = running ? running->thread.thread_idx.x : 0;
    lanes[t] = value;
    wait(at_warp_barrier);  // every lane has put its value
    double got = lanes[t - t % 32 + (unsigned)source_lane];
    wait(at_warp_barrier);  // every lane has read before the next exchange overwrites
    return got;
}

void enqueue(void *stream, std::function<void()> work) {
    auto *s = static_cast<dlc_emu_stream *>(stream);
    if (s && s->capturing) s->recorded.push_back(std::move(work));
    else work();
}
}  // namespace dlc_emu

/* ---- The runtime API ---------------------------------------------------------------------- */

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    }
    return "unknown error";
}
const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    }
    return "cudaErrorUnknown";
}
cudaError_t cudaGetLastError(void) {
    cudaError_t e = dlc_emu::last_error;
    dlc_emu::last_error = cudaSuccess;
    return e;
}

/* DLC_EMULATE_DEVICES=0 plays a machine without a GPU. */
cudaError_t cudaGetDeviceCount(int *count) {
    const char *n = getenv("DLC_EMULATE_DEVICES");
    *count = n ? atoi(n) : 1;
    return *count > 0 ? cudaSuccess : cudaErrorNoDevice;
}
cudaError_t cudaSetDevice(int device) {
    int count = 0;
    cudaGetDeviceCount(&count);
    return device >= 0 && device < count ? cudaSuccess : cudaErrorInvalidDevice;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
    if (cudaSetDevice(device) != cudaSuccess) return cudaErrorInvalidDevice;
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "CPU emulation");
    const char *cc = getenv("DLC_EMULATE_COMPUTE_CAPABILITY"); /* "7.5" plays an unsupported GPU */
    prop->major = 9;
    prop->minor = 0;
    if (cc) sscanf(cc, "%d.%d", &prop->major, &prop->minor);
    prop->totalGlobalMem = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    prop->multiProcessorCount = 2;
    return cudaSuccess;
}
/* Fresh device memory holds NaN bit patterns (0xFF bytes), so a kernel that reads memory
 * nothing wrote produces NaNs the tests see. DLC_EMULATE_MEMORY caps the bytes allocated at
 * once, to play a GPU that runs out of memory (cudaMemGetInfo then reports the cap). */
static size_t allocated_bytes;
static std::unordered_map<void *, size_t> allocation_sizes;

static size_t memory_cap(void) {
    const char *cap = getenv("DLC_EMULATE_MEMORY");
    return cap ? (size_t)strtoull(cap, nullptr, 10) : 0;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    if (size_t cap = memory_cap()) {
        *total_bytes = cap;
        *free_bytes = cap > allocated_bytes ? cap - allocated_bytes : 0;
        return cudaSuccess;
    }
    *total_bytes = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    *free_bytes = (size_t)sysconf(_SC_AVPHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    size_t cap = memory_cap();
    if (cap && allocated_bytes + bytes > cap) {
        *p = nullptr;
        return cudaErrorMemoryAllocation;
    }
    size_t rounded = (bytes + 255) / 256 * 256 + 256;
    *p = aligned_alloc(256, rounded);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xFF, rounded);
    allocated_bytes += bytes;
    allocation_sizes[*p] = bytes;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    auto found = allocation_sizes.find(p);
    if (found != allocation_sizes.end()) {
        allocated_bytes -= found->second;
        allocation_sizes.erase(found);
    }
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t bytes) {
    *p = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void *p) {
    free(p);
    return cudaSuccess;
}
/* DLC_EMULATE_REPORT=1: at exit, the copies between host and device are counted on stderr
 * ("emulation: N copies to the device (B bytes), M from the device (B bytes)"), so that tests
 * can see what crosses over (a data set copied once, the loss once per step). */
namespace {
struct copy_report {
    long long copies[2] = {0, 0}, bytes[2] = {0, 0};
    long long waits_ahead = 0; /* cudaStreamWaitEvent on an event recorded before kernels that ran since */
    void count(cudaMemcpyKind kind, size_t n) {
        if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToHost) return;
        int out = kind == cudaMemcpyDeviceToHost;
        copies[out]++;
        bytes[out] += (long long)n;
    }
    ~copy_report() {
        const char *on = getenv("DLC_EMULATE_REPORT");
        if (!on || strcmp(on, "1") != 0) return;
        fprintf(stderr, "emulation: %lld copies to the device (%lld bytes), %lld from the device (%lld bytes)\n", copies[0],
                bytes[0], copies[1], bytes[1]);
        if (waits_ahead) fprintf(stderr, "emulation: %lld waits on copies made while a step computed\n", waits_ahead);
    }
} copy_counts;
}  // namespace

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    copy_counts.count(kind, bytes);
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    copy_counts.count(kind, bytes);
    dlc_emu::enqueue(s, [=]() { if (bytes) memmove(dst, src, bytes); });
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t s) {
    dlc_emu::enqueue(s, [=]() { memset(dst, value, bytes); });
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) {
    *s = new dlc_emu_stream;
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    return s && s->capturing ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
struct dlc_emu_event {
    bool recorded = false;
    unsigned long long kernels_at_record = 0;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) {
    *e = new dlc_emu_event;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (!e || (s && s->capturing)) return cudaErrorInvalidValue; /* the runtime never records inside a capture */
    e->recorded = true;
    e->kernels_at_record = dlc_emu::kernels_run;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned) {
    if (!e || (s && s->capturing)) return cudaErrorInvalidValue;
    if (e->recorded && dlc_emu::kernels_run > e->kernels_at_record) copy_counts.waits_ahead++;
    return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
    if (!s || s->capturing) return cudaErrorInvalidValue;
    s->capturing = true;
    s->recorded.clear();
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
    if (!s || !s->capturing) return cudaErrorInvalidValue;
    s->capturing = false;
    *graph = new dlc_emu_graph{std::move(s->recorded)};
    s->recorded.clear();
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long) {
    *exec = new dlc_emu_graph{graph->work};
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    for (auto &work : exec->work) dlc_emu::enqueue(s, work);
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    delete graph;
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    delete exec;
    return cudaSuccess;
}

/* ---- cuBLAS ------------------------------------------------------------------------------- */

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new dlc_emu_blas;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetPointerMode(cublasHandle_t h, cublasPointerMode_t mode) {
    h->mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void *, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *a, int lda, long long stride_a,
                                         const float *b, int ldb, long long stride_b, const float *beta, float *c,
                                         int ldc, long long stride_c, int batch) {
    // DLC_EMULATE_CUBLAS_FAIL=N: the Nth product of the run fails, as a GPU fault would make it.
    static long products;
    const char *fail = getenv("DLC_EMULATE_CUBLAS_FAIL");
    if (fail && ++products == atol(fail)) return CUBLAS_STATUS_EXECUTION_FAILED;
    // cuBLAS's own argument checks (column-major): a wrong leading dimension is an error there.
    auto at_least = [](int rows) { return rows > 1 ? rows : 1; };
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < at_least(ta == CUBLAS_OP_N ? m : k) ||
        ldb < at_least(tb == CUBLAS_OP_N ? k : n) || ldc < at_least(m))
        return CUBLAS_STATUS_INVALID_VALUE;
    // In host pointer mode the scalars are read now (a captured graph keeps these values); in
    // device mode they are read when the product runs.
    bool device = h->mode == CUBLAS_POINTER_MODE_DEVICE;
    float alpha_now = device ? 0.0f : *alpha, beta_now = device ? 0.0f : *beta;
    dlc_emu::enqueue(h->stream, [=]() {
        float al = device ? *alpha : alpha_now, be = device ? *beta : beta_now;
        for (int i = 0; i < batch; i++) {
            if (m == 0 || n == 0) continue;
            float *ci = c + i * stride_c;
            if (k == 0) {  // BLAS leaves C alone when k is 0 and beta is 1; cuBLAS scales it
                for (int q = 0; q < n; q++)
                    for (int r = 0; r < m; r++) ci[q * ldc + r] = be == 0.0f ? 0.0f : be * ci[q * ldc + r];
                continue;
            }
            cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                        tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, al, a + i * stride_a, lda,
                        b + i * stride_b, ldb, be, ci, ldc);
        }
    });
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *a, int lda, const float *b, int ldb, const float *beta,
                           float *c, int ldc) {
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}
