/*
 * A tiny check library for uhn's unit tests.
 *
 * Every CHECK_* macro counts one check; a failing one prints
 * "file:line: [rank r] <context>: what was expected, what was got" on standard
 * error and the test goes on (so one run shows every failure). A test ends with
 * check_finish() (serial) or check_finish_mpi() (MPI: the failure count is
 * summed over the ranks with one MPI_Allreduce, so every rank returns the same
 * non-zero exit code and none hangs waiting for another).
 *
 * check_context() names the case being checked: it is printed with every
 * failure until the next call.
 */
#ifndef UHN_TEST_CHECK_H
#define UHN_TEST_CHECK_H

#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Failures printed in full per rank; the rest are only counted. */
#ifndef CHECK_MAX_PRINT
#define CHECK_MAX_PRINT 40
#endif

static long check_count_ = 0;
static long check_failures_ = 0;
static int check_rank_ = -1; /* -1: a serial test */
static char check_context_[512] = "";

/* Sets the case description printed with each failure (printf format). */
static inline void check_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void check_context(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(check_context_, sizeof check_context_, fmt, ap);
    va_end(ap);
}

static inline void check_fail_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void check_fail_(const char *file, int line, const char *fmt, ...) {
    ++check_failures_;
    if (check_failures_ > CHECK_MAX_PRINT) return;
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (check_rank_ >= 0)
        fprintf(stderr, "%s:%d: [rank %d] %s%s%s\n", file, line, check_rank_, check_context_,
                check_context_[0] ? ": " : "", what);
    else
        fprintf(stderr, "%s:%d: %s%s%s\n", file, line, check_context_,
                check_context_[0] ? ": " : "", what);
    if (check_failures_ == CHECK_MAX_PRINT)
        fprintf(stderr, "(further failures on this rank are counted, not printed)\n");
}

/* |got - expected| <= tol, and got is not NaN unless expected is. */
static inline int check_close_(double expected, double got, double tol) {
    if (isnan(expected)) return isnan(got);
    if (isinf(expected)) return got == expected;
    return !isnan(got) && fabs(got - expected) <= tol;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        ++check_count_;                                                                            \
        if (!(cond)) check_fail_(__FILE__, __LINE__, "check failed: %s", #cond);                   \
    } while (0)

/* CHECK with an explanation (printf format) printed on failure. */
#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        ++check_count_;                                                                            \
        if (!(cond)) check_fail_(__FILE__, __LINE__, __VA_ARGS__);                                 \
    } while (0)

#define CHECK_INT(expected, got)                                                                   \
    do {                                                                                           \
        long long e_ = (long long)(expected), g_ = (long long)(got);                               \
        ++check_count_;                                                                            \
        if (e_ != g_)                                                                              \
            check_fail_(__FILE__, __LINE__, "%s: expected %lld, got %lld", #got, e_, g_);          \
    } while (0)

#define CHECK_HEX32(expected, got)                                                                 \
    do {                                                                                           \
        unsigned long e_ = (unsigned long)(expected), g_ = (unsigned long)(got);                   \
        ++check_count_;                                                                            \
        if (e_ != g_)                                                                              \
            check_fail_(__FILE__, __LINE__, "%s: expected 0x%08lx, got 0x%08lx", #got, e_, g_);    \
    } while (0)

/* Absolute tolerance. */
#define CHECK_NEAR(expected, got, tol)                                                             \
    do {                                                                                           \
        double e_ = (double)(expected), g_ = (double)(got), t_ = (double)(tol);                    \
        ++check_count_;                                                                            \
        if (!check_close_(e_, g_, t_))                                                             \
            check_fail_(__FILE__, __LINE__, "%s: expected %.17g, got %.17g (|diff| %.3g > %.3g)",  \
                        #got, e_, g_, fabs(g_ - e_), t_);                                          \
    } while (0)

/* Relative tolerance: |got - expected| <= rel * max(|expected|, scale). */
#define CHECK_REL(expected, got, rel, scale)                                                       \
    do {                                                                                           \
        double e_ = (double)(expected), g_ = (double)(got);                                        \
        double t_ = (double)(rel)*fmax(fabs(e_), (double)(scale));                                 \
        ++check_count_;                                                                            \
        if (!check_close_(e_, g_, t_))                                                             \
            check_fail_(__FILE__, __LINE__, "%s: expected %.17g, got %.17g (|diff| %.3g > %.3g)",  \
                        #got, e_, g_, fabs(g_ - e_), t_);                                          \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        ++check_count_;                                                                            \
        if (!h_ || !strstr(h_, n_))                                                                \
            check_fail_(__FILE__, __LINE__, "%s: expected to contain \"%s\", got \"%s\"",          \
                        #haystack, n_, h_ ? h_ : "(null)");                                        \
    } while (0)

/* Summary of a serial test; returns its exit code. */
static inline int check_finish(const char *name) {
    if (check_failures_)
        fprintf(stderr, "%s: FAILED %ld of %ld checks\n", name, check_failures_, check_count_);
    else
        printf("%s: all %ld checks passed\n", name, check_count_);
    return check_failures_ ? 1 : 0;
}

/* Summary of an MPI test, agreed over comm (collective); every rank returns
 * the same exit code. */
static inline int check_finish_mpi(MPI_Comm comm, const char *name) {
    long local[2] = {check_failures_, check_count_}, total[2] = {1, 0};
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (MPI_Allreduce(local, total, 2, MPI_LONG, MPI_SUM, comm) != MPI_SUCCESS) return 1;
    if (rank == 0) {
        if (total[0])
            fprintf(stderr, "%s (%d ranks): FAILED %ld of %ld checks\n", name, size, total[0],
                    total[1]);
        else
            printf("%s (%d ranks): all %ld checks passed\n", name, size, total[1]);
    }
    return total[0] ? 1 : 0;
}

#ifdef UHN_CONTEXT_H
/*
 * For MPI tests of collective calls: every rank must return the same status,
 * equal to `want`; a failure's message (ctx->msg) must contain `needle` and be
 * one line. Clears ctx->msg for the next call. Collective.
 */
static inline void check_status_mpi(uhn_ctx *ctx, const char *what, int got, int want,
                                    const char *needle) {
    int lo = got, hi = got;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, ctx->comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, ctx->comm);
    check_context("%s", what);
    CHECK_MSG(lo == hi, "ranks disagree: %d..%d", lo, hi);
    CHECK_MSG(got == want, "status expected %d, got %d (msg: \"%s\")", want, got, ctx->msg);
    if (want != UHN_OK && needle) {
        CHECK_CONTAINS(ctx->msg, needle);
        CHECK_MSG(!strchr(ctx->msg, '\n'), "message is not one line: \"%s\"", ctx->msg);
    }
    ctx->msg[0] = '\0';
}
#endif

#endif
