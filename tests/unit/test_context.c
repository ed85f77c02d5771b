/*
 * Error messages are one line whatever the input held (uhn_fail escapes C0,
 * DEL and C1 controls, U+2028/U+2029 and invalid UTF-8), and an engine
 * message about a parameter takes a front end's label (uhn_relabel). A
 * message records the file and line that raised it. MPI errors on the
 * context's communicator are returned, not fatal; uhn_ctx_check refuses a
 * threaded rank under MPI_THREAD_SINGLE and every malformed UHN_FAULT.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/context.h"

/* 1 when s holds no byte a terminal or a line-based parser would act on. */
static int one_clean_line(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    for (; *u; ++u) {
        if (*u < 0x20 || *u == 0x7f) return 0;
        if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9)) return 0;
        if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) return 0;
    }
    return 1;
}

static void expect_msg(uhn_ctx *ctx, const char *input, const char *want) {
    check_context("input %s", want);
    CHECK_INT(UHN_EINPUT, uhn_fail(ctx, UHN_EINPUT, "unknown name '%s'", input));
    char full[256];
    snprintf(full, sizeof full, "unknown name '%s'", want);
    CHECK_MSG(!strcmp(ctx->msg, full), "got \"%s\", want \"%s\"", ctx->msg, full);
    CHECK_MSG(one_clean_line(ctx->msg), "\"%s\" is not one clean line", ctx->msg);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx)) return 1;

    expect_msg(ctx, "dot", "dot");
    expect_msg(ctx, "a\fb", "a\\x0cb");
    expect_msg(ctx, "a\rb\n", "a\\x0db\\x0a");
    expect_msg(ctx, "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
    expect_msg(ctx, "tab\tdel\x7f", "tab\\x09del\\x7f");
    expect_msg(ctx, "line\xe2\x80\xa8sep\xe2\x80\xa9", "line\\u2028sep\\u2029");
    expect_msg(ctx,
               "csi\xc2\x9b"
               "2J",
               "csi\\u009b2J");                                /* C1 control */
    expect_msg(ctx, "bad\xff\xc3", "bad\\xff\\xc3");           /* invalid UTF-8 */
    expect_msg(ctx, "overlong\xc0\xaf", "overlong\\xc0\\xaf"); /* overlong '/' */
    expect_msg(ctx, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
               "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");

    /* a message longer than the buffer is cut between characters, never inside an escape */
    char big[2000];
    memset(big, '\x1b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    uhn_fail(ctx, UHN_EINPUT, "%s", big);
    size_t len = strlen(ctx->msg);
    CHECK_MSG(len < UHN_MSG_MAX && len % 4 == 0, "cut message has length %zu", len);
    CHECK_MSG(one_clean_line(ctx->msg), "cut message is not one clean line");

    /* relabelling: recall flags and deck lines */
    check_context("relabel");
    uhn_fail_param(ctx, UHN_EINPUT, "beta", "beta must be > 0 (got %g)", -1.0);
    CHECK_MSG(!strcmp(ctx->param, "beta"), "param '%s'", ctx->param);
    CHECK_INT(1, uhn_relabel(ctx, "--beta", " "));
    CHECK_MSG(!strcmp(ctx->msg, "--beta must be > 0 (got -1)"), "got '%s'", ctx->msg);
    CHECK_INT(0, uhn_relabel(ctx, "--beta", " ")); /* once only */
    uhn_fail_param(ctx, UHN_EINPUT, "step_size", "step_size must be in (0, 1] (got %g)", 2.0);
    CHECK_INT(1, uhn_relabel(ctx, "d.ini:4: [network] step_size", ": "));
    CHECK_MSG(!strcmp(ctx->msg, "d.ini:4: [network] step_size: must be in (0, 1] (got 2)"),
              "got '%s'", ctx->msg);
    uhn_fail(ctx, UHN_EINPUT, "beta is not a parameter message");
    CHECK_INT(0, uhn_relabel(ctx, "--beta", " ")); /* plain uhn_fail: no parameter */
    uhn_fail_param(ctx, UHN_EINPUT, "beta", "betamax is not the parameter");
    CHECK_INT(0, uhn_relabel(ctx, "--beta", " ")); /* the name must be a whole word */
    /* a label with control characters is escaped too */
    uhn_fail_param(ctx, UHN_EINPUT, "tol", "tol must be >= 0");
    CHECK_INT(1, uhn_relabel(ctx, "deck\r.ini:1: [network] tol", ": "));
    CHECK_MSG(!strcmp(ctx->msg, "deck\\x0d.ini:1: [network] tol: must be >= 0"), "got '%s'",
              ctx->msg);

    /* where a message was raised: this file and line */
    check_context("where");
    int line = __LINE__ + 1;
    uhn_fail(ctx, UHN_EIO, "raised here");
    char want[64];
    snprintf(want, sizeof want, "unit/test_context.c:%d", line);
    CHECK_MSG(!strcmp(ctx->where, want), "where '%s', want '%s'", ctx->where, want);
    line = __LINE__ + 1;
    uhn_fail_param(ctx, UHN_EINPUT, "beta", "beta here");
    snprintf(want, sizeof want, "unit/test_context.c:%d", line);
    CHECK_MSG(!strcmp(ctx->where, want), "where '%s', want '%s'", ctx->where, want);

    /* MPI errors come back as return codes on the context's communicator */
    check_context("errors return");
    MPI_Errhandler eh;
    MPI_Comm_get_errhandler(ctx->comm, &eh);
    CHECK_MSG(eh == MPI_ERRORS_RETURN, "the communicator's error handler is not MPI_ERRORS_RETURN");
    int x = 0;
    CHECK_MSG(MPI_Send(&x, 1, MPI_INT, ctx->size + 7, 0, ctx->comm) != MPI_SUCCESS,
              "a send to rank %d did not return an error", ctx->size + 7);

    /* the thread level: MPI_Init gives this program MPI_THREAD_SINGLE */
    check_context("thread level");
    int level;
    MPI_Query_thread(&level);
    CHECK_INT(UHN_OK, uhn_ctx_check(ctx)); /* one thread (OMP_NUM_THREADS=1 in the tests) */
    if (level < MPI_THREAD_FUNNELED) {
        int saved = ctx->nthreads;
        ctx->nthreads = 2;
        CHECK_INT(UHN_EMPI, uhn_ctx_check(ctx));
        CHECK_MSG(!strcmp(ctx->msg, "the MPI library provides MPI_THREAD_SINGLE but rank 0 runs 2 "
                                    "OpenMP threads, which needs MPI_THREAD_FUNNELED (initialise "
                                    "MPI with MPI_Init_thread, or set OMP_NUM_THREADS=1)"),
                  "got '%s'", ctx->msg);
        ctx->nthreads = saved;
    }

    /* UHN_FAULT: every malformed value, one line each */
    check_context("UHN_FAULT");
    static const struct {
        const char *value, *msg;
    } bad[] = {
#ifdef UHN_FAULT_INJECTION
        {"bogus@0", "UHN_FAULT: unknown site 'bogus' (sites: bank_alloc, step_alloc, h5_read, "
                    "h5_commit, data_rows, study_alloc, encoder_fit, sep_tile)"},
        {"bank_alloc", "UHN_FAULT='bank_alloc' is not SITE@RANK or SITE@RANK#HIT"},
        {"bank_alloc@0#0", "UHN_FAULT='bank_alloc@0#0' is not SITE@RANK or SITE@RANK#HIT"},
        {"bank_alloc@0#", "UHN_FAULT='bank_alloc@0#' is not SITE@RANK or SITE@RANK#HIT"},
        {"bank_alloc@0x", "UHN_FAULT='bank_alloc@0x' is not SITE@RANK or SITE@RANK#HIT"},
        {"bank_alloc@9", "UHN_FAULT: rank 9 is not in [0, 1)"},
#else
        {"bank_alloc@0", "UHN_FAULT is set but this build has no fault injection (configure with "
                         "-DUHN_FAULT_INJECTION=ON)"},
#endif
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        setenv("UHN_FAULT", bad[i].value, 1);
        CHECK_INT(UHN_EINPUT, uhn_ctx_check(ctx));
        CHECK_MSG(!strcmp(ctx->msg, bad[i].msg), "UHN_FAULT=%s: got '%s'", bad[i].value, ctx->msg);
    }
#ifdef UHN_FAULT_INJECTION
    setenv("UHN_FAULT", "h5_read@0#3", 1);
    CHECK_INT(UHN_OK, uhn_ctx_check(ctx));
    CHECK_MSG(ctx->fault_site == 2 && ctx->fault_rank == 0 && ctx->fault_hit == 3,
              "h5_read@0#3 parsed as site %d rank %d hit %d", ctx->fault_site, ctx->fault_rank,
              ctx->fault_hit);
#endif
    unsetenv("UHN_FAULT");
    CHECK_INT(UHN_OK, uhn_ctx_check(ctx));
    CHECK_INT(-1, ctx->fault_site);

    uhn_ctx_destroy(ctx);
    int rc = check_finish("test_context");
    MPI_Finalize();
    return rc;
}
