/* dlc_comm.h: the processes a trainer runs as, and what they say to each other.
 *
 * Data-parallel training (spec section 10): each of K processes takes a contiguous part of
 * every global batch, the gradients are summed across processes before the update, and every
 * process applies the same update. A trainer links exactly one implementation:
 *
 *     dlc_comm_single.c   one process (the default): every call is trivial
 *     dlc_comm_mpi.c      MPI (dlc compile --mpi, built with mpicc; run with mpirun -np K)
 *
 * One voice: only the root (rank 0) prints, logs and writes files. The other processes' stdout
 * goes nowhere, and their stderr is held back until they fail (dlc_comm_exit).
 *
 * Failure: a process that fails during setup (flags, data, checkpoints: everything before
 * dlc_comm_ready) waits in dlc_comm_exit for the others to finish setting up or fail, so that
 * one message is printed, by the lowest failing rank, and every process exits with its code.
 * After setup, a failing process prints its message and takes the whole job down at once. */
#ifndef DLC_COMM_H
#define DLC_COMM_H
#include <stddef.h>
#include <stdint.h>

/* C's _Noreturn, spelt so that C++ (the CUDA device, which opens NCCL through this header)
 * reads it too. */
#ifdef __cplusplus
#define DLC_COMM_NORETURN [[noreturn]]
#else
#define DLC_COMM_NORETURN _Noreturn
#endif

/* Opens the communicator; the first call in main (MPI_Init reads and may edit argc/argv). */
void dlc_comm_open(int *argc, char ***argv);
/* This process's rank in [0, size), the number of processes, and whether it is rank 0. */
int dlc_comm_rank(void);
int dlc_comm_size(void);
int dlc_comm_is_root(void);
/* The rank among the processes on this machine (a GPU device picks its GPU with it), and how
 * many processes of the job run on this machine (they share its cores). */
int dlc_comm_local_rank(void);
int dlc_comm_local_size(void);

/* The end of setup: returns when every process got here; exits (silently, with the failing
 * rank's code, that rank having printed its message) when any failed instead. */
void dlc_comm_ready(void);

/* In place, over one contiguous buffer of n floats in device memory (dlc_device.h): every
 * process ends with the element-wise sum over all processes. A communicator that reaches only
 * host memory copies through it. */
void dlc_comm_allreduce_sum(float *buf, int64_t n);
/* Whether the steps that run now each take a part of one global batch (training's
 * micro-steps), so that dlc_sum_across_processes (dlc_model.h: a step's batch statistics)
 * sums; off, the default, it does nothing. */
void dlc_comm_split_steps(int on);
/* The same for a few doubles in host memory (loss sums, metric counts, flags). */
void dlc_comm_allreduce_sum_host(double *buf, int n);
/* `bytes` of host memory from process `root` to every other. */
void dlc_comm_broadcast(void *buf, size_t bytes, int root);

/* Ends this process with `code`: the single process exits; an MPI process follows the rules
 * above (during setup: waits for the others, then all exit; after setup: code 0 exits after
 * the others, any other code aborts the job, after this process's stderr is shown). */
DLC_COMM_NORETURN void dlc_comm_exit(int code);
/* Takes the whole job down now with `code` (MPI_Abort); for failures after setup. */
DLC_COMM_NORETURN void dlc_comm_abort(int code);
/* Waits, printing nothing, for rank 0 to take the job down: for a failure every process finds
 * at once (a summed loss that is not finite), which rank 0 reports. Not called by rank 0. */
DLC_COMM_NORETURN void dlc_comm_await_root(void);
/* The normal end: every process calls it (main does, after the command). */
void dlc_comm_close(void);

#endif
