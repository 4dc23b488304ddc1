/* dlc_parallel.c: the trainer's own worker threads, for the work it splits across cores (large
 * GEMMs, optimizer updates, and the generated loops the printers split; see dlc_parallel_for
 * in dlc_model.h).
 *
 * --threads N makes N - 1 persistent workers beside the calling thread, started by the first
 * call that splits (a model too small to split never has them). A call cuts its range
 * into `parts` fixed contiguous chunks (chunk p is always the same for the same size and part
 * count); thread p claims chunk p first (so the same core keeps touching the same part of the
 * data, a weight matrix's half in its cache, call after call), then any chunk still unclaimed;
 * the caller then waits for the chunks others claimed. A chunk's result does not depend on the
 * thread that runs it, so results depend on the part count only, never on timing; and a worker
 * that the system has not scheduled (another program on the core) costs no waiting: the caller
 * runs its chunk.
 *
 * Workers wait for the next call by spinning a short while (a training step makes its calls
 * back to back), yielding the core to anything else runnable, then sleep on a condition
 * variable, so that an idle trainer, or one busy on the calling thread alone (data loading,
 * small kernels), does not burn a core. OpenBLAS runs with one thread whenever this pool has
 * workers (dlc_device_threads): its own idle workers would spin beside these. */
#include "dlc_runtime.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The most threads (and so chunks) a call is split into: one bit each in the claim word. */
#define PARALLEL_MAX_THREADS 32
#define PARALLEL_MAX_PARTS PARALLEL_MAX_THREADS
/* How long an idle worker waits for the next call before it sleeps: longer than the gaps
 * between a step's kernels, shorter than anything a person notices in `top`. */
#define PARALLEL_SPIN_NANOSECONDS 200000L
/* Spins with the pause instruction before a waiting thread starts to yield its core. */
#define PARALLEL_PAUSE_SPINS 2000
/* The work (elements of a loop) below which a kernel stays on the calling thread: waking a
 * worker, and moving the data the other core wrote last through the caches, cost about what a
 * second core saves on tens of microseconds of loop (measured on the examples: with 32 768,
 * digits_dropout and digits_cnn ran 12% and 15% slower on 2 threads than on 1; with 131 072 no
 * example is slower and bench (a) is as fast). The printers leave a kernel whose work is
 * constant and below it unsplit (Sources/Lowering/ParallelLoops.swift's minimumWork: the same
 * number). DLC_PARALLEL_MIN_WORK=W in the environment sets it (the tests split every kernel
 * they can with 0). */
#define PARALLEL_DEFAULT_MIN_WORK 131072

static struct {
    int threads;               /* the workers started and the caller */
    int active;                /* the threads calls use: the last dlc_parallel_init's count */
    int64_t min_work;          /* see PARALLEL_DEFAULT_MIN_WORK */
    /* The call in progress, set by the caller before it publishes the call in `claim`. */
    dlc_chunk_fn fn;
    void *ctx;
    int64_t n;
    int parts;
    /* The call in progress: its number (high 32 bits) and a bit per chunk claimed (low 32;
     * those past its part count are set when it is published). A thread claims chunk p of
     * call c only while this word still holds c with bit p clear, so a claim is always of an
     * unfinished chunk of the call in progress, and a late thread never takes a chunk of the
     * next call. */
    _Atomic uint64_t claim;
    atomic_int done;           /* chunks of this call finished */
    atomic_int sleepers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} pool = {.threads = 1, .active = 1, .min_work = PARALLEL_DEFAULT_MIN_WORK, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One step of a wait: the pause instruction at first, then giving the core away. */
static inline void wait_a_little(int *spins) {
    if (++*spins < PARALLEL_PAUSE_SPINS) cpu_relax();
    else sched_yield();
}

static uint32_t call_of(uint64_t claim) { return (uint32_t)(claim >> 32); }

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Whether this thread now owns chunk `part` of call `call`. */
static int claim(int part, uint32_t call) {
    uint64_t word = atomic_load(&pool.claim);
    for (;;) {
        if ((uint32_t)(word >> 32) != call || (word & (1ull << part))) return 0;
        if (atomic_compare_exchange_weak(&pool.claim, &word, word | (1ull << part))) return 1;
    }
}

/* Runs chunk `part` of the call in progress, which this thread has claimed (so the call's
 * fields stay as the caller set them until the chunk is counted done). */
static void run_chunk(int part) {
    int64_t begin = pool.n * part / pool.parts, end = pool.n * (part + 1) / pool.parts;
    if (begin < end) pool.fn(pool.ctx, begin, end, part);
    atomic_fetch_add(&pool.done, 1);
}

/* Chunk `own` of call `call` when it is still free, then every other free one. */
static void run_chunks(uint32_t call, int own) {
    if (own < PARALLEL_MAX_PARTS && claim(own, call)) run_chunk(own);
    for (;;) {
        uint64_t word = atomic_load(&pool.claim);
        uint32_t free_chunks = ~(uint32_t)word;
        if (call_of(word) != call || free_chunks == 0) return;
        int p = __builtin_ctz(free_chunks);
        if (claim(p, call)) run_chunk(p);
    }
}

typedef struct {
    int index;     /* the chunk this worker claims first */
    uint32_t seen; /* the call number when it started */
} worker_start;

static void *worker(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    uint32_t seen = start.seen;
    for (;;) {
        uint32_t call;
        int64_t since = now_ns();
        int spins = 0;
        while ((call = call_of(atomic_load(&pool.claim))) == seen) {
            wait_a_little(&spins);
            if (spins % 64 == 0 && now_ns() - since > PARALLEL_SPIN_NANOSECONDS) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleepers, 1);
                /* Sequentially consistent with the caller's publishing and its read of
                 * `sleepers`: either it sees this sleeper, or this sees its call. */
                while ((call = call_of(atomic_load(&pool.claim))) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
        seen = call;
        run_chunks(call, start.index);
    }
    return NULL;
}

void dlc_parallel_init(int threads) {
    const char *min_work = getenv("DLC_PARALLEL_MIN_WORK");
    if (min_work && *min_work) {
        char *end;
        long long w = strtoll(min_work, &end, 10);
        if (*end || w < 0) dlc_die(2, "DLC_PARALLEL_MIN_WORK must be a non-negative integer; got '%s'", min_work);
        pool.min_work = (int64_t)w;
    }
    if (threads < 1) threads = 1;
    if (threads > PARALLEL_MAX_THREADS) threads = PARALLEL_MAX_THREADS;
    pool.active = threads; /* the workers start with the first call that splits */
}

/* Starts the workers up to the active count (never taken back: a smaller count later makes
 * fewer parts). No call is in flight: each starts waiting for the one after the current. */
static void start_workers(void) {
    for (int t = pool.threads; t < pool.active; t++) {
        pthread_t id;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        worker_start *start = malloc(sizeof *start);
        if (!start) dlc_die(1, "out of memory starting worker thread %d", t);
        start->index = t;
        start->seen = call_of(atomic_load(&pool.claim));
        if (pthread_create(&id, &attr, worker, start) != 0)
            dlc_die(1, "--threads %d: cannot start worker thread %d", pool.active, t);
        pthread_attr_destroy(&attr);
        pool.threads = t + 1;
    }
}

int dlc_parallel_threads(void) { return pool.active; }

int dlc_parallel_parts(int64_t work) { return pool.active > 1 && work >= pool.min_work ? pool.active : 1; }

void dlc_parallel_for(int64_t n, int parts, dlc_chunk_fn fn, void *ctx) {
    if (parts > pool.active) parts = pool.active;
    if (parts > n) parts = (int)n;
    if (parts <= 1) {
        if (n > 0) fn(ctx, 0, n, 0);
        return;
    }
    if (pool.threads < pool.active) start_workers();
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.parts = parts;
    atomic_store(&pool.done, 0);
    uint32_t call = call_of(atomic_load(&pool.claim)) + 1;
    uint64_t past_parts = ~((1ull << parts) - 1) & 0xffffffffull; /* never claimable */
    atomic_store(&pool.claim, (uint64_t)call << 32 | past_parts); /* publishes the call */
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    run_chunks(call, 0);
    int spins = 0;
    while (atomic_load(&pool.done) < parts) wait_a_little(&spins);
}
