/*
 * uhn_separability (the distributed pdgemm path) against uhn_separability_ref
 * (plain loops) at 1-4 ranks and at many block and tile sizes: histograms and
 * top1 identical, scalars to 1e-12 relative; and the d' decision for zero
 * variances (+Inf when the means differ, NaN when they are equal).
 */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "uhn/separability.h"

/* A fixed pseudo-random value in [-1, 1) from an index (splitmix64). */
static float noise(uint64_t i) {
    uint64_t z = i + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * 0x1p-52 - 1.0);
}

/* Codes with structure: noisy copies, an exact copy, a zero query, a zero
 * memory and a duplicated memory (query 4 ties: not top-1). */
static void make(int64_t B, int64_t N, int64_t D, float *Q, float *M) {
    for (int64_t i = 0; i < N * D; ++i) M[i] = noise((uint64_t)i) + 0.2f;
    for (int64_t i = 0; i < B * D; ++i) Q[i] = M[i] + 0.7f * noise((uint64_t)(i + 1000003));
    memcpy(Q, M, (size_t)D * sizeof *Q);
    memset(Q + D, 0, (size_t)D * sizeof *Q);
    memset(M + 2 * D, 0, (size_t)D * sizeof *M);
    memcpy(M + (N - 1) * D, M + 4 * D, (size_t)D * sizeof *M);
}

static void compare(const uhn_sep_result *ref, const uhn_sep_result *got) {
    long bad = 0;
    for (int64_t k = 0; k < ref->bins; ++k)
        bad += ref->self_hist[k] != got->self_hist[k] || ref->cross_hist[k] != got->cross_hist[k];
    CHECK_MSG(bad == 0, "%ld histogram bins differ", bad);
    CHECK_INT(ref->n_top1, got->n_top1);
    CHECK_INT(ref->n_cross, got->n_cross);
    CHECK_REL(ref->self_mean, got->self_mean, 1e-12, 1e-3);
    CHECK_REL(ref->self_std, got->self_std, 1e-12, 1e-3);
    CHECK_REL(ref->cross_mean, got->cross_mean, 1e-12, 1e-3);
    CHECK_REL(ref->cross_std, got->cross_std, 1e-12, 1e-3);
    CHECK_REL(ref->dprime, got->dprime, 1e-12, 1e-3);
    CHECK_REL(ref->overlap, got->overlap, 1e-12, 1e-3);
    CHECK_NEAR(ref->top1, got->top1, 0);
}

/* Runs the distributed path on this rank's rows of full arrays Q, M. */
static int distributed(uhn_ctx *ctx, const float *Q, int64_t B, const float *M, int64_t N,
                       int64_t D, const uhn_sep_params *p, uhn_sep_result *res) {
    int64_t q0, qn, m0, mn;
    uhn_sep_rows(ctx, B, &q0, &qn);
    uhn_sep_rows(ctx, N, &m0, &mn);
    return uhn_separability(ctx, Q + q0 * D, B, M + m0 * D, N, D, p, res);
}

static void random_case(uhn_ctx *ctx, int64_t B, int64_t N, int64_t D, int64_t bins) {
    float *Q = malloc((size_t)(B * D) * sizeof *Q), *M = malloc((size_t)(N * D) * sizeof *M);
    make(B, N, D, Q, M);
    uhn_sep_result ref, got;
    CHECK_INT(UHN_OK, uhn_sep_result_init(ctx, bins, &ref));
    CHECK_INT(UHN_OK, uhn_separability_ref(ctx, Q, B, M, N, D, &ref));
    CHECK_INT(B, ref.n_self);
    CHECK(ref.n_top1 < B); /* the zero query and the tie are not top-1 */
    const int blocks[][2] = {{64, 4096}, {1, 1}, {2, 3}, {3, 7}, {5, 1000}, {16, 16}};
    for (size_t v = 0; v < sizeof blocks / sizeof blocks[0]; ++v) {
        check_context("B=%lld N=%lld D=%lld bins=%lld block=%d tile=%d ranks=%d", (long long)B,
                      (long long)N, (long long)D, (long long)bins, blocks[v][0], blocks[v][1],
                      ctx->size);
        uhn_sep_params p = {bins, blocks[v][0], blocks[v][1]};
        CHECK_INT(UHN_OK, uhn_sep_result_init(ctx, bins, &got));
        int rc = distributed(ctx, Q, B, M, N, D, &p, &got);
        CHECK_MSG(rc == UHN_OK, "uhn_separability: %d (%s)", rc, ctx->msg);
        if (rc == UHN_OK) compare(&ref, &got);
        uhn_sep_result_free(&got);
    }
    uhn_sep_result_free(&ref);
    free(Q), free(M);
}

/* Identical orthogonal codes: self all 1, cross all 0, both variances 0 and
 * the means differ: d' = +Inf, overlap 0, top1 1. All codes zero: every cosine
 * 0, d' = NaN, overlap 1, top1 0. */
static void degenerate(uhn_ctx *ctx) {
    enum { N = 6, D = 6 };
    float E[N * D], Z[N * D];
    memset(E, 0, sizeof E);
    memset(Z, 0, sizeof Z);
    for (int i = 0; i < N; ++i) E[i * D + i] = 2.0f;
    uhn_sep_params p = {10, 2, 4};
    uhn_sep_result r;
    check_context("orthogonal codes");
    CHECK_INT(UHN_OK, uhn_sep_result_init(ctx, 10, &r));
    CHECK_INT(UHN_OK, distributed(ctx, E, N, E, N, D, &p, &r));
    CHECK_NEAR(1.0, r.self_mean, 0);
    CHECK_NEAR(0.0, r.cross_std, 0);
    CHECK(isinf(r.dprime) && r.dprime > 0);
    CHECK_NEAR(0.0, r.overlap, 0);
    CHECK_NEAR(1.0, r.top1, 0);
    CHECK_INT(N, r.self_hist[9]);
    CHECK_INT(N * N - N, r.cross_hist[5]);
    uhn_sep_result_free(&r);
    check_context("zero codes");
    CHECK_INT(UHN_OK, uhn_sep_result_init(ctx, 10, &r));
    CHECK_INT(UHN_OK, distributed(ctx, Z, N, Z, N, D, &p, &r));
    CHECK(isnan(r.dprime));
    CHECK_NEAR(1.0, r.overlap, 1e-15);
    CHECK_NEAR(0.0, r.top1, 0);
    uhn_sep_result_free(&r);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    random_case(ctx, 21, 53, 13, 200);
    random_case(ctx, 17, 17, 40, 9);
    random_case(ctx, 8, 101, 3, 1000);
    random_case(ctx, 5, 7, 1, 4); /* D = 1: cosines are +-1 or 0 */
    degenerate(ctx);
    int code = check_finish_mpi(ctx->comm, "test_separability");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
