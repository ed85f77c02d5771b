/*
 * The pca encoder (spec §9): c = V_Dᵀ(x − μ), divided by σ_d = sqrt(λ_d) when
 * whitened; x = V_D c (σ_d·c when whitened) + μ.
 *
 * The fit is ScaLAPACK's, over every rank:
 *   1. μ from fixed-point sums (uhn_encoder_fit_mean: the same bits at any
 *      rank count);
 *   2. the centred training rows X − μ stay where they were read: rank p's
 *      block of rows is the p-th row block of an n × K matrix on a P × 1 BLACS
 *      grid, and pdsyrk forms the lower triangle of the covariance
 *      C = (1/n)(X − μ)ᵀ(X − μ) on that grid, block-cyclic in NB × NB blocks;
 *   3. pdgemr2d moves C onto the near-square 2-D grid, where pdsyevd
 *      computes every eigenpair (ascending);
 *   4. the D leading eigenvectors are gathered to every rank (each entry is
 *      held by one process, so an MPI_SUM of zero-filled copies is exact) and
 *      each one's sign is fixed so that its entry of largest magnitude (the
 *      lowest index among ties) is positive.
 * The reductions inside pdsyrk and pdsyevd follow the grid, so fits at
 * different rank counts agree to round-off, not bit for bit (the tests
 * measure it); a saved model encodes bit-identically anywhere.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "core/fault.h"
#include "encoders/encoder_impl.h"
#include "linalg/blacs_grid.h"
#include "linalg/scalapack.h"

enum { PCA_NB = 64 }; /* ScaLAPACK block size of the covariance */

/* The covariance's local pieces and the grids they live on. */
typedef struct pca_fit {
    int ctxt_col; /* the P × 1 grid of the training rows (on the 2-D grid's system handle) */
    int have_col, have_grid;
    uhn_blacs_grid grid; /* the 2-D grid of the eigen-solve */
    double *xc, *c1, *a, *z, *w, *work;
    int *iwork;
} pca_fit;

static void pca_fit_free(pca_fit *f) {
    free(f->xc);
    free(f->c1);
    free(f->a);
    free(f->z);
    free(f->w);
    free(f->work);
    free(f->iwork);
    if (f->have_col) Cblacs_gridexit(f->ctxt_col);
    if (f->have_grid) uhn_blacs_grid_destroy(&f->grid); /* frees the shared system handle */
}

static int imax(int a, int b) {
    return a > b ? a : b;
}

/* Steps 2 and 3: the covariance on the 2-D grid (f->a, descriptor desca). */
static int covariance(uhn_ctx *ctx, pca_fit *f, const uhn_encoder *e, const float *x,
                      int64_t n_local, int64_t n_total, int desca[9]) {
    const int one = 1, zero = 0, P = ctx->size, K = (int)e->K, n = (int)n_total, nb = PCA_NB;
    int info = 0, myrow, mycol, nprow, npcol;
    /* One BLACS system handle per communicator: the 2-D grid's, shared. */
    UHN_CALL(uhn_blacs_grid_create(ctx, &f->grid));
    f->have_grid = 1;
    f->ctxt_col = f->grid.sys_handle;
    Cblacs_gridinit(&f->ctxt_col, "Row", P, 1);
    f->have_col = 1;
    Cblacs_gridinfo(f->ctxt_col, &nprow, &npcol, &myrow, &mycol);
    int mb = (int)uhn_encoder_fit_block(n_total, P);
    if (myrow != ctx->rank || numroc_(&n, &mb, &myrow, &zero, &P) != n_local)
        return uhn_fail(ctx, UHN_EINTERNAL,
                        "pca: rank %d holds %lld rows, not its ScaLAPACK row block", ctx->rank,
                        (long long)n_local);

    /* X − μ, column-major n_local × K (the layout ScaLAPACK reads). */
    int lldx = imax(1, (int)n_local);
    f->xc = malloc((size_t)lldx * (size_t)K * sizeof *f->xc);
    int rc1 = numroc_(&K, &nb, &myrow, &zero, &P), lldc = imax(1, rc1);
    f->c1 = calloc((size_t)lldc * (size_t)K, sizeof *f->c1);
    /* ScaLAPACK's collectives follow: a rank short of memory stops every rank. */
    UHN_CALL(uhn_agree(ctx, f->xc && f->c1 && !UHN_FAULT(ctx, UHN_FAULT_ENCODER_FIT)
                                ? UHN_OK
                                : uhn_fail(ctx, UHN_ENOMEM,
                                           "pca: out of memory for %lld x %d centred rows",
                                           (long long)n_local, K)));
    for (int64_t i = 0; i < n_local; ++i)
        for (int k = 0; k < K; ++k)
            f->xc[i + (int64_t)k * lldx] = (double)x[i * K + k] - e->mean[k];

    int descx[9], descc1[9];
    descinit_(descx, &n, &K, &mb, &nb, &zero, &zero, &f->ctxt_col, &lldx, &info);
    if (info == 0) descinit_(descc1, &K, &K, &nb, &nb, &zero, &zero, &f->ctxt_col, &lldc, &info);
    if (info != 0) return uhn_fail(ctx, UHN_EINTERNAL, "pca: descinit failed (info %d)", info);
    const double alpha = 1.0 / (double)n_total, beta = 0.0;
    pdsyrk_("L", "T", &K, &n, &alpha, f->xc, &one, &one, descx, &beta, f->c1, &one, &one, descc1);
    free(f->xc);
    f->xc = NULL;

    int ra = numroc_(&K, &nb, &f->grid.myrow, &zero, &f->grid.nprow);
    int ca = numroc_(&K, &nb, &f->grid.mycol, &zero, &f->grid.npcol), llda = imax(1, ra);
    f->a = calloc((size_t)llda * (size_t)imax(1, ca), sizeof *f->a);
    f->z = calloc((size_t)llda * (size_t)imax(1, ca), sizeof *f->z);
    UHN_CALL(uhn_agree(
        ctx, f->a && f->z ? UHN_OK
                          : uhn_fail(ctx, UHN_ENOMEM, "pca: out of memory for the covariance")));
    descinit_(desca, &K, &K, &nb, &nb, &zero, &zero, &f->grid.ictxt, &llda, &info);
    if (info != 0) return uhn_fail(ctx, UHN_EINTERNAL, "pca: descinit failed (info %d)", info);
    pdgemr2d_(&K, &K, f->c1, &one, &one, descc1, f->a, &one, &one, desca, &f->grid.ictxt);
    return UHN_OK;
}

/* Step 3: every eigenpair of the covariance by pdsyevd, ascending in f->w. */
static int eigen(uhn_ctx *ctx, pca_fit *f, int K, const int desca[9]) {
    const int one = 1, query = -1;
    int info = 0, liwork = 0;
    double lw = 0;
    f->w = malloc((size_t)K * sizeof *f->w);
    UHN_CALL(uhn_agree(
        ctx, f->w ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "pca: out of memory for the eigenvalues")));
    pdsyevd_("V", "L", &K, f->a, &one, &one, desca, f->w, f->z, &one, &one, desca, &lw, &query,
             &liwork, &query, &info);
    if (info != 0)
        return uhn_fail(ctx, UHN_EINTERNAL, "pca: pdsyevd workspace query failed (info %d)", info);
    /* The query under-reports the needs of pdormtr inside pdsyevd for small K
     * (it then fails on its LWORK): take the larger of the query and the
     * documented bound, plus pdormtr's NB-sized blocks. Small next to C. */
    const int zero = 0, nb = PCA_NB;
    int np = numroc_(&K, &nb, &f->grid.myrow, &zero, &f->grid.nprow);
    int nq = numroc_(&K, &nb, &f->grid.mycol, &zero, &f->grid.npcol);
    int trilwmin = 3 * K + imax(nb * (np + 1), 3 * nb);
    int bound = imax(1 + 6 * K + 2 * np * nq, trilwmin) + 2 * K;
    int lwork = imax((int)lw, bound) + 2 * (K + 2 * nb) * nb + 2 * nb * nb;
    int lwi = imax(liwork, 7 * K + 8 * f->grid.npcol + 2) + 1024;
    f->work = malloc((size_t)lwork * sizeof *f->work);
    f->iwork = malloc((size_t)lwi * sizeof *f->iwork);
    UHN_CALL(uhn_agree(
        ctx, f->work && f->iwork
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "pca: out of memory for the pdsyevd workspace")));
    pdsyevd_("V", "L", &K, f->a, &one, &one, desca, f->w, f->z, &one, &one, desca, f->work, &lwork,
             f->iwork, &lwi, &info);
    if (info != 0) return uhn_fail(ctx, UHN_EINTERNAL, "pca: pdsyevd failed (info %d)", info);
    return UHN_OK;
}

/* Step 4: the D leading eigenvectors into e->components, signs fixed. */
static int gather_components(uhn_ctx *ctx, pca_fit *f, uhn_encoder *e, const int desca[9]) {
    const int64_t K = e->K, D = e->D;
    const int zero = 0, nb = PCA_NB, Ki = (int)K;
    double *mine = calloc((size_t)(D * K), sizeof *mine);
    e->components = malloc((size_t)(D * K) * sizeof *e->components);
    e->variances = malloc((size_t)D * sizeof *e->variances);
    int st = UHN_OK;
    if (!mine || !e->components || !e->variances)
        st = uhn_fail(ctx, UHN_ENOMEM, "pca: out of memory for the components");
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) {
        const uhn_blacs_grid *g = &f->grid;
        int ra = numroc_(&Ki, &nb, &g->myrow, &zero, &g->nprow);
        int ca = numroc_(&Ki, &nb, &g->mycol, &zero, &g->npcol), lld = desca[8];
        for (int jl = 0; jl < ca; ++jl) {
            int64_t j = ((int64_t)(jl / nb) * g->npcol + g->mycol) * nb + jl % nb;
            int64_t d = K - 1 - j; /* ascending eigenvalues: column K-1 is the largest */
            if (d >= D) continue;
            for (int il = 0; il < ra; ++il) {
                int64_t i = ((int64_t)(il / nb) * g->nprow + g->myrow) * nb + il % nb;
                mine[d * K + i] = f->z[il + (int64_t)jl * lld];
            }
        }
        if (MPI_Allreduce(mine, e->components, (int)(D * K), MPI_DOUBLE, MPI_SUM, ctx->comm) !=
            MPI_SUCCESS)
            st = uhn_fail(ctx, UHN_EMPI, "pca: MPI_Allreduce of the components failed");
    }
    free(mine);
    UHN_CALL(uhn_agree(ctx, st));
    /* Rank 0's eigenvalues for everyone, so that the model is one model. */
    UHN_MPI(ctx, MPI_Bcast(f->w, Ki, MPI_DOUBLE, 0, ctx->comm));
    for (int64_t d = 0; d < D; ++d) {
        e->variances[d] = f->w[K - 1 - d];
        double *v = e->components + d * K;
        int64_t at = 0;
        for (int64_t k = 1; k < K; ++k)
            if (fabs(v[k]) > fabs(v[at])) at = k;
        if (v[at] < 0)
            for (int64_t k = 0; k < K; ++k) v[k] = -v[k];
        /* ScaLAPACK reports some workspace errors only by printing: check
         * that what came back is a unit vector with ordered eigenvalues. */
        double norm = uhn_encoder_dot(v, v, K);
        if (!(fabs(norm - 1.0) < 1e-8) || (d > 0 && !(e->variances[d] <= e->variances[d - 1])))
            return uhn_fail(ctx, UHN_EINTERNAL,
                            "pca: pdsyevd returned eigenvector %lld of squared norm %.17g (or "
                            "unordered eigenvalues); the eigen-solve failed",
                            (long long)d, norm);
    }
    return UHN_OK;
}

static int fit(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local, int64_t n_total) {
    UHN_CALL(uhn_encoder_fit_mean(ctx, e, x, n_local, n_total));
    if (n_total > 2147483647 || e->K > 46340) /* ScaLAPACK's int indices */
        return uhn_fail(ctx, UHN_EINPUT,
                        "pca: %lld rows of %lld pixels exceed ScaLAPACK's "
                        "32-bit indices",
                        (long long)n_total, (long long)e->K);
    pca_fit f;
    memset(&f, 0, sizeof f);
    int desca[9];
    int st = uhn_agree(ctx, covariance(ctx, &f, e, x, n_local, n_total, desca));
    if (st == UHN_OK) st = uhn_agree(ctx, eigen(ctx, &f, (int)e->K, desca));
    if (st == UHN_OK) st = gather_components(ctx, &f, e, desca);
    pca_fit_free(&f);
    return uhn_agree(ctx, st);
}

/* σ_d for whitening; a variance that is zero to round-off cannot be divided by. */
static int prepare(uhn_ctx *ctx, uhn_encoder *e) {
    if (!e->cfg.whiten) return UHN_OK;
    e->scale = malloc((size_t)e->D * sizeof *e->scale);
    if (!e->scale) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the whitening scales");
    double floor = e->variances[0] * (double)e->K * DBL_EPSILON;
    for (int64_t d = 0; d < e->D; ++d) {
        double v = e->variances[d];
        if (!(v > 0) || v <= floor)
            return uhn_fail_param(ctx, UHN_EINPUT, "whiten",
                                  "whiten cannot scale component %lld to unit variance: its "
                                  "eigenvalue %g is zero to round-off (largest %g); use a dim of "
                                  "at most %lld or no whitening",
                                  (long long)d, v, e->variances[0], (long long)d);
        e->scale[d] = sqrt(v);
    }
    return UHN_OK;
}

static void encode(const uhn_encoder *e, const float *x, float *c, double *work) {
    for (int64_t k = 0; k < e->K; ++k) work[k] = (double)x[k] - e->mean[k];
    for (int64_t d = 0; d < e->D; ++d) {
        double v = uhn_encoder_dot(e->components + d * e->K, work, e->K);
        c[d] = (float)(e->scale ? v / e->scale[d] : v);
    }
}

static void decode(const uhn_encoder *e, const float *c, float *x, double *work) {
    for (int64_t k = 0; k < e->K; ++k) work[k] = e->mean[k];
    for (int64_t d = 0; d < e->D; ++d) {
        double a = e->scale ? (double)c[d] * e->scale[d] : (double)c[d];
        const double *v = e->components + d * e->K;
        for (int64_t k = 0; k < e->K; ++k) work[k] += a * v[k];
    }
    for (int64_t k = 0; k < e->K; ++k) x[k] = (float)work[k];
}

static const enc_array arrays[] = {
    ENC_ARRAY_MEAN,
    {"components",
     offsetof(uhn_encoder, components),
     2,
     {ENC_EXT_D, ENC_EXT_K},
     "the D leading eigenvectors of the training covariance, one per row, largest eigenvalue "
     "first; each one's entry of largest magnitude is positive",
     "1",
     "component,pixel"},
    {"variances",
     offsetof(uhn_encoder, variances),
     1,
     {ENC_EXT_D, ENC_EXT_D},
     "eigenvalues lambda_d of the covariance (1/n) sum (x - mu)(x - mu)^T, largest first",
     "pixel value^2",
     "component"},
};

const uhn_encoder_ops uhn_encoder_pca = {
    .name = "pca",
    .help = "c = V_D^T (x - mu) [/ sigma_d with --whiten]: the D leading principal components "
            "(ScaLAPACK pdsyrk + pdsyevd over all ranks)",
    .flags = ENC_USES_DIM | ENC_USES_WHITEN,
    .arrays = arrays,
    .narrays = sizeof arrays / sizeof arrays[0],
    .fit = fit,
    .prepare = prepare,
    .encode = encode,
    .decode = decode,
};
