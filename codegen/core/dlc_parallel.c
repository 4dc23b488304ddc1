/* dlc_parallel.c: the trainer's own worker threads, for the work it splits across cores (GEMMs
 * and the host optimizer updates; see dlc_parallel_for in dlc_model.h).
 *
 * --threads N makes N - 1 persistent workers beside the calling thread. A call hands each
 * thread one contiguous chunk of a static split (thread t gets the t-th chunk, always the same
 * for the same size and thread count), runs chunk 0 itself, and returns when every chunk is
 * done: results depend on the thread count only, never on timing.
 *
 * Workers wait for the next call by spinning a short while (a training step makes its calls
 * back to back), then sleep on a condition variable, so that an idle trainer, or one whose
 * other work (data loading, the runtime's own passes) runs on the calling thread, does not
 * burn a core. OpenBLAS runs with one thread whenever this pool has workers
 * (dlc_device_threads): its own idle workers would spin beside these. */
#include "dlc_runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 256
/* How long an idle worker spins before it sleeps: longer than the gaps between a step's
 * kernels, shorter than anything a person notices in `top`. */
#define SPIN_NANOSECONDS 200000L

static struct {
    int threads; /* the workers started and the caller */
    int active;  /* the threads calls use: the last dlc_parallel_init's count */
    unsigned start_generation; /* a new worker's first generation seen */
    pthread_t workers[MAX_THREADS];
    /* The call in progress: set by the caller before it bumps `generation`. */
    dlc_chunk_fn fn;
    void *ctx;
    int64_t n;
    int parts;
    atomic_uint generation;
    atomic_int pending; /* workers still running chunks of this call */
    atomic_int sleepers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} pool = {.threads = 1, .active = 1, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Chunk `part` of `parts` over [0, n): [n·part/parts, n·(part+1)/parts). */
static void run_part(int part) {
    int64_t begin = pool.n * part / pool.parts, end = pool.n * (part + 1) / pool.parts;
    if (begin < end) pool.fn(pool.ctx, begin, end, part);
}

static void *worker(void *arg) {
    const int part = (int)(intptr_t)arg;
    unsigned seen = pool.start_generation;
    for (;;) {
        unsigned g;
        int64_t since = now_ns();
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
            cpu_relax();
            if (++spins % 256 == 0 && now_ns() - since > SPIN_NANOSECONDS) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleepers, 1);
                /* Sequentially consistent with the caller's bump and its read of `sleepers`:
                 * either it sees this sleeper, or this sees its generation. */
                while ((g = atomic_load(&pool.generation)) == seen)
                    pthread_cond_wait(&pool.wake, &pool.lock);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
        seen = g;
        if (part < pool.parts) run_part(part);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel);
    }
    return NULL;
}

void dlc_parallel_init(int threads) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pool.active = threads;
    if (threads <= pool.threads) return; /* workers are never taken back; a smaller count uses fewer parts */
    pool.start_generation = atomic_load(&pool.generation); /* no call is in flight */
    for (int t = pool.threads; t < threads; t++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&pool.workers[t], &attr, worker, (void *)(intptr_t)t) != 0)
            dlc_die(1, "--threads %d: cannot start worker thread %d", threads, t);
        pthread_attr_destroy(&attr);
        pool.threads = t + 1;
    }
}

int dlc_parallel_threads(void) { return pool.active; }

void dlc_parallel_for(int64_t n, int parts, dlc_chunk_fn fn, void *ctx) {
    if (parts > pool.active) parts = pool.active;
    if (parts > n) parts = (int)n;
    if (parts <= 1) {
        if (n > 0) fn(ctx, 0, n, 0);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.parts = parts;
    /* Every worker answers each call (those past `parts` with nothing to do), so that none
     * misses a generation. */
    atomic_store_explicit(&pool.pending, pool.threads - 1, memory_order_relaxed);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    run_part(0);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) cpu_relax();
}
