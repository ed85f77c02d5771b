/*
 * The random encoder (spec §9): c = R x with R_dk ~ N(0, 1/D) drawn from the
 * counter-based generator keyed by (seed, UHN_STREAM_ENCODER_RANDOM, d·K + k),
 * and the least-squares decode x = R⁺c (the minimum-norm x with R x = c, so
 * that decode(encode(x)) is the projection of x onto R's row space).
 *
 * Nothing is fitted and nothing but the seed is saved: R is regenerated after
 * a fit or a load (prepare), and R⁺ is computed once, on rank 0, by LAPACK's
 * dgelsd (SVD-based, handles a rank-deficient R) and broadcast, so that every
 * rank and every later load hold the same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "encoders/encoder_impl.h"
#include "uhn/rng.h"

/* LAPACK (OpenBLAS ships it, without a LAPACKE header in this install). */
void dgelsd_(const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
             const int *ldb, double *s, const double *rcond, int *rank, double *work,
             const int *lwork, int *iwork, int *info);

/* R⁺ (K × D, row-major into e->pinv) from R (D × K): solves R X = I. Rank 0. */
static int pseudo_inverse(uhn_ctx *ctx, uhn_encoder *e) {
    const int D = (int)e->D, K = (int)e->K, ldb = D > K ? D : K, query = -1;
    double *a = malloc((size_t)D * (size_t)K * sizeof *a);
    double *b = calloc((size_t)ldb * (size_t)D, sizeof *b);
    double *s = malloc((size_t)(D < K ? D : K) * sizeof *s), lw = 0, *work = NULL;
    int rank = 0, info = 0, liw = 0, *iwork = NULL, st = UHN_OK;
    const double rcond = -1; /* machine precision */
    if (!a || !b || !s) st = uhn_fail(ctx, UHN_ENOMEM, "random: out of memory for R+");
    if (st == UHN_OK) {
        for (int d = 0; d < D; ++d) {
            for (int k = 0; k < K; ++k) a[d + (size_t)k * D] = e->proj[(size_t)d * K + k];
            b[d + (size_t)d * ldb] = 1.0;
        }
        dgelsd_(&D, &K, &D, a, &D, b, &ldb, s, &rcond, &rank, &lw, &query, &liw, &info);
        int lwork = (int)lw + 1;
        work = malloc((size_t)lwork * sizeof *work);
        iwork = malloc((size_t)(liw > 1 ? liw : 1) * sizeof *iwork);
        if (info != 0 || !work || !iwork)
            st = uhn_fail(ctx, info ? UHN_EINTERNAL : UHN_ENOMEM,
                          "random: dgelsd workspace failed (info %d)", info);
        if (st == UHN_OK) {
            dgelsd_(&D, &K, &D, a, &D, b, &ldb, s, &rcond, &rank, work, &lwork, iwork, &info);
            if (info != 0)
                st = uhn_fail(ctx, UHN_EINTERNAL, "random: dgelsd failed (info %d)", info);
        }
        for (int k = 0; st == UHN_OK && k < K; ++k)
            for (int d = 0; d < D; ++d) e->pinv[(size_t)k * D + d] = b[k + (size_t)d * ldb];
    }
    free(a);
    free(b);
    free(s);
    free(work);
    free(iwork);
    return st;
}

static int prepare(uhn_ctx *ctx, uhn_encoder *e) {
    const int64_t D = e->D, K = e->K;
    e->proj = malloc((size_t)(D * K) * sizeof *e->proj);
    e->pinv = malloc((size_t)(D * K) * sizeof *e->pinv);
    int st = e->proj && e->pinv ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "random: out of memory for R");
    UHN_CALL(uhn_agree(ctx, st));
    const double sd = 1.0 / sqrt((double)D);
    for (int64_t d = 0; d < D; ++d)
        for (int64_t k = 0; k < K; ++k)
            e->proj[d * K + k] = sd * uhn_rng_normal(e->cfg.seed, UHN_STREAM_ENCODER_RANDOM,
                                                     (uint64_t)(d * K + k), 0);
    st = ctx->rank == 0 ? pseudo_inverse(ctx, e) : UHN_OK;
    UHN_CALL(uhn_agree(ctx, st));
    UHN_MPI(ctx, MPI_Bcast(e->pinv, (int)(D * K), MPI_DOUBLE, 0, ctx->comm));
    return UHN_OK;
}

static void encode(const uhn_encoder *e, const float *x, float *c, double *work) {
    for (int64_t k = 0; k < e->K; ++k) work[k] = (double)x[k];
    for (int64_t d = 0; d < e->D; ++d)
        c[d] = (float)uhn_encoder_dot(e->proj + d * e->K, work, e->K);
}

static void decode(const uhn_encoder *e, const float *c, float *x, double *work) {
    for (int64_t d = 0; d < e->D; ++d) work[d] = (double)c[d];
    for (int64_t k = 0; k < e->K; ++k)
        x[k] = (float)uhn_encoder_dot(e->pinv + k * e->D, work, e->D);
}

const uhn_encoder_ops uhn_encoder_random = {
    .name = "random",
    .help = "c = R x, R_dk ~ N(0, 1/D) from --seed; decoded by least squares R+ c",
    .flags = ENC_USES_DIM | ENC_USES_SEED,
    .fit = NULL,
    .prepare = prepare,
    .encode = encode,
    .decode = decode,
};
