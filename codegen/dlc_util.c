/* dlc_util.c: error reporting, checked allocation, whole-file reading and small helpers. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT (Linux) */
#include "dlc_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Past this many located data errors the rest would only bury the first ones. */
#define DLC_MAX_DATA_ERRORS 20

static int data_errors;

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

void dlc_data_error(const char *file, int64_t line, int64_t col, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    if (line > 0 && col > 0)
        fprintf(stderr, "%s:%lld:%lld: error: ", file, (long long)line, (long long)col);
    else if (line > 0)
        fprintf(stderr, "%s:%lld: error: ", file, (long long)line);
    else
        fprintf(stderr, "%s: error: ", file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (++data_errors >= DLC_MAX_DATA_ERRORS) {
        fprintf(stderr, "error: too many errors in the data; stopping\n");
        dlc_comm_exit(1);
    }
}

int dlc_data_error_count(void) { return data_errors; }

void dlc_stop_on_data_errors(void) {
    if (data_errors > 0) dlc_comm_exit(1);
}

_Noreturn void dlc_index_error(const char *where, long idx, long size) {
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

/* ---- Reading files: plain or gzip-compressed ------------------------------------------------ */

/* Deflate expands at most 1032:1; a claim of more data than that cannot be in the file. */
#define DLC_GZ_MAX_RATIO 1032

/* zlib's reason for a failed read; its text lives in the stream, so it is copied. */
static void gz_reason(dlc_reader *r) {
    int code;
    const char *msg = gzerror((gzFile)r->gz, &code);
    size_t plen = strlen(r->path);
    /* zlib puts the file's name in front, here "<fd:N>" (gzdopen): the caller names the path. */
    if (msg && strncmp(msg, r->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0) msg += plen + 2;
    else if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ">: ")) msg = strstr(msg, ">: ") + 3;
    snprintf(r->reason, sizeof r->reason, "%s",
             code == Z_ERRNO ? strerror(errno) : msg && *msg ? msg : "corrupt compressed data");
}

int dlc_reader_open(dlc_reader *r, const char *path, const char **why) {
    memset(r, 0, sizeof *r);
    r->path = path;
    /* open() first, so that a missing file reports errno rather than zlib's vaguer error. */
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *why = strerror(errno);
        return 0;
    }
    struct stat st;
    r->file_bytes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    r->size_hint = r->file_bytes;
    unsigned char head[2], tail[4];
    if (r->file_bytes >= 18 && pread(fd, head, 2, 0) == 2 && head[0] == 0x1f && head[1] == 0x8b &&
        pread(fd, tail, 4, (off_t)r->file_bytes - 4) == 4) {
        /* gzip's trailer: the uncompressed size mod 2^32 (of the last member): a hint only. */
        uint64_t isize = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 | (uint64_t)tail[3] << 24;
        r->size_hint = isize / DLC_GZ_MAX_RATIO <= r->file_bytes ? isize : 0;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        *why = "cannot open";
        return 0;
    }
    gzbuffer(gz, 1u << 17);
    r->gz = gz;
    /* Looks at the first bytes: plain (zlib copies them through) or a gzip stream. */
    r->compressed = !gzdirect(gz);
    return 1;
}

size_t dlc_reader_read(dlc_reader *r, void *buf, size_t n) {
    size_t done = 0;
    while (done < n && !r->failed && !r->at_end) {
        size_t want = n - done;
        if (want > (1u << 30)) want = 1u << 30; /* gzread takes an unsigned count */
        int got = gzread((gzFile)r->gz, (unsigned char *)buf + done, (unsigned)want);
        if (got < 0) {
            r->failed = 1;
            gz_reason(r);
            break;
        }
        if (got == 0) r->at_end = 1;
        done += (size_t)got;
    }
    r->consumed += done;
    return done;
}

uint64_t dlc_reader_left(const dlc_reader *r) {
    if (!r->file_bytes) return UINT64_MAX; /* not a regular file: no bound known */
    if (!r->compressed) return r->file_bytes > r->consumed ? r->file_bytes - r->consumed : 0;
    if (r->file_bytes > UINT64_MAX / DLC_GZ_MAX_RATIO) return UINT64_MAX;
    uint64_t most = r->file_bytes * DLC_GZ_MAX_RATIO;
    return most > r->consumed ? most - r->consumed : 0;
}

size_t dlc_reader_capacity(const dlc_reader *r, size_t count, size_t bytes) {
    if (!r->compressed && r->file_bytes) return count; /* dlc_reader_left is exact */
    uint64_t expect = r->size_hint > r->consumed ? (r->size_hint - r->consumed) / bytes : 0;
    size_t cap = expect > ((size_t)1 << 20) ? (expect < count ? (size_t)expect : count) : (size_t)1 << 20;
    return cap < count ? cap : count;
}

const char *dlc_reader_close(dlc_reader *r) {
    if (!r->gz) return r->failed ? r->reason : NULL;
    /* A gzip stream's damage can lie past the bytes wanted: read it to its end, as a
     * whole-file read would, so that the same files are refused with the same reason. */
    if (r->compressed && !r->failed) {
        unsigned char sink[1 << 14];
        while (!r->failed && !r->at_end) dlc_reader_read(r, sink, sizeof sink);
    }
    /* A truncated gzip stream ends without an error from gzread but with one from gzclose. */
    int rc = gzclose((gzFile)r->gz);
    r->gz = NULL;
    if (!r->failed && rc != Z_OK) {
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "%s",
                 rc == Z_BUF_ERROR ? "truncated compressed data" : "corrupt compressed data");
    }
    return r->failed ? r->reason : NULL;
}

void dlc_reader_finish(dlc_reader *r) {
    const char *why = dlc_reader_close(r);
    if (why) dlc_die(1, "%s: %s", r->path, why);
}

void dlc_reader_data_error(dlc_reader *r, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dlc_reader_finish(r);
    dlc_data_error(r->path, 0, 0, "%s", msg);
}

void dlc_reader_end_values(dlc_reader *r, dlc_loaded *out, int short_read, const char *truncated, const char *bad) {
    if (short_read) {
        free(out->values);
        memset(out, 0, sizeof *out);
        dlc_reader_data_error(r, "%s", truncated);
        return;
    }
    if (bad[0]) {
        dlc_reader_data_error(r, "%s", bad);
        return;
    }
    dlc_reader_finish(r);
}

void *dlc_reader_read_grow(dlc_reader *r, size_t n, size_t *got) {
    /* Room for the expected size and one byte more, so that the end shows as a short read. */
    uint64_t expect = r->size_hint > r->consumed ? r->size_hint - r->consumed : 0;
    size_t cap = expect && expect < n ? (size_t)expect + 1 : 1u << 16, len = 0;
    if (cap > n) cap = n;
    unsigned char *buf = dlc_xmalloc(cap + 1);
    for (;;) {
        len += dlc_reader_read(r, buf + len, cap - len);
        if (len < cap || cap == n) break;
        cap = cap > n / 2 ? n : cap * 2;
        buf = dlc_xrealloc(buf, cap + 1);
    }
    buf[len] = 0;
    *got = len;
    return buf;
}

unsigned char *dlc_read_file(const char *path, size_t *size, const char **why) {
    dlc_reader r;
    if (!dlc_reader_open(&r, path, why)) return NULL;
    size_t len;
    unsigned char *buf = dlc_reader_read_grow(&r, SIZE_MAX - 1, &len);
    const char *bad = dlc_reader_close(&r);
    if (bad) {
        static char reason[sizeof r.reason];
        snprintf(reason, sizeof reason, "%s", bad);
        *why = reason;
        free(buf);
        return NULL;
    }
    *size = len;
    return buf;
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
