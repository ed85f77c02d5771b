/*
 * The run context and error handling of uhn.
 *
 * A uhn_ctx carries everything a module needs to know about where it runs (the
 * communicator, rank, size and thread count), the phase timers, and the last
 * error message of this rank. Nothing in libuhn keeps mutable global state.
 *
 * Errors: every function that can fail returns an int status (UHN_OK = 0).
 * uhn_fail() records a one-line message in the context and returns the status;
 * UHN_CALL() propagates a failing status to the caller. Input checks are agreed
 * collectively with uhn_agree() so that every rank leaves with the same status
 * and rank 0 can print the one message.
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
} uhn_timers;

typedef struct uhn_ctx {
    MPI_Comm comm; /* duplicate of the communicator given to uhn_ctx_create; owned */
    int rank;
    int size;
    int nthreads;          /* OpenMP threads used inside this rank */
    int verbose;           /* 0 quiet, 1 normal, 2 debug (rank 0 prints) */
    int status;            /* status of the last uhn_fail on this rank */
    char msg[UHN_MSG_MAX]; /* its message (one line, control characters escaped) */
    char param[32];        /* the engine parameter the message is about ("" when none) */
    uhn_timers timers;
} uhn_ctx;

/* Creates a context on a duplicate of comm. Collective over comm. */
int uhn_ctx_create(MPI_Comm comm, uhn_ctx **out);
/* Frees the context and its communicator. Collective. NULL is allowed. */
void uhn_ctx_destroy(uhn_ctx *ctx);

/* Warns (rank 0, one line on stderr) when a rank runs more OpenMP threads than
 * the cores it may run on: `mpirun -n 1` binds its rank to one core, so two
 * threads would share it. Never fails the run. Collective. */
void uhn_ctx_check_binding(uhn_ctx *ctx);

/*
 * Records a one-line error message and returns status. Not collective. Every
 * control character (C0, DEL, C1), U+2028/U+2029 and every byte that is not
 * valid UTF-8 is escaped (\xNN, \uNNNN), so that a message is one line in any
 * terminal or parser whatever the user's input held.
 */
int uhn_fail(uhn_ctx *ctx, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Like uhn_fail, for a message about one engine parameter (`beta`, `steps`,
 * `separation`, ...): the message must start with the parameter's name, and
 * the name is kept in ctx->param so that a front end can put its own label
 * there (uhn_relabel): a command-line flag or a deck key. The engine speaks of
 * parameters, never of one front end's flags. Not collective.
 */
int uhn_fail_param(uhn_ctx *ctx, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

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

/* Prints ctx->msg as "uhn: <msg>" on standard error, from rank 0 only. */
void uhn_report(const uhn_ctx *ctx);

/* Process exit code for a status: 0 for UHN_OK, 2 for UHN_EINPUT, 3 for
 * UHN_ESIGNAL, 1 otherwise. */
int uhn_exit_code(int status);

/* Wall-clock seconds (MPI_Wtime). */
double uhn_wtime(void);

/* Reduces the phase timers to min/mean/max over ranks and prints them from
 * rank 0 when ctx->verbose > 0. Collective. */
int uhn_timers_report(uhn_ctx *ctx, const char *title);

/* Propagates a failing status with the caller's location kept for debugging. */
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
