/* dlc_comm_mpi.c: the communicator of a data-parallel trainer: the processes of an MPI job.
 *
 * Built with mpicc by `dlc compile --mpi`; run with `mpirun -np K trainer train ...` (alone,
 * it is a job of one process). The gradients of a step are summed with one MPI_Allreduce over
 * their contiguous buffer (or, on GPUs, by the device's own NCCL link: dlc_device_allreduce_sum);
 * a few doubles (loss sums, metric counts, the stop flag) take a
 * second, small one. With DLC_COMM_TIMES set, rank 0 reports on stderr, at the end, the time
 * it spent in the gradient all-reduces (waiting for slower processes included).
 *
 * One voice: a process other than rank 0 sends its stdout to /dev/null and keeps its stderr in
 * an unlinked temporary file, shown only when that process fails.
 *
 * Failure during setup (a bad flag, bad data, a missing file or a bad checkpoint, seen by some
 * processes or all): the failing process calls dlc_comm_exit, whose agreement (one allreduce
 * of an int per process) meets the dlc_comm_ready of the processes that set up fine. Every
 * process learns the lowest failing rank; that one shows its messages (rank 0's went straight
 * to stderr) and every process finalizes and exits with its code: one message, not K. Setup
 * makes no other collective call, so the agreement cannot meet a different one. After setup,
 * a failure is one process's own (an index out of range in its rows, a full disk on rank 0):
 * it shows its message and MPI_Abort takes the job down. A process killed by a signal is
 * mpirun's to notice: it ends the others.
 *
 * Compiled by mpicc with -DDLC_COMM_MPI (dlc compile --mpi); otherwise it compiles to nothing. */
#ifdef DLC_COMM_MPI
#include "dlc_runtime.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, size = 1, local_rank, local_size = 1;
static int is_ready, is_closed;
static int shown_stderr = -1; /* a process other than rank 0: the stderr it was given */
static FILE *held;            /* ... and where its fd 2 writes instead */

void dlc_comm_open(int *argc, char ***argv) {
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        exit(1);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
    if (rank == 0) return;
    fflush(stdout);
    if (!freopen("/dev/null", "w", stdout)) fclose(stdout);
    held = tmpfile();
    if (held) {
        fflush(stderr);
        shown_stderr = dup(STDERR_FILENO);
        dup2(fileno(held), STDERR_FILENO);
    }
}

int dlc_comm_rank(void) { return rank; }
int dlc_comm_size(void) { return size; }
int dlc_comm_is_root(void) { return rank == 0; }
int dlc_comm_local_rank(void) { return local_rank; }
int dlc_comm_local_size(void) { return local_size; }

/* What this process wrote to stderr (since setup ended, or all of it), on the stderr it was
 * given. */
static void show_held(void) {
    fflush(stderr);
    if (!held || shown_stderr < 0) return;
    char buf[4096];
    off_t at = 0;
    ssize_t got;
    while ((got = pread(fileno(held), buf, sizeof buf, at)) > 0) {
        at += got;
        for (ssize_t done = 0; done < got;) {
            ssize_t w = write(shown_stderr, buf + done, (size_t)(got - done));
            if (w <= 0) return;
            done += w;
        }
    }
}

/* The setup agreement: each process gives 0 (set up fine) or its exit code + 1. Returns the
 * lowest rank that exits (its code in *code), or -1 when none does. */
static int agree(int mine, int *code) {
    int *codes = calloc((size_t)size, sizeof *codes);
    if (!codes) MPI_Abort(MPI_COMM_WORLD, 1);
    codes[rank] = mine;
    MPI_Allreduce(MPI_IN_PLACE, codes, size, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    int first = -1;
    for (int r = 0; r < size && first < 0; r++)
        if (codes[r]) first = r, *code = codes[r] - 1;
    free(codes);
    return first;
}

void dlc_comm_ready(void) {
    if (is_ready) return;
    int code = 0;
    if (agree(0, &code) >= 0) { /* another process failed and says so */
        MPI_Finalize();
        exit(code);
    }
    is_ready = 1;
    /* What was held back during setup duplicates rank 0's warnings: from here on, only what
     * comes after. */
    if (held) {
        fflush(stderr);
        if (ftruncate(fileno(held), 0) == 0) lseek(STDERR_FILENO, 0, SEEK_SET);
    }
}

/* MPI counts are ints: long buffers go in pieces. */
#define MPI_MAX_CHUNK (INT_MAX / 8)

static float *staging;
static int64_t staging_n;
/* Time in the gradient all-reduces, reported at the end when DLC_COMM_TIMES is set (bench/). */
static double reduce_seconds;
static int64_t reduce_calls, reduce_floats;

/* The element-wise sum over every process of n floats of device memory, in place. */
static void sum_floats(float *buf, int64_t n) {
    /* A device with a link of its own (NCCL between GPUs) sums on it; else through host memory. */
    if (dlc_device_is_host() || !dlc_device_allreduce_sum(buf, n)) {
        float *host = buf;
        if (!dlc_device_is_host()) {
            if (staging_n < n) {
                free(staging);
                staging = dlc_xmalloc(dlc_mul_size((size_t)n, sizeof(float)));
                staging_n = n;
            }
            host = staging;
            dlc_device_copy_out(host, buf, (size_t)n * sizeof(float));
        }
        for (int64_t at = 0; at < n; at += MPI_MAX_CHUNK) {
            int count = (int)(n - at < MPI_MAX_CHUNK ? n - at : MPI_MAX_CHUNK);
            MPI_Allreduce(MPI_IN_PLACE, host + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        }
        if (host != buf) dlc_device_copy_in(buf, host, (size_t)n * sizeof(float));
    }
}

void dlc_comm_allreduce_sum(float *buf, int64_t n) {
    if (size == 1 || n <= 0) return;
    double t0 = MPI_Wtime();
    sum_floats(buf, n);
    reduce_seconds += MPI_Wtime() - t0;
    reduce_calls++;
    reduce_floats = n;
}

static int split_steps;

void dlc_comm_split_steps(int on) { split_steps = on; }

/* A step's batch statistics: a few floats, several times a step (not counted in the gradient
 * all-reduce's time). */
void dlc_sum_across_processes(float *buf, int64_t n) {
    if (size > 1 && split_steps && n > 0) sum_floats(buf, n);
}

void dlc_comm_allreduce_sum_host(double *buf, int n) {
    if (size > 1 && n > 0) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void dlc_comm_broadcast(void *buf, size_t bytes, int root) {
    if (size == 1) return;
    for (size_t at = 0; at < bytes; at += MPI_MAX_CHUNK) {
        int count = (int)(bytes - at < MPI_MAX_CHUNK ? bytes - at : MPI_MAX_CHUNK);
        MPI_Bcast((char *)buf + at, count, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

_Noreturn void dlc_comm_exit(int code) {
    fflush(stdout);
    fflush(stderr);
    if (!is_ready && !is_closed) {
        int job_code = code;
        if (agree(code + 1, &job_code) == rank) show_held();
        MPI_Finalize();
        exit(job_code);
    }
    if (code == 0) {
        dlc_comm_close();
        exit(0);
    }
    dlc_comm_abort(code);
}

_Noreturn void dlc_comm_abort(int code) {
    fflush(stdout);
    show_held();
    if (!is_closed) MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

_Noreturn void dlc_comm_await_root(void) {
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD); /* rank 0 never comes: its MPI_Abort ends this process */
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
}

void dlc_comm_close(void) {
    if (is_closed) return;
    fflush(stdout);
    dlc_comm_ready(); /* a command that never needed the others still ends with them */
    is_closed = 1;
    if (rank == 0 && reduce_calls > 0 && getenv("DLC_COMM_TIMES"))
        fprintf(stderr, "comm: %d processes, %lld gradient all-reduces of %lld floats, %.6f s in all (%.1f us each)\n",
                size, (long long)reduce_calls, (long long)reduce_floats, reduce_seconds,
                1e6 * reduce_seconds / (double)reduce_calls);
    MPI_Finalize();
}

#endif /* DLC_COMM_MPI */
