/* The run context: communicator, error agreement, timers, aligned memory. */
#define _GNU_SOURCE
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "uhn/context.h"

int uhn_ctx_create(MPI_Comm comm, uhn_ctx **out) {
    *out = NULL;
    uhn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return UHN_ENOMEM;
    if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
        free(ctx);
        return UHN_EMPI;
    }
    MPI_Comm_rank(ctx->comm, &ctx->rank);
    MPI_Comm_size(ctx->comm, &ctx->size);
    ctx->nthreads = omp_get_max_threads();
    ctx->verbose = 1;
    *out = ctx;
    return UHN_OK;
}

void uhn_ctx_destroy(uhn_ctx *ctx) {
    if (!ctx) return;
    MPI_Comm_free(&ctx->comm);
    free(ctx);
}

int uhn_fail(uhn_ctx *ctx, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    for (char *c = ctx->msg; *c; ++c)
        if (*c == '\n') *c = ' '; /* one line, always */
    ctx->status = status;
    return status;
}

int uhn_agree(uhn_ctx *ctx, int status) {
    /* Lowest failing rank wins; its message is broadcast from it. */
    int mine = status != UHN_OK ? ctx->rank : ctx->size, first = ctx->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, ctx->comm) != MPI_SUCCESS)
        return uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce failed while agreeing on a status");
    if (first == ctx->size) return UHN_OK;
    int st = status;
    if (MPI_Bcast(&st, 1, MPI_INT, first, ctx->comm) != MPI_SUCCESS ||
        MPI_Bcast(ctx->msg, UHN_MSG_MAX, MPI_CHAR, first, ctx->comm) != MPI_SUCCESS)
        return uhn_fail(ctx, UHN_EMPI, "MPI_Bcast failed while agreeing on a status");
    ctx->status = st;
    return st;
}

void uhn_report(const uhn_ctx *ctx) {
    if (ctx->rank == 0 && ctx->msg[0]) fprintf(stderr, "uhn: %s\n", ctx->msg);
}

int uhn_exit_code(int status) {
    switch (status) {
    case UHN_OK:
        return 0;
    case UHN_EINPUT:
        return 2;
    case UHN_ESIGNAL:
        return 3;
    default:
        return 1;
    }
}

double uhn_wtime(void) {
    return MPI_Wtime();
}

int uhn_timers_report(uhn_ctx *ctx, const char *title) {
    double t[3] = {ctx->timers.compute, ctx->timers.reduce, ctx->timers.io};
    double mn[3], mx[3], sum[3];
    UHN_MPI(ctx, MPI_Reduce(t, mn, 3, MPI_DOUBLE, MPI_MIN, 0, ctx->comm));
    UHN_MPI(ctx, MPI_Reduce(t, mx, 3, MPI_DOUBLE, MPI_MAX, 0, ctx->comm));
    UHN_MPI(ctx, MPI_Reduce(t, sum, 3, MPI_DOUBLE, MPI_SUM, 0, ctx->comm));
    if (ctx->rank == 0 && ctx->verbose > 0) {
        static const char *names[3] = {"compute", "reduce", "io"};
        fprintf(stderr, "%s timers over %d rank(s) x %d thread(s) [s]: min / mean / max\n", title,
                ctx->size, ctx->nthreads);
        for (int i = 0; i < 3; ++i)
            fprintf(stderr, "  %-8s %10.4f %10.4f %10.4f\n", names[i], mn[i], sum[i] / ctx->size,
                    mx[i]);
    }
    return UHN_OK;
}

void *uhn_alloc(size_t bytes) {
    if (bytes == 0) return NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = NULL;
    /* Large buffers: 2 MiB alignment so the kernel can back them with huge
     * pages (first touch of 4 KiB pages is slow on this class of machine). */
    size_t align = rounded >= (8u << 20) ? (2u << 20) : 64;
    if (align == (2u << 20)) rounded = (rounded + align - 1) & ~(align - 1);
    if (posix_memalign(&p, align, rounded) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == (2u << 20)) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void uhn_free(void *p) {
    free(p);
}
