/*
 * The encoders (src/encoders) at any rank count, against references computed
 * here: identity and centred exactly; random's R entry by entry against
 * uhn_rng_normal, R R⁺ = I and encode(decode(c)) = c; pca against a direct
 * LAPACK eigendecomposition (dsyevd) of the covariance formed in plain loops,
 * and against data with a known spectrum (Walsh columns: a diagonal
 * covariance), whitening to unit variance, D = K reconstructing exactly, a
 * rank that holds no rows. Each rank holds its uhn_encoder_fit_block of the
 * rows, as `uhn encode fit` does.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/encoder.h"
#include "uhn/rng.h"
#include "uhn/uhn.h"

void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);

/* This rank's rows [row0, row0 + nloc) of an n-row set, as the fit expects. */
static void block_of(const uhn_ctx *ctx, int64_t n, int64_t *row0, int64_t *nloc) {
    int64_t b = uhn_encoder_fit_block(n, ctx->size);
    *row0 = ctx->rank * b < n ? ctx->rank * b : n;
    *nloc = n - *row0 < b ? n - *row0 : b;
}

/* Pseudo-random images in [0, 1], the same on every rank. */
static float *images(int64_t n, int64_t K, uint64_t seed) {
    float *x = malloc((size_t)(n * K) * sizeof *x);
    for (int64_t i = 0; i < n * K; ++i) x[i] = (float)uhn_rng_uniform(seed, 1, (uint64_t)i, 0);
    return x;
}

static uhn_encoder *fit(uhn_ctx *ctx, const char *name, int64_t dim, int whiten, uint64_t seed,
                        int64_t h, int64_t w, const float *x, int64_t n) {
    uhn_encoder_config cfg = {name, dim, whiten, seed, h, w, 1, 0, 0};
    int64_t row0, nloc;
    block_of(ctx, n, &row0, &nloc);
    uhn_encoder *e = NULL;
    int st = uhn_encoder_fit(ctx, &cfg, x + row0 * h * w, nloc, n, &e);
    CHECK_MSG(st == UHN_OK, "fit %s failed: %s", name, ctx->msg);
    return e;
}

static void test_identity_centred(uhn_ctx *ctx) {
    const int64_t n = 23, K = 12;
    float *x = images(n, K, 5), *c = malloc((size_t)(n * K) * sizeof *c);
    float *y = malloc((size_t)(n * K) * sizeof *y);
    check_context("identity");
    uhn_encoder *e = fit(ctx, "identity", 0, 0, 0, 3, 4, x, n);
    if (e) {
        CHECK_INT(K, uhn_encoder_dim(e));
        uhn_encoder_encode(ctx, e, x, n, c);
        uhn_encoder_decode(ctx, e, c, n, y);
        CHECK(!memcmp(c, x, (size_t)(n * K) * sizeof *c));
        CHECK(!memcmp(y, x, (size_t)(n * K) * sizeof *y));
    }
    uhn_encoder_destroy(e);
    check_context("centred");
    e = fit(ctx, "centred", 0, 0, 0, 3, 4, x, n);
    if (e) {
        uhn_encoder_encode(ctx, e, x, n, c);
        uhn_encoder_decode(ctx, e, c, n, y);
        for (int64_t k = 0; k < K; ++k) {
            double mu = 0;
            for (int64_t i = 0; i < n; ++i) mu += x[i * K + k];
            mu /= (double)n;
            for (int64_t i = 0; i < n; ++i) {
                CHECK_NEAR((double)x[i * K + k] - mu, c[i * K + k], 1e-7);
                CHECK_NEAR(x[i * K + k], y[i * K + k], 1.2e-7);
            }
        }
    }
    uhn_encoder_destroy(e);
    free(x), free(c), free(y);
}

static void test_random(uhn_ctx *ctx) {
    const int64_t K = 12, D = 5, n = 7;
    const uint64_t seed = 77;
    float *x = images(n, K, 9);
    check_context("random");
    uhn_encoder *e = fit(ctx, "random", D, 0, seed, 3, 4, x, n);
    if (!e) return;
    float unit[12], c[5], back[12], c2[5];
    /* Column k of R is the code of the unit image e_k: R_dk to the last bit. */
    for (int64_t k = 0; k < K; ++k) {
        memset(unit, 0, sizeof unit);
        unit[k] = 1.0f;
        uhn_encoder_encode(ctx, e, unit, 1, c);
        for (int64_t d = 0; d < D; ++d) {
            double r = uhn_rng_normal(seed, UHN_STREAM_ENCODER_RANDOM, (uint64_t)(d * K + k), 0) /
                       sqrt((double)D);
            CHECK_MSG(c[d] == (float)r, "R[%lld][%lld] = %.9g, expected %.9g", (long long)d,
                      (long long)k, c[d], (float)r);
        }
    }
    /* R full row rank: encode(decode(c)) = c (R R⁺ = I), to float round-off. */
    for (int t = 0; t < 4; ++t) {
        for (int64_t d = 0; d < D; ++d)
            c[d] = (float)uhn_rng_normal(3, 2, (uint64_t)(t * D + d), 0);
        uhn_encoder_decode(ctx, e, c, 1, back);
        uhn_encoder_encode(ctx, e, back, 1, c2);
        for (int64_t d = 0; d < D; ++d) CHECK_NEAR(c[d], c2[d], 1e-5);
    }
    uhn_encoder_destroy(e);
    free(x);
}

/* The leading D eigenpairs of the covariance of x (n × K) by LAPACK, signs fixed. */
static void reference_pca(const float *x, int64_t n, int64_t K, int64_t D, double *mean,
                          double *comp, double *var) {
    double *C = calloc((size_t)(K * K), sizeof *C), w[64];
    for (int64_t k = 0; k < K; ++k) {
        mean[k] = 0;
        for (int64_t i = 0; i < n; ++i) mean[k] += x[i * K + k];
        mean[k] /= (double)n;
    }
    for (int64_t a = 0; a < K; ++a)
        for (int64_t b = 0; b < K; ++b) {
            double s = 0;
            for (int64_t i = 0; i < n; ++i)
                s += (x[i * K + a] - mean[a]) * (x[i * K + b] - mean[b]);
            C[a + b * K] = s / (double)n;
        }
    int Ki = (int)K, lwork = 1 + 6 * Ki + 2 * Ki * Ki, liwork = 3 + 5 * Ki, iwork[400], info = 0;
    double *work = malloc((size_t)lwork * sizeof *work);
    dsyevd_("V", "L", &Ki, C, &Ki, w, work, &lwork, iwork, &liwork, &info);
    CHECK_INT(0, info);
    for (int64_t d = 0; d < D; ++d) {
        var[d] = w[K - 1 - d];
        int64_t at = 0;
        for (int64_t k = 0; k < K; ++k) {
            comp[d * K + k] = C[k + (K - 1 - d) * K];
            if (fabs(comp[d * K + k]) > fabs(comp[d * K + at])) at = k;
        }
        if (comp[d * K + at] < 0)
            for (int64_t k = 0; k < K; ++k) comp[d * K + k] = -comp[d * K + k];
    }
    free(C);
    free(work);
}

static void test_pca_lapack(uhn_ctx *ctx, int64_t n, int64_t K, int64_t D) {
    float *x = images(n, K, 11 + (uint64_t)n);
    double mean[64], comp[64 * 64], var[64];
    reference_pca(x, n, K, D, mean, comp, var);
    check_context("pca vs LAPACK dsyevd, n = %lld, K = %lld, D = %lld", (long long)n, (long long)K,
                  (long long)D);
    uhn_encoder *e = fit(ctx, "pca", D, 0, 0, 1, K, x, n);
    if (!e) return;
    /* The fitted arrays, read back through the codes of unit images: c = V(e_k − μ). */
    float *c = malloc((size_t)D * sizeof *c), *y = malloc((size_t)K * sizeof *y);
    const double *mv = uhn_encoder_variances(e), *mc = uhn_encoder_components(e);
    const double *mm = uhn_encoder_mean(e);
    for (int64_t k = 0; k < K; ++k) CHECK_NEAR(mean[k], mm[k], 1e-9);
    for (int64_t d = 0; d < D; ++d) {
        CHECK_REL(var[d], mv[d], 1e-10, var[0]);
        for (int64_t k = 0; k < K; ++k) CHECK_NEAR(comp[d * K + k], mc[d * K + k], 1e-8);
    }
    for (int64_t i = 0; i < n; ++i) {
        uhn_encoder_encode(ctx, e, x + i * K, 1, c);
        for (int64_t d = 0; d < D; ++d) {
            double ref = 0;
            for (int64_t k = 0; k < K; ++k) ref += comp[d * K + k] * (x[i * K + k] - mean[k]);
            CHECK_NEAR(ref, c[d], 1e-6);
        }
        /* decode(encode(x)) = μ + V_Dᵀ V_D (x − μ) */
        uhn_encoder_decode(ctx, e, c, 1, y);
        for (int64_t k = 0; k < K; ++k) {
            double ref = mean[k];
            for (int64_t d = 0; d < D; ++d) {
                double cd = 0;
                for (int64_t j = 0; j < K; ++j) cd += comp[d * K + j] * (x[i * K + j] - mean[j]);
                ref += comp[d * K + k] * cd;
            }
            CHECK_NEAR(ref, y[k], 2e-6);
        }
    }
    free(c), free(y), free(x);
    uhn_encoder_destroy(e);
}

/* Walsh columns: orthogonal, zero-mean ±1 over 16 rows, so the covariance of
 * 0.5 + a_k h_k is diag(a_k²): eigenvalues a_k², eigenvectors e_k. */
static void test_pca_known(uhn_ctx *ctx) {
    const int64_t n = 16, K = 6;
    const double a[6] = {0.05, 0.3, 0.15, 0.25, 0.1, 0.2}; /* order: 1, 3, 5, 2, 4, 0 */
    const int order[6] = {1, 3, 5, 2, 4, 0};
    float x[16 * 6];
    for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < K; ++k) {
            unsigned m = (unsigned)(k + 1), bits = (unsigned)i & m; /* Walsh function k+1 */
            int par = __builtin_popcount(bits) & 1;
            x[i * K + k] = (float)(0.5 + a[k] * (par ? -1.0 : 1.0));
        }
    for (int whiten = 0; whiten <= 1; ++whiten) {
        check_context("pca, known spectrum, whiten %d", whiten);
        uhn_encoder *e = fit(ctx, "pca", K, whiten, 0, 2, 3, x, n);
        if (!e) continue;
        float c[16 * 6], y[16 * 6];
        uhn_encoder_encode(ctx, e, x, n, c);
        uhn_encoder_decode(ctx, e, c, n, y);
        for (int64_t d = 0; d < K; ++d) {
            /* code d is ±(x_k − 0.5) for k = order[d], scaled by 1/a_k when whitened */
            double mean = 0, sq = 0;
            for (int64_t i = 0; i < n; ++i) {
                int k = order[d];
                double want = (x[i * K + k] - 0.5) / (whiten ? a[k] : 1.0);
                CHECK_NEAR(fabs(want), fabs(c[i * K + d]), 1e-6);
                mean += c[i * K + d];
                sq += (double)c[i * K + d] * c[i * K + d];
            }
            CHECK_NEAR(0.0, mean / (double)n, 1e-6);
            CHECK_NEAR(whiten ? 1.0 : a[order[d]] * a[order[d]], sq / (double)n, 1e-6);
        }
        for (int64_t i = 0; i < n * K; ++i) CHECK_NEAR(x[i], y[i], 1e-6); /* D = K: exact */
        uhn_encoder_destroy(e);
    }
}

static void test_whiten_refused(uhn_ctx *ctx) {
    /* 3 rows span 2 dimensions: the third eigenvalue is zero. */
    const float x[3 * 4] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0};
    uhn_encoder_config cfg = {"pca", 3, 1, 0, 1, 4, 1, 0, 0};
    int64_t row0, nloc;
    block_of(ctx, 3, &row0, &nloc);
    uhn_encoder *e = NULL;
    check_context("pca --whiten with a zero eigenvalue");
    int st = uhn_encoder_fit(ctx, &cfg, x + row0 * 4, nloc, 3, &e);
    CHECK_INT(UHN_EINPUT, st);
    CHECK_CONTAINS(ctx->msg, "whiten");
    CHECK(e == NULL);
    ctx->msg[0] = '\0';
    ctx->param[0] = '\0';
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    test_identity_centred(ctx);
    test_random(ctx);
    test_pca_lapack(ctx, 37, 10, 4);
    test_pca_lapack(ctx, 5, 9, 3); /* at 4 ranks the last holds no row */
    test_pca_lapack(ctx, 200, 50, 50);
    test_pca_known(ctx);
    test_whiten_refused(ctx);
    int rc = check_finish_mpi(ctx->comm, "test_encoders");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
