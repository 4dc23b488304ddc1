/* fuzz_support.c: one reader call per fuzz input, all in one process.
 *
 * The runtime ends a command with exit() when its input is bad: that is its contract. A
 * fuzzer runs millions of inputs in one process, so scripts/fuzz.sh renames, in the runtime's
 * objects only (objcopy --redefine-sym), the calls of exit, of the allocator, of the calls
 * that open files and zlib streams, and the stderr stream, to the dlc_fuzz_* functions here.
 * exit() then jumps back to dlc_fuzz_run, which releases what the call still held, as the end
 * of the process would have. The runtime's messages go to /dev/null; libFuzzer's and the
 * sanitizers' reports still reach stderr. A finding is thus a memory error, undefined
 * behaviour, a crash, a hang or runaway memory: never a refused input. */
#include "fuzz_support.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- What one input's call holds -------------------------------------------------------------- */

/* Live allocations of the call under way: an open-addressing set of pointers. */
static void **live;
static size_t live_cap, live_count;
static int tracking;

static size_t slot_of(const void *p) { return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull % live_cap; }

static void live_add(void *p);

static void live_grow(void) {
    void **old = live;
    size_t old_cap = live_cap;
    live_cap = live_cap ? live_cap * 2 : 1024;
    live = calloc(live_cap, sizeof *live);
    if (!live) abort();
    live_count = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) live_add(old[i]);
    free(old);
}

static void live_add(void *p) {
    if (!p) return;
    if (2 * (live_count + 1) > live_cap) live_grow();
    size_t i = slot_of(p);
    while (live[i]) i = (i + 1) % live_cap;
    live[i] = p;
    live_count++;
}

/* Removes p (linear probing: the entries after it move back to close the gap). */
static void live_remove(void *p) {
    if (!p || !live_cap) return;
    size_t i = slot_of(p);
    while (live[i] && live[i] != p) i = (i + 1) % live_cap;
    if (!live[i]) return; /* allocated before the call began */
    live[i] = NULL;
    live_count--;
    for (size_t j = (i + 1) % live_cap; live[j]; j = (j + 1) % live_cap) {
        void *q = live[j];
        live[j] = NULL;
        live_count--;
        live_add(q);
    }
}

enum { MAX_OPEN = 64 };
static int open_fds[MAX_OPEN], n_fds;
static FILE *open_files[MAX_OPEN];
static int n_files;
static z_stream *open_streams[MAX_OPEN];
static int n_streams;

/* ---- The runtime's calls, renamed to these -------------------------------------------------- */

static jmp_buf back;
static int in_call, exit_code;

_Noreturn void dlc_fuzz_exit(int code) {
    if (!in_call) exit(code);
    exit_code = code;
    longjmp(back, 1);
}

void *dlc_fuzz_malloc(size_t n) {
    void *p = malloc(n);
    if (tracking) live_add(p);
    return p;
}

void *dlc_fuzz_calloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (tracking) live_add(p);
    return p;
}

void *dlc_fuzz_aligned_alloc(size_t alignment, size_t n) {
    void *p = aligned_alloc(alignment, n);
    if (tracking) live_add(p);
    return p;
}

void *dlc_fuzz_realloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (tracking && q) {
        live_remove(p);
        live_add(q);
    }
    return q;
}

void dlc_fuzz_free(void *p) {
    if (tracking) live_remove(p);
    free(p);
}

int dlc_fuzz_open(const char *path, int flags, ...) {
    int fd = open(path, flags & ~O_CREAT); /* readers only: nothing is created */
    if (fd >= 0 && n_fds < MAX_OPEN) open_fds[n_fds++] = fd;
    return fd;
}

int dlc_fuzz_close(int fd) {
    for (int i = 0; i < n_fds; i++)
        if (open_fds[i] == fd) open_fds[i] = open_fds[--n_fds];
    return close(fd);
}

FILE *dlc_fuzz_fopen(const char *path, const char *mode) {
    FILE *f = fopen(path, mode);
    if (f && n_files < MAX_OPEN) open_files[n_files++] = f;
    return f;
}

int dlc_fuzz_fclose(FILE *f) {
    for (int i = 0; i < n_files; i++)
        if (open_files[i] == f) open_files[i] = open_files[--n_files];
    return fclose(f);
}

int dlc_fuzz_inflateInit2_(z_streamp z, int window_bits, const char *version, int stream_size) {
    int rc = inflateInit2_(z, window_bits, version, stream_size);
    if (rc == Z_OK && n_streams < MAX_OPEN) open_streams[n_streams++] = z;
    return rc;
}

int dlc_fuzz_inflateEnd(z_streamp z) {
    for (int i = 0; i < n_streams; i++)
        if (open_streams[i] == z) open_streams[i] = open_streams[--n_streams];
    return inflateEnd(z);
}

FILE *dlc_fuzz_stderr;

/* ---- Running one input ------------------------------------------------------------------------ */

static char scratch[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/dlc-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        abort();
    }
    dlc_fuzz_stderr = fopen("/dev/null", "w");
    int null = open("/dev/null", O_WRONLY);
    if (!dlc_fuzz_stderr || null < 0) abort();
    dup2(null, 1); /* the runtime's printf and stdout: libFuzzer reports on stderr */
    close(null);
    /* OpenBLAS starts worker threads when it loads; idle, they spin in sched_yield and take
     * the CPU from the fuzzer. No reader calls BLAS: one thread, the workers stopped. */
    dlc_set_threads(&dlc_fuzz_model, 1, 1);
    return 0;
}

int dlc_fuzz_run(void (*body)(const uint8_t *data, size_t size), const uint8_t *data, size_t size) {
    exit_code = -1;
    tracking = 1;
    in_call = 1;
    if (setjmp(back) == 0) body(data, size);
    in_call = 0;
    tracking = 0;
    /* What the call still held: zlib streams first (their state lives in tracked memory). */
    while (n_streams) inflateEnd(open_streams[--n_streams]);
    while (n_files) fclose(open_files[--n_files]);
    while (n_fds) close(open_fds[--n_fds]);
    for (size_t i = 0; i < live_cap; i++)
        if (live[i]) {
            free(live[i]);
            live[i] = NULL;
        }
    live_count = 0;
    dlc_data_errors_reset();
    return exit_code;
}

const char *dlc_fuzz_file(const char *name, const void *data, size_t size) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, (const char *)data + done, size - done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
    close(fd);
    return path;
}

unsigned char *dlc_fuzz_gzip(const void *data, size_t size, size_t *out_size) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)size) + 32;
    unsigned char *out = malloc(cap);
    if (!out) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_size = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}
