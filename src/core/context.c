/* The run context: communicator, error agreement, timers, aligned memory. */
#define _GNU_SOURCE
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/fault.h"
#include "uhn/context.h"

int uhn_ctx_create(MPI_Comm comm, uhn_ctx **out) {
    *out = NULL;
    uhn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return UHN_ENOMEM;
    if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
        free(ctx);
        return UHN_EMPI;
    }
    if (MPI_Comm_dup(comm, &ctx->fin) != MPI_SUCCESS) {
        MPI_Comm_free(&ctx->comm);
        free(ctx);
        return UHN_EMPI;
    }
    /* Errors of MPI calls on uhn's communicators come back as return codes,
     * which every call site checks, so that one line names the failed call. */
    MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(ctx->fin, MPI_ERRORS_RETURN);
    MPI_Comm_rank(ctx->comm, &ctx->rank);
    MPI_Comm_size(ctx->comm, &ctx->size);
    /* Parallel regions must get every thread they ask for (each thread's
     * partial records are merged): OMP_THREAD_LIMIT below OMP_NUM_THREADS
     * would leave some unfilled. */
    ctx->nthreads = omp_get_max_threads();
    if (omp_get_thread_limit() < ctx->nthreads) ctx->nthreads = omp_get_thread_limit();
    cpu_set_t set;
    ctx->cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
    ctx->verbose = 1;
    ctx->fault_site = -1;
    *out = ctx;
    return UHN_OK;
}

/* Pins thread t of a team of n to the t-th CPU of set (which holds n CPUs);
 * 1 when every thread's affinity reads back as its one CPU. */
static int pin_threads(int n, const cpu_set_t *set) {
    int cpu[CPU_SETSIZE], m = 0, ok = 0;
    for (int c = 0; c < CPU_SETSIZE && m < n; ++c)
        if (CPU_ISSET(c, set)) cpu[m++] = c;
    if (m != n) return 0;
#pragma omp parallel num_threads(n) reduction(+ : ok)
    {
        cpu_set_t one, got;
        CPU_ZERO(&one);
        CPU_SET(cpu[omp_get_thread_num()], &one);
        ok += omp_get_num_threads() == n &&
              pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0 &&
              pthread_getaffinity_np(pthread_self(), sizeof got, &got) == 0 &&
              CPU_EQUAL(&one, &got);
    }
    return ok == n;
}

/* 1 when no other rank of this node may run on a CPU of set. Collective. */
static int cpus_own(uhn_ctx *ctx, const cpu_set_t *set) {
    MPI_Comm node;
    if (MPI_Comm_split_type(ctx->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) !=
        MPI_SUCCESS)
        return 0;
    int n = 0, me = 0, own = 0;
    MPI_Comm_size(node, &n);
    MPI_Comm_rank(node, &me);
    cpu_set_t *all = malloc((size_t)n * sizeof *all);
    if (all && MPI_Allgather(set, (int)sizeof *set, MPI_BYTE, all, (int)sizeof *set, MPI_BYTE,
                             node) == MPI_SUCCESS) {
        own = 1;
        for (int r = 0; r < n; ++r) {
            cpu_set_t both;
            CPU_AND(&both, set, &all[r]);
            if (r != me && CPU_COUNT(&both) > 0) own = 0;
        }
    }
    free(all);
    MPI_Comm_free(&node);
    return own;
}

void uhn_ctx_check_binding(uhn_ctx *ctx) {
    cpu_set_t set;
    int cores = ctx->nthreads, known = sched_getaffinity(0, sizeof set, &set) == 0;
    if (known) cores = CPU_COUNT(&set);
    /* the worst rank: its threads per core, and its cores */
    int mine[2] = {cores < ctx->nthreads ? ctx->rank : -1, cores}, worst[2] = {-1, 0};
    if (MPI_Allreduce(mine, worst, 1, MPI_2INT, MPI_MAXLOC, ctx->comm) != MPI_SUCCESS) return;
    if (worst[0] >= 0 && ctx->rank == 0)
        fprintf(stderr,
                "uhn: warning: rank %d runs %d OpenMP threads on the %d core(s) it is bound to, "
                "so threads share cores; bind each rank to OMP_NUM_THREADS cores (mpirun "
                "--map-by slot:PE=%d, or --bind-to none) or lower OMP_NUM_THREADS\n",
                worst[0], ctx->nthreads, worst[1], ctx->nthreads);
    /* Threads pinned one per CPU when the rank owns exactly that many CPUs
     * and the user left OpenMP's binding alone. Unbound, this machine's
     * scheduler kept a rank's two threads on one core for milliseconds after
     * they woke (two busy threads: together for their first 3 ms in 10 of 10
     * runs, apart by 30 ms; a parallel first touch of 8 MB: median 4.4 ms
     * unbound, 0.34 ms bound, 20 runs each). */
    int want = known && ctx->nthreads > 1 && cores == ctx->nthreads && !getenv("OMP_PROC_BIND") &&
               !getenv("OMP_PLACES");
    int all_want = 0;
    if (MPI_Allreduce(&want, &all_want, 1, MPI_INT, MPI_MAX, ctx->comm) != MPI_SUCCESS) return;
    int pinned = 0;
    if (all_want) { /* collective: every rank joins the node's comparison */
        int own = cpus_own(ctx, &set);
        pinned = want && own && pin_threads(ctx->nthreads, &set);
    }
    if (MPI_Allreduce(&pinned, &ctx->pinned, 1, MPI_INT, MPI_SUM, ctx->comm) != MPI_SUCCESS)
        ctx->pinned = 0;
}

static const char *thread_level_name(int level) {
    return level == MPI_THREAD_SINGLE       ? "MPI_THREAD_SINGLE"
           : level == MPI_THREAD_FUNNELED   ? "MPI_THREAD_FUNNELED"
           : level == MPI_THREAD_SERIALIZED ? "MPI_THREAD_SERIALIZED"
                                            : "MPI_THREAD_MULTIPLE";
}

int uhn_ctx_check(uhn_ctx *ctx) {
    int level = MPI_THREAD_SINGLE, st = UHN_OK;
    if (MPI_Query_thread(&level) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Query_thread failed");
    else if (level < MPI_THREAD_FUNNELED && ctx->nthreads > 1)
        st = uhn_fail(ctx, UHN_EMPI,
                      "the MPI library provides %s but rank %d runs %d OpenMP threads, which "
                      "needs MPI_THREAD_FUNNELED (initialise MPI with MPI_Init_thread, or set "
                      "OMP_NUM_THREADS=1)",
                      thread_level_name(level), ctx->rank, ctx->nthreads);
    if (st == UHN_OK) st = uhn_fault_setup(ctx);
    return uhn_agree(ctx, st);
}

void uhn_ctx_destroy(uhn_ctx *ctx) {
    if (!ctx) return;
    MPI_Comm_free(&ctx->fin);
    MPI_Comm_free(&ctx->comm);
    free(ctx);
}

/* Length of the valid UTF-8 sequence at s (0 when invalid) and its code point. */
static int utf8_seq(const unsigned char *s, unsigned *cp) {
    int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4) return 0;
    unsigned c = s[0] & (0x3f >> (n - 1));
    for (int i = 1; i < n; ++i) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const unsigned lo[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < lo[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0; /* overlong etc. */
    *cp = c;
    return n;
}

/* Copies src into dst (size n) with every character that could break a line or
 * drive a terminal escaped; output is always NUL-terminated. */
static void escape_line(char *dst, size_t n, const char *src) {
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)src;
    while (*s && o + 1 < n) {
        char esc[16] = "";
        int len = 1;
        unsigned cp = 0;
        if (*s < 0x20 || *s == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *s);
        } else if (*s >= 0x80) {
            len = utf8_seq(s, &cp);
            if (len == 0)
                len = 1, snprintf(esc, sizeof esc, "\\x%02x", *s);
            else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
                snprintf(esc, sizeof esc, "\\u%04x", cp);
        }
        size_t need = esc[0] ? strlen(esc) : (size_t)len;
        if (o + need >= n) break; /* never cut an escape or a character in two */
        if (esc[0])
            memcpy(dst + o, esc, need);
        else
            memcpy(dst + o, s, need);
        o += need;
        s += len;
    }
    dst[o] = '\0';
}

/* The source path from its last two components: ".../src/core/bank.c" -> "core/bank.c". */
static const char *short_path(const char *file) {
    const char *a = strrchr(file, '/');
    if (!a) return file;
    const char *b = a;
    while (b > file && b[-1] != '/') --b;
    return b;
}

static int fail_v(uhn_ctx *ctx, int status, const char *file, int line, const char *param,
                  const char *fmt, va_list ap) {
    char raw[UHN_MSG_MAX];
    vsnprintf(raw, sizeof raw, fmt, ap);
    escape_line(ctx->msg, sizeof ctx->msg, raw);
    snprintf(ctx->param, sizeof ctx->param, "%s", param ? param : "");
    snprintf(ctx->where, sizeof ctx->where, "%s:%d", short_path(file), line);
    ctx->status = status;
    return status;
}

int uhn_fail_at(uhn_ctx *ctx, int status, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int st = fail_v(ctx, status, file, line, NULL, fmt, ap);
    va_end(ap);
    return st;
}

int uhn_fail_param_at(uhn_ctx *ctx, int status, const char *file, int line, const char *param,
                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int st = fail_v(ctx, status, file, line, param, fmt, ap);
    va_end(ap);
    return st;
}

int uhn_relabel(uhn_ctx *ctx, const char *label, const char *sep) {
    size_t pl = strlen(ctx->param);
    if (!pl || strncmp(ctx->msg, ctx->param, pl) || ctx->msg[pl] != ' ') return 0;
    char rest[UHN_MSG_MAX], lab[UHN_MSG_MAX];
    snprintf(rest, sizeof rest, "%s", ctx->msg + pl + 1);
    escape_line(lab, sizeof lab, label);
    size_t n = strlen(lab), m = strlen(sep);
    if (n + m >= sizeof ctx->msg) n = sizeof ctx->msg - 1 - m; /* a label never that long */
    memcpy(ctx->msg, lab, n);
    memcpy(ctx->msg + n, sep, m);
    size_t room = sizeof ctx->msg - 1 - n - m, r = strlen(rest);
    if (r > room) r = room;
    memcpy(ctx->msg + n + m, rest, r);
    ctx->msg[n + m + r] = '\0';
    ctx->param[0] = '\0';
    return 1;
}

/* uhn_agree on communicator comm (ctx->comm, or ctx->fin in uhn_finish). */
static int agree_on(uhn_ctx *ctx, MPI_Comm comm, int status) {
    /* Lowest failing rank wins; its message is broadcast from it. */
    int mine = status != UHN_OK ? ctx->rank : ctx->size, first = ctx->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce failed while agreeing on a status");
    if (first == ctx->size) return UHN_OK;
    int st = status;
    if (MPI_Bcast(&st, 1, MPI_INT, first, comm) != MPI_SUCCESS ||
        MPI_Bcast(ctx->msg, UHN_MSG_MAX, MPI_CHAR, first, comm) != MPI_SUCCESS ||
        MPI_Bcast(ctx->param, (int)sizeof ctx->param, MPI_CHAR, first, comm) != MPI_SUCCESS ||
        MPI_Bcast(ctx->where, (int)sizeof ctx->where, MPI_CHAR, first, comm) != MPI_SUCCESS)
        return uhn_fail(ctx, UHN_EMPI, "MPI_Bcast failed while agreeing on a status");
    ctx->status = st;
    return st;
}

int uhn_agree(uhn_ctx *ctx, int status) {
    return agree_on(ctx, ctx->comm, status);
}

/* "uhn: <who><msg>", and where it was raised under --verbose. */
static void print_msg(const uhn_ctx *ctx, const char *who) {
    fprintf(stderr, "uhn: %s%s\n", who, ctx->msg[0] ? ctx->msg : "failed");
    if (ctx->verbose > 1 && ctx->where[0]) fprintf(stderr, "uhn: (raised at %s)\n", ctx->where);
}

void uhn_report(const uhn_ctx *ctx) {
    if (ctx->rank == 0 && ctx->msg[0]) print_msg(ctx, "");
}

int uhn_finish(uhn_ctx *ctx, int status) {
    MPI_Request req;
    int arrived = 0;
    if (MPI_Ibarrier(ctx->fin, &req) != MPI_SUCCESS) {
        if (status == UHN_OK) status = uhn_fail(ctx, UHN_EMPI, "MPI_Ibarrier failed at the end");
    } else if (status == UHN_OK) {
        arrived = MPI_Wait(&req, MPI_STATUS_IGNORE) == MPI_SUCCESS;
    } else {
        /* A failed rank waits a grace period for the others, polling. */
        double t0 = uhn_wtime();
        const struct timespec tick = {0, 2000000};
        while (!arrived && uhn_wtime() - t0 < UHN_FINISH_GRACE) {
            if (MPI_Test(&req, &arrived, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
            if (!arrived) nanosleep(&tick, NULL);
        }
    }
    if (!arrived) {
        /* The others are in a collective this rank will never join: end the job. */
        if (status == UHN_OK) status = UHN_EMPI;
        char who[32];
        snprintf(who, sizeof who, "rank %d: ", ctx->rank);
        print_msg(ctx, who);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, uhn_exit_code(status));
    }
    status = agree_on(ctx, ctx->fin, status);
    if (status != UHN_OK) uhn_report(ctx);
    return status;
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
    double t[4] = {ctx->timers.compute, ctx->timers.reduce, ctx->timers.io, ctx->timers.step1};
    double mn[4], mx[4], sum[4];
    UHN_MPI(ctx, MPI_Reduce(t, mn, 4, MPI_DOUBLE, MPI_MIN, 0, ctx->comm));
    UHN_MPI(ctx, MPI_Reduce(t, mx, 4, MPI_DOUBLE, MPI_MAX, 0, ctx->comm));
    UHN_MPI(ctx, MPI_Reduce(t, sum, 4, MPI_DOUBLE, MPI_SUM, 0, ctx->comm));
    if (ctx->rank == 0 && ctx->verbose > 0) {
        static const char *names[4] = {"compute", "reduce", "io", "step1"};
        fprintf(stderr, "%s timers over %d rank(s) x %d thread(s) [s]: min / mean / max\n", title,
                ctx->size, ctx->nthreads);
        /* microseconds: a step on a small bank takes less than the 0.1 ms
         * that four decimals resolve, and timers of 0 break a model of them */
        /* step1: of compute + reduce, the first step (only where a recall ran) */
        for (int i = 0; i < (mx[3] > 0 ? 4 : 3); ++i)
            fprintf(stderr, "  %-8s %12.6f %12.6f %12.6f\n", names[i], mn[i], sum[i] / ctx->size,
                    mx[i]);
        if (ctx->nthreads > 1)
            fprintf(stderr, "  threads pinned one per CPU by uhn on %d of %d rank(s)\n",
                    ctx->pinned, ctx->size);
    }
    return UHN_OK;
}

/* The least buffer uhn_alloc backs with huge pages (see there). */
#define UHN_HUGE_MIN ((size_t)256 << 10)

void *uhn_alloc(size_t bytes) {
    if (bytes == 0) return NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = NULL;
    /* Buffers of UHN_HUGE_MIN and more: 2 MiB alignment and size, so that
     * the kernel can back them with huge pages. A fault per 4 KiB page costs
     * 6-14 us on this class of machine (a virtual one): the 36 MB of buffers a
     * one-step recall of 1000 queries first touches took 9000 of them, about
     * a quarter of the step at 2 ranks; a 2 MiB page is one fault, its
     * clearing ~0.1 ms where the system recycles pages. Rounding a buffer of
     * 256 KiB up to 2 MiB costs at most 1.75 MiB of memory once touched; the
     * smaller ones keep 4 KiB pages. */
    size_t align = rounded >= UHN_HUGE_MIN ? (2u << 20) : 64;
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
