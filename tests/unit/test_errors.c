/*
 * Input errors are agreed on every rank (spec §8, STYLE "Errors"), at 1 and 3
 * ranks: uhn_params_check, uhn_bank_commit and uhn_recall return UHN_EINPUT
 * on every rank, with a message that names the option or the global row at
 * fault, and nobody hangs. The offending data always sit on the last rank, so
 * that the other ranks can only learn of them through the agreement.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/uhn.h"

#define NROWS 23 /* at 3 ranks: rows 0-7, 8-15, 16-22 */

static uhn_ctx *ctx;

/* The status agreed by all ranks: every rank must see `want`, and a failing
 * status must come with a message containing `needle` on every rank. */
static void expect_status(const char *what, int got, int want, const char *needle) {
    int lo = got, hi = got;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, ctx->comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, ctx->comm);
    check_context("%s", what);
    CHECK_MSG(lo == hi, "ranks disagree: statuses from %d to %d (this rank: %d)", lo, hi, got);
    CHECK_MSG(got == want, "status expected %d, got %d (msg: \"%s\")", want, got, ctx->msg);
    if (want != UHN_OK && needle) {
        CHECK_MSG(ctx->msg[0] != '\0', "no message");
        CHECK_CONTAINS(ctx->msg, needle);
        CHECK_MSG(!strchr(ctx->msg, '\n'), "message is not one line: \"%s\"", ctx->msg);
    }
    ctx->msg[0] = '\0';
}

/* A committed N x K bank with keys in [0.5, 1); row `neg_row` (if >= 0) gets
 * the entry `neg` at column `neg_col`, and row `zero_row` (if >= 0) is zero. */
static uhn_bank *make_bank(int64_t K, int hetero, int64_t O, int64_t neg_row, int64_t neg_col,
                           float neg, int64_t zero_row) {
    uhn_bank *bank = NULL;
    int rc = uhn_bank_create(ctx, NROWS, K, hetero, O, &bank);
    CHECK_MSG(rc == UHN_OK, "uhn_bank_create: %d", rc);
    if (rc != UHN_OK) return NULL;
    for (int64_t i = 0; i < bank->n_local; ++i) {
        int64_t g = bank->row0 + i;
        for (int64_t k = 0; k < K; ++k) {
            float x = (float)(0.5 + 0.5 * uhn_rng_uniform(7, 1, (uint64_t)g, (uint32_t)k));
            if (g == neg_row && k == neg_col) x = neg;
            if (g == zero_row) x = 0.0f;
            bank->keys[i * K + k] = x;
        }
        if (hetero)
            for (int64_t o = 0; o < bank->O; ++o) bank->values[i * bank->O + o] = (float)o;
    }
    rc = uhn_bank_commit(bank, "test:keys", "test:values");
    CHECK_MSG(rc == UHN_OK, "uhn_bank_commit: %d (%s)", rc, ctx->msg);
    return bank;
}

static void defaults(uhn_params *p, const char *sim, const char *sep) {
    uhn_params_default(p);
    p->sim = uhn_similarity_find(sim);
    p->sep = uhn_separation_find(sep);
    CHECK(p->sim != NULL && p->sep != NULL);
}

static void test_params(void) {
    uhn_params p;
    uhn_bank *auto_bank = make_bank(4, 0, 0, -1, 0, 0, -1);
    uhn_bank *het = make_bank(4, 1, 3, -1, 0, 0, -1);
    /* One negative key, in the last row: on the last rank. */
    uhn_bank *neg = make_bank(4, 0, 0, NROWS - 1, 1, -0.25f, -1);
    if (!auto_bank || !het || !neg) goto done;

    defaults(&p, "dot", "softmax");
    expect_status("defaults are valid", uhn_params_check(ctx, &p, auto_bank), UHN_OK, NULL);
    expect_status("hetero bank, steps 1", uhn_params_check(ctx, &p, het), UHN_OK, NULL);
    p.steps = 2;
    expect_status("hetero bank with steps 2", uhn_params_check(ctx, &p, het), UHN_EINPUT, "steps");
    expect_status("auto bank with steps 2", uhn_params_check(ctx, &p, auto_bank), UHN_OK, NULL);
    p.steps = 0;
    expect_status("steps 0", uhn_params_check(ctx, &p, auto_bank), UHN_EINPUT, "steps");

    const char *divs[3] = {"kl", "reverse_kl", "jensen_shannon"};
    for (int i = 0; i < 3; ++i) {
        char what[128];
        defaults(&p, divs[i], "softmax");
        snprintf(what, sizeof what, "%s on non-negative keys", divs[i]);
        expect_status(what, uhn_params_check(ctx, &p, auto_bank), UHN_OK, NULL);
        snprintf(what, sizeof what, "%s on a negative key (last rank)", divs[i]);
        expect_status(what, uhn_params_check(ctx, &p, neg), UHN_EINPUT, divs[i]);
    }
    defaults(&p, "dot", "softmax");
    p.score = UHN_SCORE_UHN;
    expect_status("uhn dot score on a negative key", uhn_params_check(ctx, &p, neg), UHN_EINPUT,
                  "score");
    defaults(&p, "euclidean", "softmax");
    expect_status("euclidean on negative keys is fine", uhn_params_check(ctx, &p, neg), UHN_OK,
                  NULL);

    const double bad_beta[4] = {0.0, -1.0, INFINITY, NAN};
    for (int i = 0; i < 4; ++i) {
        char what[64];
        defaults(&p, "dot", "softmax");
        p.beta = bad_beta[i];
        snprintf(what, sizeof what, "beta %g", bad_beta[i]);
        expect_status(what, uhn_params_check(ctx, &p, auto_bank), UHN_EINPUT, "beta");
    }
    const double bad_alpha[4] = {0.0, 1.5, -0.5, NAN};
    for (int i = 0; i < 4; ++i) {
        char what[64];
        defaults(&p, "dot", "softmax");
        p.steps = 5;
        p.step_size = bad_alpha[i];
        snprintf(what, sizeof what, "step size %g", bad_alpha[i]);
        expect_status(what, uhn_params_check(ctx, &p, auto_bank), UHN_EINPUT, "step");
    }
    defaults(&p, "dot", "softmax");
    p.steps = 5, p.step_size = 1.0;
    expect_status("step size 1", uhn_params_check(ctx, &p, auto_bank), UHN_OK, NULL);
    p.tol = -1e-3;
    expect_status("tol < 0", uhn_params_check(ctx, &p, auto_bank), UHN_EINPUT, "tol");

    defaults(&p, "dot", "power");
    p.param = 2.5;
    expect_status("power p = 2.5", uhn_params_check(ctx, &p, auto_bank), UHN_EINPUT, "param");
    defaults(&p, "dot", "topk");
    p.param = 0;
    expect_status("topk k = 0", uhn_params_check(ctx, &p, auto_bank), UHN_EINPUT, "param");
    p.param = 3;
    expect_status("topk k = 3", uhn_params_check(ctx, &p, auto_bank), UHN_OK, NULL);

done:
    uhn_bank_destroy(auto_bank);
    uhn_bank_destroy(het);
    uhn_bank_destroy(neg);
}

/* A NaN (and an Inf after it) in rows held by the last rank: the lowest
 * offending global row is named on every rank. */
static void test_commit(void) {
    const int64_t K = 5;
    for (int which = 0; which < 2; ++which) {
        uhn_bank *bank = NULL;
        int rc = uhn_bank_create(ctx, NROWS, K, which, 2, &bank);
        CHECK_MSG(rc == UHN_OK, "uhn_bank_create: %d", rc);
        if (rc != UHN_OK) return;
        for (int64_t i = 0; i < bank->n_local; ++i) {
            int64_t g = bank->row0 + i;
            for (int64_t k = 0; k < K; ++k) bank->keys[i * K + k] = (float)(g + k);
            if (which)
                for (int64_t o = 0; o < 2; ++o) bank->values[i * 2 + o] = 1.0f;
            float *row = which ? bank->values + i * 2 : bank->keys + i * K;
            if (g == 21) row[1] = NAN;
            if (g == 22) row[0] = INFINITY;
        }
        rc = uhn_bank_commit(bank, "test:keys", "test:values");
        char msg[UHN_MSG_MAX];
        memcpy(msg, ctx->msg, sizeof msg);
        expect_status(which ? "NaN in values row 21" : "NaN in keys row 21", rc, UHN_EINPUT, "21");
        memcpy(ctx->msg, msg, sizeof msg);
        expect_status(which ? "NaN in values: the data named" : "NaN in keys: the data named", rc,
                      UHN_EINPUT, which ? "test:values" : "test:keys");
        uhn_bank_destroy(bank);
    }
}

/* Separation domain errors found while recalling: identity and log on a
 * negative score, log on a zero score. Only row 22 (the last rank's) and only
 * query 2 give the bad score. */
static void test_recall_domain(void) {
    const int64_t K = 3, B = 4;
    /* Row 22 = (-1, x1, x2) or all zero; every other entry is in [0.5, 1). */
    uhn_bank *neg = make_bank(K, 0, 0, 22, 0, -1.0f, -1);
    uhn_bank *zero = make_bank(K, 0, 0, -1, 0, 0, 22);
    if (!neg || !zero) goto done;
    /* Queries 0, 1, 3 have q[0] = 0 (score with row 22 > 0); query 2 has
     * q = (1, 0.1, 0.1): score -1 + 0.1 (x1 + x2) <= -0.8 with row 22. */
    const float q[4 * 3] = {0, 1, 1, 0, 0.5f, 1, 1, 0.1f, 0.1f, 0, 1, 0.25f};
    const char *seps[2] = {"identity", "log"};
    for (int i = 0; i < 2; ++i) {
        for (int kernel = 0; kernel < 2; ++kernel) {
            uhn_params p;
            defaults(&p, "dot", seps[i]);
            p.kernel = kernel ? UHN_KERNEL_REF : UHN_KERNEL_FAST;
            uhn_result *res = NULL;
            if (uhn_result_create(ctx, B, K, 1, 0, &res) != UHN_OK) goto done;
            char what[96];
            snprintf(what, sizeof what, "%s on a negative score (row 22, query 2), %s kernel",
                     seps[i], kernel ? "ref" : "fast");
            expect_status(what, uhn_recall(neg, &p, q, B, NULL, 0, res), UHN_EINPUT, "22");
            uhn_result_destroy(res);
            /* Query 2 alone is enough; queries without it are fine. */
            if (uhn_result_create(ctx, 2, K, 1, 0, &res) != UHN_OK) goto done;
            snprintf(what, sizeof what, "%s on positive scores, %s kernel", seps[i],
                     kernel ? "ref" : "fast");
            expect_status(what, uhn_recall(neg, &p, q, 2, NULL, 0, res), UHN_OK, NULL);
            uhn_result_destroy(res);
        }
    }
    for (int kernel = 0; kernel < 2; ++kernel) {
        uhn_params p;
        defaults(&p, "dot", "log");
        p.kernel = kernel ? UHN_KERNEL_REF : UHN_KERNEL_FAST;
        uhn_result *res = NULL;
        if (uhn_result_create(ctx, B, K, 1, 0, &res) != UHN_OK) goto done;
        expect_status(kernel ? "log on a zero score (row 22), ref kernel"
                             : "log on a zero score (row 22), fast kernel",
                      uhn_recall(zero, &p, q, B, NULL, 0, res), UHN_EINPUT, "22");
        uhn_result_destroy(res);
    }
done:
    uhn_bank_destroy(neg);
    uhn_bank_destroy(zero);
}

/* Query checks: NaN anywhere, negative entries for a divergence. Not
 * collective, but every rank holds the same queries. */
static void test_queries(void) {
    uhn_params p;
    const float good[2 * 3] = {0, 1, 2, 3, 4, 5}, nan_q[2 * 3] = {0, 1, 2, 3, NAN, 5};
    const float neg_q[2 * 3] = {0, 1, 2, 3, -4, 5};
    defaults(&p, "dot", "softmax");
    expect_status("finite queries", uhn_queries_check(ctx, &p, good, 2, 3, "test:queries"), UHN_OK,
                  NULL);
    expect_status("NaN in a query", uhn_queries_check(ctx, &p, nan_q, 2, 3, "test:queries"),
                  UHN_EINPUT, "test:queries");
    expect_status("negative query, dot", uhn_queries_check(ctx, &p, neg_q, 2, 3, "test:queries"),
                  UHN_OK, NULL);
    defaults(&p, "kl", "softmax");
    expect_status("negative query, kl", uhn_queries_check(ctx, &p, neg_q, 2, 3, "test:queries"),
                  UHN_EINPUT, "test:queries");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    ctx->verbose = 0;
    test_params();
    test_commit();
    test_recall_domain();
    test_queries();
    int code = check_finish_mpi(ctx->comm, "test_errors");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
