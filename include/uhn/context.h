/*
 * The run context and error handling of uhn.
 *
 * A uhn_ctx carries everything a module needs to know about where it runs (the
 * communicator, rank, size and thread count), the phase timers, and the last
 * error message of this rank. Nothing in libuhn keeps mutable global state.
 *
 * Errors: every function that can fail returns an int status (UHN_OK = 0).
 * uhn_fail() records a one-line message in the context, with the source file
 * and line that raised it, and returns the status; UHN_CALL() propagates a
 * failing status to the caller. Input checks are agreed collectively with
 * uhn_agree() so that every rank leaves with the same status and rank 0 can
 * print the one message. MPI errors on the context's communicators are
 * returned (MPI_ERRORS_RETURN), never fatal inside the library: every MPI call
 * is checked (UHN_MPI) and becomes a status like any other.
 *
 * A program ends with uhn_finish(), which also ends a job where one rank
 * failed alone (an allocation, a read) while the others wait in a collective:
 * that rank prints its own line and aborts the job instead of leaving it hung.
 */
#ifndef UHN_CONTEXT_H
#define UHN_CONTEXT_H

#include <mpi.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. UHN_EINPUT is a user error (bad file, option, data): exit 2. */
enum {
    UHN_OK = 0,
    UHN_EINPUT = 2,
    UHN_EIO = 3,       /* a file could not be written or read for a system reason */
    UHN_ENOMEM = 4,    /* an allocation failed */
    UHN_EMPI = 5,      /* an MPI call failed */
    UHN_EINTERNAL = 6, /* a broken invariant: a bug in uhn */
    UHN_ESIGNAL = 7    /* stopped by a signal after a clean checkpoint */
};

/* Global row indices of the memory bank, and their MPI datatype. */
typedef int64_t uhn_gidx;
#define UHN_MPI_GIDX MPI_INT64_T

#define UHN_MSG_MAX 1024

/* Per-phase wall-clock seconds accumulated on this rank. */
typedef struct uhn_timers {
    double compute; /* local scoring, separation and projection */
    double reduce;  /* the global reductions */
    double io;      /* reading and writing HDF5 */
    double step1;   /* of compute + reduce, the first step of each batch of a recall (with
                       its one-time work: a pooled copy of the bank, fresh pages) */
} uhn_timers;

typedef struct uhn_ctx {
    MPI_Comm comm; /* duplicate of the communicator given to uhn_ctx_create; owned */
    MPI_Comm fin;  /* a second duplicate, used only by uhn_finish's handshake */
    int rank;
    int size;
    int nthreads;          /* OpenMP threads used inside this rank */
    int cpus;              /* CPUs the rank may run on, as launched (before any pinning) */
    int pinned;            /* ranks whose threads uhn pinned, one per CPU (uhn_ctx_check_binding) */
    int verbose;           /* 0 quiet, 1 normal, 2 debug (rank 0 prints) */
    int status;            /* status of the last uhn_fail on this rank */
    char msg[UHN_MSG_MAX]; /* its message (one line, control characters escaped) */
    char param[32];        /* the engine parameter the message is about ("" when none) */
    char where[64];        /* source file:line that raised the message (e.g. core/bank.c:48) */
    int fault_site;        /* injected fault (test builds, UHN_FAULT): site id, -1 when none */
    int fault_rank;        /* ... the rank it fails on */
    int fault_hit;         /* ... and the hit of the site that fails (1 = the first) */
    int fault_count;       /* ... hits of that site on this rank so far */
    uhn_timers timers;
} uhn_ctx;

/* Creates a context on a duplicate of comm, with MPI_ERRORS_RETURN on it.
 * Collective over comm. */
int uhn_ctx_create(MPI_Comm comm, uhn_ctx **out);

/*
 * Checks what the program runs with, collectively: the thread level the MPI
 * library provides (MPI_THREAD_FUNNELED is needed when a rank runs more than
 * one OpenMP thread: only the master thread calls MPI) and, in builds with
 * fault injection, the UHN_FAULT variable. Fails with one line. Collective.
 */
int uhn_ctx_check(uhn_ctx *ctx);
/* Frees the context and its communicator. Collective. NULL is allowed. */
void uhn_ctx_destroy(uhn_ctx *ctx);

/*
 * Warns (rank 0, one line on stderr) when a rank runs more OpenMP threads than
 * the cores it may run on: `mpirun -n 1` binds its rank to one core, so two
 * threads would share it. Pins each thread of a rank to one CPU where the
 * rank may run on exactly as many CPUs as it runs threads, no other rank of
 * the node may use them, and OMP_PROC_BIND and OMP_PLACES are unset (the
 * user's binding wins): unbound threads of one rank can share a core for
 * milliseconds until the scheduler moves one. Sets ctx->pinned. Never fails
 * the run. Collective.
 */
void uhn_ctx_check_binding(uhn_ctx *ctx);

/*
 * Records a one-line error message and returns status. Not collective. Every
 * control character (C0, DEL, C1), U+2028/U+2029 and every byte that is not
 * valid UTF-8 is escaped (\xNN, \uNNNN), so that a message is one line in any
 * terminal or parser whatever the user's input held.
 */
int uhn_fail_at(uhn_ctx *ctx, int status, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define uhn_fail(ctx, status, ...) uhn_fail_at((ctx), (status), __FILE__, __LINE__, __VA_ARGS__)

/*
 * Like uhn_fail, for a message about one engine parameter (`beta`, `steps`,
 * `separation`, ...): the message must start with the parameter's name, and
 * the name is kept in ctx->param so that a front end can put its own label
 * there (uhn_relabel): a command-line flag or a deck key. The engine speaks of
 * parameters, never of one front end's flags. Not collective.
 */
int uhn_fail_param_at(uhn_ctx *ctx, int status, const char *file, int line, const char *param,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define uhn_fail_param(ctx, status, ...)                                                           \
    uhn_fail_param_at((ctx), (status), __FILE__, __LINE__, __VA_ARGS__)

/*
 * When ctx->msg is about parameter ctx->param, replaces the parameter's name
 * at the start of the message by `label` and a separator: sep = " " gives
 * "--beta must be ...", sep = ": " gives "deck.ini:4: [network] beta: must be
 * ...". Returns 1 when relabelled, 0 otherwise. Not collective (call it on
 * every rank after uhn_agree; the parameter is agreed with the message).
 */
int uhn_relabel(uhn_ctx *ctx, const char *label, const char *sep);

/*
 * Agrees on a status across all ranks. Collective over ctx->comm. Returns
 * UHN_OK when every rank passed status == UHN_OK; otherwise returns the status
 * of the lowest-numbered failing rank and copies that rank's message into
 * ctx->msg on every rank.
 */
int uhn_agree(uhn_ctx *ctx, int status);

/* Prints ctx->msg as "uhn: <msg>" on standard error, from rank 0 only; with
 * ctx->verbose > 1 (--verbose) a second line says where it was raised. */
void uhn_report(const uhn_ctx *ctx);

/*
 * Ends a program's use of uhn: every rank calls it with its own status. When
 * every rank arrives, the status is agreed (the lowest failing rank's), rank 0
 * reports it (uhn_report) and it is returned on every rank. A rank that failed
 * while some other rank has not arrived within UHN_FINISH_GRACE seconds (that
 * rank is waiting in a collective the failed rank will never join, or still
 * computing a result that can no longer be written) prints
 * "uhn: rank R: <msg>" and calls MPI_Abort with the status's exit code: the
 * job ends with that one line and no hang. A rank that succeeded waits.
 * Collective.
 */
int uhn_finish(uhn_ctx *ctx, int status);
#define UHN_FINISH_GRACE 3.0

/* Process exit code for a status: 0 for UHN_OK, 2 for UHN_EINPUT, 3 for
 * UHN_ESIGNAL, 1 otherwise. */
int uhn_exit_code(int status);

/* Wall-clock seconds (MPI_Wtime). */
double uhn_wtime(void);

/* Reduces the phase timers to min/mean/max over ranks and prints them from
 * rank 0 when ctx->verbose > 0. Collective. */
int uhn_timers_report(uhn_ctx *ctx, const char *title);

/* Propagates a failing status; where it was raised stays in ctx->where. */
#define UHN_CALL(expr)                                                                             \
    do {                                                                                           \
        int uhn_call_rc_ = (expr);                                                                 \
        if (uhn_call_rc_ != UHN_OK) return uhn_call_rc_;                                           \
    } while (0)

/* Checks an MPI call; on failure records the location and returns UHN_EMPI. */
#define UHN_MPI(ctx, call)                                                                         \
    do {                                                                                           \
        if ((call) != MPI_SUCCESS)                                                                 \
            return uhn_fail((ctx), UHN_EMPI, "MPI call failed at %s:%d: %s", __FILE__, __LINE__,   \
                            #call);                                                                \
    } while (0)

/* Debug-only invariant check (never a bare assert in MPI code). */
#ifndef NDEBUG
#define UHN_ASSERT(ctx, cond)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return uhn_fail((ctx), UHN_EINTERNAL, "internal error at %s:%d: %s", __FILE__,         \
                            __LINE__, #cond);                                                      \
    } while (0)
#else
#define UHN_ASSERT(ctx, cond) ((void)0)
#endif

/* 64-byte aligned allocation (huge pages advised for large buffers); free with
 * uhn_free. Returns NULL on failure or when bytes == 0. */
void *uhn_alloc(size_t bytes);
void uhn_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
