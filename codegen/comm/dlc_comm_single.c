/* dlc_comm_single.c: the communicator of a trainer that runs as one process (the default).
 *
 * Rank 0 of 1: every sum and broadcast is the identity, and exiting is exit().
 *
 * Compiles to nothing under -DDLC_COMM_MPI, where dlc_comm_mpi.c is the communicator. */
#ifndef DLC_COMM_MPI
#include "dlc_runtime.h"

#include <stdlib.h>

void dlc_comm_open(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
}

int dlc_comm_rank(void) { return 0; }
int dlc_comm_size(void) { return 1; }
int dlc_comm_is_root(void) { return 1; }
int dlc_comm_local_rank(void) { return 0; }
int dlc_comm_local_size(void) { return 1; }

void dlc_comm_ready(void) {}

void dlc_comm_allreduce_sum(float *buf, int64_t n) {
    (void)buf;
    (void)n;
}

void dlc_comm_split_steps(int on) { (void)on; }

void dlc_sum_across_processes(float *buf, int64_t n) {
    (void)buf;
    (void)n;
}

void dlc_comm_allreduce_sum_host(double *buf, int n) {
    (void)buf;
    (void)n;
}

void dlc_comm_broadcast(void *buf, size_t bytes, int root) {
    (void)buf;
    (void)bytes;
    (void)root;
}

_Noreturn void dlc_comm_exit(int code) { exit(code); }

_Noreturn void dlc_comm_abort(int code) { exit(code); }

_Noreturn void dlc_comm_await_root(void) { exit(1); } /* the only process is rank 0: never called */

void dlc_comm_close(void) {}

#endif /* DLC_COMM_MPI */
