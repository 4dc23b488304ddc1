/* dlc_reader.c: files read front to back, plain or gzip-compressed.
 *
 * A file that starts with gzip's magic bytes is inflated here with zlib's inflate, member by
 * member (`cat a.gz b.gz` is one valid stream, as gzip reads it). Whatever follows the last
 * member must be another member: anything else is refused as garbage after the compressed
 * data (zlib's gzread would drop it silently), and so are a stream that ends inside a member
 * and one that zlib finds damaged. Any other file is read as it is, with read(), large
 * requests straight into the caller's buffer. */
#include "dlc_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Deflate expands at most 1032:1; a claim of more data than that cannot be in the file. */
#define DLC_GZ_MAX_RATIO 1032
#define DLC_GZ_IN_BYTES (1u << 17)

/* The state of a gzip file: zlib's stream and the compressed bytes read ahead of it. */
struct dlc_inflate {
    z_stream z;
    uint64_t in_offset;      /* compressed bytes read from the file so far */
    int in_member;           /* inside a member (its end not reached yet) */
    unsigned char in[DLC_GZ_IN_BYTES];
};

static void reader_fail(dlc_reader *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->failed = 1;
}

/* read() of up to n bytes, retried after a signal; 0 at the end of the file, -1 on error. */
static ssize_t read_some(int fd, void *buf, size_t n) {
    for (;;) {
        ssize_t got = read(fd, buf, n);
        if (got >= 0 || errno != EINTR) return got;
    }
}

int dlc_reader_open(dlc_reader *r, const char *path, const char **why) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fd = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *why = strerror(errno);
        return 0;
    }
    struct stat st;
    r->file_bytes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    r->size_hint = r->file_bytes;
    /* The first two bytes say whether this is a gzip stream (a pipe cannot be read twice:
     * they are kept, and a plain file's reads start with them). */
    size_t have = 0;
    while (have < 2) {
        ssize_t got = read_some(fd, r->ahead + have, 2 - have);
        if (got < 0) {
            *why = strerror(errno);
            close(fd);
            return 0;
        }
        if (got == 0) break;
        have += (size_t)got;
    }
    r->fd = fd;
    r->ahead_len = (int)have;
    if (have < 2 || r->ahead[0] != 0x1f || r->ahead[1] != 0x8b) return 1;

    r->compressed = 1;
    struct dlc_inflate *gz = dlc_xcalloc(1, sizeof *gz);
    r->gz = gz;
    if (inflateInit2(&gz->z, 15 + 16) != Z_OK) { /* 15 + 16: a gzip wrapper, any window */
        reader_fail(r, "out of memory");
        return 1;
    }
    memcpy(gz->in, r->ahead, 2);
    gz->z.next_in = gz->in;
    gz->z.avail_in = 2;
    gz->in_offset = 2;
    gz->in_member = 1;
    r->ahead_len = 0;
    unsigned char tail[4];
    if (r->file_bytes >= 18 && pread(fd, tail, 4, (off_t)r->file_bytes - 4) == 4) {
        /* gzip's trailer: the uncompressed size mod 2^32 (of the last member): a hint only. */
        uint64_t isize = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 | (uint64_t)tail[3] << 24;
        r->size_hint = isize / DLC_GZ_MAX_RATIO <= r->file_bytes ? isize : 0;
    } else {
        r->size_hint = 0;
    }
    return 1;
}

/* More compressed bytes after the ones not yet inflated: how many came (0 at the end of the
 * file), or -1 after a read error. */
static ssize_t refill(dlc_reader *r) {
    struct dlc_inflate *gz = r->gz;
    z_stream *z = &gz->z;
    if (z->avail_in && z->next_in != gz->in) memmove(gz->in, z->next_in, z->avail_in);
    z->next_in = gz->in;
    ssize_t got = read_some(r->fd, gz->in + z->avail_in, DLC_GZ_IN_BYTES - z->avail_in);
    if (got < 0) {
        reader_fail(r, "%s", strerror(errno));
        return -1;
    }
    z->avail_in += (uInt)got;
    gz->in_offset += (uint64_t)got;
    return got;
}

/* At the end of a member: the end of the file, another member, or garbage (refused). */
static void after_member(dlc_reader *r) {
    struct dlc_inflate *gz = r->gz;
    z_stream *z = &gz->z;
    while (z->avail_in < 2) {
        ssize_t got = refill(r);
        if (got < 0) return;
        if (got == 0) break;
    }
    if (z->avail_in == 0) {
        r->at_end = 1;
        return;
    }
    if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
        inflateReset(&gz->z);
        gz->in_member = 1;
        return;
    }
    uint64_t at = gz->in_offset - z->avail_in; /* the first byte after the last member */
    if (r->file_bytes > at)
        reader_fail(r, "%llu byte%s of garbage after the compressed data (from byte %llu)",
             (unsigned long long)(r->file_bytes - at), r->file_bytes - at == 1 ? "" : "s", (unsigned long long)at);
    else
        reader_fail(r, "garbage after the compressed data (from byte %llu)", (unsigned long long)at);
}

static size_t inflate_some(dlc_reader *r, unsigned char *buf, size_t n) {
    struct dlc_inflate *gz = r->gz;
    z_stream *z = &gz->z;
    size_t done = 0;
    while (done < n && !r->failed && !r->at_end) {
        if (!gz->in_member) {
            after_member(r);
            continue;
        }
        if (z->avail_in == 0) {
            ssize_t got = refill(r);
            if (got < 0) break;
            if (got == 0) {
                reader_fail(r, "truncated compressed data");
                break;
            }
        }
        uInt chunk = n - done > (1u << 30) ? 1u << 30 : (uInt)(n - done); /* zlib counts in uInt */
        z->next_out = buf + done;
        z->avail_out = chunk;
        int rc = inflate(z, Z_NO_FLUSH);
        done += chunk - z->avail_out;
        if (rc == Z_STREAM_END) gz->in_member = 0;
        else if (rc == Z_MEM_ERROR) reader_fail(r, "out of memory");
        else if (rc != Z_OK && rc != Z_BUF_ERROR) reader_fail(r, "%s", z->msg ? z->msg : "corrupt compressed data");
    }
    return done;
}

size_t dlc_reader_read(dlc_reader *r, void *buf, size_t n) {
    unsigned char *out = buf;
    size_t done = 0;
    if (r->compressed) {
        done = inflate_some(r, out, n);
    } else {
        for (; done < n && r->ahead_used < r->ahead_len; done++) out[done] = r->ahead[r->ahead_used++];
        while (done < n && !r->failed && !r->at_end) {
            ssize_t got = read_some(r->fd, out + done, n - done > (1u << 30) ? 1u << 30 : n - done);
            if (got < 0) reader_fail(r, "%s", strerror(errno));
            else if (got == 0) r->at_end = 1;
            else done += (size_t)got;
        }
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

uint64_t dlc_reader_skip_rest(dlc_reader *r) {
    uint64_t before = r->consumed;
    if (!r->compressed && r->file_bytes) {
        /* A plain regular file: its size says it. */
        uint64_t rest = dlc_reader_left(r);
        r->consumed += rest;
        r->at_end = 1;
        return rest;
    }
    unsigned char sink[1 << 14];
    while (!r->failed && !r->at_end) dlc_reader_read(r, sink, sizeof sink);
    return r->consumed - before;
}

const char *dlc_reader_close(dlc_reader *r) {
    if (r->fd < 0) return r->failed ? r->reason : NULL;
    /* A gzip stream's damage can lie past the bytes wanted: read it to its end, as a
     * whole-file read would, so that the same files are refused with the same reason. */
    if (r->compressed && !r->failed) dlc_reader_skip_rest(r);
    if (r->gz) {
        inflateEnd(&r->gz->z);
        free(r->gz);
        r->gz = NULL;
    }
    close(r->fd);
    r->fd = -1;
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
    /* The header says where the data ends: more bytes after it are a damaged or
     * misdescribed file (a shape that lost rows), not data to ignore. */
    uint64_t end = r->consumed, extra = dlc_reader_skip_rest(r);
    if (extra && !r->failed) {
        dlc_reader_data_error(r, "%llu byte%s after the data (the header's shape ends at byte %llu%s)",
                              (unsigned long long)extra, extra == 1 ? "" : "s", (unsigned long long)end,
                              r->compressed ? " of the decompressed stream" : "");
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
