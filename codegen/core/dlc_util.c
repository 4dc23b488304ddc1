/* dlc_util.c: error reporting, checked allocation, the can-it-be-written probe of outputs, stop
 * signals (Ctrl-C, SIGTERM), stdout's write errors, and small helpers. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT (Linux) */
#include "dlc_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Noreturn void dlc_die(int code, const char *fmt, ...) {
    va_list ap;
    dlc_progress_abandon(); /* a half-drawn progress bar would run into the message */
    fflush(stdout);
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    dlc_comm_exit(code);
}

_Noreturn void dlc_index_error(const char *where, long idx, long size) {
    dlc_locate_index_error(where, idx, size); /* reports the data row behind it, when there is one */
    dlc_die(1, "%s: index %ld is out of range for a first axis of %ld", where, idx, size);
}

static void *check(void *p) {
    if (!p) dlc_die(1, "out of memory");
    return p;
}

void *dlc_xmalloc(size_t bytes) { return check(malloc(bytes ? bytes : 1)); }
void *dlc_xcalloc(size_t count, size_t size) { return check(calloc(count ? count : 1, size ? size : 1)); }
void *dlc_xrealloc(void *p, size_t bytes) { return check(realloc(p, bytes ? bytes : 1)); }

char *dlc_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(dlc_xmalloc(n), s, n);
}

void *dlc_aligned_alloc(size_t bytes) {
    /* aligned_alloc wants a multiple of the alignment. */
    size_t rounded = (bytes + 63) / 64 * 64;
    return check(aligned_alloc(64, rounded ? rounded : 64));
}

size_t dlc_mul_size(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) dlc_die(1, "out of memory (size overflow)");
    return n * size;
}

/* Stop signals held back for a moment that must not be cut short: the flags are read before
 * the stop signals are caught (their default action ends the process at once), and a probe
 * file created and removed in between would stay behind. Held with a handler, not a signal
 * mask: OpenBLAS's threads may be running, and a signal goes to any thread that does not block
 * it. On release the old handlers come back and a held signal is raised again, so it does what
 * it would have done, a moment later. */
enum { STOP_SIGNALS = 2 };
static const int stop_signals[STOP_SIGNALS] = {SIGINT, SIGTERM};
static struct sigaction stop_actions_before_hold[STOP_SIGNALS];
static volatile sig_atomic_t held_stop_signal;

/* Sets `handler` for SIGINT and SIGTERM, reads and writes in progress going on (SA_RESTART); the
 * actions they had go to `before` unless it is NULL. */
static void set_stop_handler(void (*handler)(int), struct sigaction before[STOP_SIGNALS]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int i = 0; i < STOP_SIGNALS; i++) sigaction(stop_signals[i], &sa, before ? &before[i] : NULL);
}

static void on_held(int sig) {
    if (!held_stop_signal) held_stop_signal = sig;
}

static void hold_stop_signals(void) {
    held_stop_signal = 0;
    set_stop_handler(on_held, stop_actions_before_hold);
}

static void release_stop_signals(void) {
    for (int i = 0; i < STOP_SIGNALS; i++) sigaction(stop_signals[i], &stop_actions_before_hold[i], NULL);
    int sig = held_stop_signal;
    held_stop_signal = 0;
    if (sig) raise(sig);
}

void dlc_check_writable(const char *flag, const char *path, int in_place) {
    if (!dlc_comm_is_root()) return; /* only rank 0 of a job writes files */
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) dlc_die(2, "%s: cannot write '%s': %s", flag, path, strerror(EISDIR));
    int fd;
    if (in_place && exists) {
        fd = open(path, O_WRONLY | O_APPEND);
    } else {
        /* The temporary file the writer itself will use, created and removed at once. */
        size_t n = strlen(path) + 32;
        char *probe = dlc_xmalloc(n);
        snprintf(probe, n, "%s.tmp-%ld", path, (long)getpid());
        hold_stop_signals(); /* the probe must not outlive a stop signal that lands now */
        fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) unlink(probe);
        release_stop_signals();
        free(probe);
    }
    if (fd < 0) dlc_die(2, "%s: cannot write '%s': %s", flag, path, strerror(errno));
    close(fd);
}

/* ---- Stop signals ---------------------------------------------------------------------------- */

volatile sig_atomic_t dlc_stop_signal;

/* Under mpirun, stdout and stderr are pipes or ptys that mpirun stops reading once it is ending
 * the job (Ctrl-C on mpirun: SIGCONT, then SIGTERM a second later, then SIGKILL). A process
 * blocked writing a progress line into a full one would never reach the update where the
 * processes agree to stop, and SIGKILL would end the job unsaved. So in a run of several
 * processes a stop signal makes them non-blocking: the blocked write gives up (EAGAIN, reported
 * at exit) and the process goes on to stop and save. A launcher always relays a process's
 * output, so these are never a user's terminal shared with a shell; a single process's are left
 * alone. */
static int unblock_pipes_on_stop[3];

static void on_stop(int sig) {
    dlc_stop_signal = sig;
    for (int fd = 1; fd <= 2; fd++)
        if (unblock_pipes_on_stop[fd]) {
            int flags = fcntl(fd, F_GETFL); /* async-signal-safe */
            if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        }
}

void dlc_catch_stop_signals(void) {
    for (int fd = 1; fd <= 2; fd++) {
        struct stat st;
        unblock_pipes_on_stop[fd] = dlc_comm_size() > 1 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
    }
    set_stop_handler(on_stop, NULL);
}

int dlc_stop_status(void) { return 128 + dlc_stop_signal; }

const char *dlc_stop_word(void) { return dlc_stop_signal == SIGTERM ? "terminated" : "interrupted"; }

/* Why stdout first failed (errno of the flush), for the message at exit. */
static int stdout_errno;

void dlc_flush_stdout(void) {
    if (fflush(stdout) != 0 && !stdout_errno) stdout_errno = errno;
}

int dlc_finish_stdout(int status) {
    dlc_flush_stdout();
    if (!stdout_errno && !ferror(stdout)) return status;
    fprintf(stderr, "error: cannot write the standard output: %s\n", stdout_errno ? strerror(stdout_errno) : "write error");
    return status ? status : 1;
}

double dlc_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int dlc_cpu_count(void) {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int dlc_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void dlc_str_add(dlc_str *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) return;
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = (b->len + (size_t)need + 1) * 2;
        b->s = dlc_xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

const char *dlc_shape_string(char *buf, size_t cap, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}
