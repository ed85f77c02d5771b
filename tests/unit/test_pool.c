/*
 * The group sums of the pooled screen (core/simd_pool.h) against double
 * references, for g = 1, 2, 4, 8, 16 and K from 1 to 784 (tails of every
 * length), on uniform, signed, smooth (image-like), alternating (every
 * neighbour differs: the residual is most of the row) and large data:
 *  - every pooled coordinate against the group sum / sqrt(g) in double, and
 *    the norms PN and R within the allowance eta = uhn_pool_slack(K);
 *  - g = 1 is the row itself: P = x bit for bit and R = 0;
 *  - the screen's bound: |x.q - p~(x).p~(q)| <= (1 + eta)^2 R(x) R(q) +
 *    7 eta ||x|| ||q|| for every pair, with x.q exact (double); on x = q the
 *    residual term is attained (x.x - p.p = ||r||^2), so the bound is also
 *    shown to be tight, not merely true;
 *  - the bound of the whole screen (kernel_fast.c, tile_screened): the bf16
 *    product of the pooled rows against the exact x.q, within
 *    c(d) (1 + eta)^2 PN PN + (1 + eta)^2 R R + 7 eta ||x|| ||q|| + 2^-64
 *    (where AVX512_BF16 is present).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/simd_bf16.h"
#include "core/simd_pool.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static double uniform(void) { /* [0, 1), splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

enum { DATA_UNIFORM, DATA_SIGNED, DATA_SMOOTH, DATA_ALTERNATING, DATA_LARGE, DATA_COUNT };
static const char *data_name[DATA_COUNT] = {"uniform", "signed", "smooth", "alternating", "large"};

static void fill(float *x, int64_t n, int64_t K, int kind) {
    for (int64_t i = 0; i < n; ++i) {
        const double phase = 6.283 * uniform(), level = uniform();
        for (int64_t k = 0; k < K; ++k) {
            double v;
            switch (kind) {
            case DATA_UNIFORM:
                v = uniform();
                break;
            case DATA_SIGNED:
                v = 2 * uniform() - 1;
                break;
            case DATA_SMOOTH:
                v = level + 0.3 * sin(phase + 0.05 * (double)k) + 0.01 * uniform();
                break;
            case DATA_ALTERNATING:
                v = (k % 2 ? 1 : -1) * (0.5 + uniform());
                break;
            default:
                v = 1e3 * (2 * uniform() - 1);
                break;
            }
            x[i * K + k] = (float)v;
        }
    }
}

/* p, ||p|| and ||r|| of one row in double, from its float coordinates. */
static void ref_pool(const float *x, int64_t K, int g, double *p, double *pn, double *rn) {
    const int64_t K16 = (K + 15) / 16 * 16;
    double sp = 0, sr = 0;
    for (int64_t k = 0, m = 0; k < K16; k += g, ++m) {
        double s = 0;
        for (int l = 0; l < g; ++l) s += k + l < K ? x[k + l] : 0.0;
        p[m] = s / sqrt((double)g);
        sp += p[m] * p[m];
        for (int l = 0; l < g; ++l) {
            const double r = (k + l < K ? x[k + l] : 0.0) - s / g;
            sr += r * r;
        }
    }
    *pn = sqrt(sp), *rn = sqrt(sr);
}

static double dot_d(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t k = 0; k < n; ++k) s += (double)a[k] * b[k];
    return s;
}

static double norm_d(const float *a, int64_t n) {
    return sqrt(dot_d(a, a, n));
}

static void run_case(int64_t n, int64_t K, int g, int kind) {
    check_context("K=%lld g=%d %s", (long long)K, g, data_name[kind]);
    const int64_t d = uhn_pool_len(K, g), ldp = d + 3, Kp = uhn_bf16_pad(d);
    CHECK_INT((K + 15) / 16 * (16 / g), d);
    float *x = malloc((size_t)(n * K) * sizeof(float));
    float *P = malloc((size_t)(n * ldp) * sizeof(float));
    float *PN = malloc((size_t)n * sizeof(float)), *R = malloc((size_t)n * sizeof(float));
    double *p = malloc((size_t)d * sizeof(double));
    uint16_t *xb = malloc((size_t)(n * Kp) * sizeof(uint16_t));
    float *S = malloc((size_t)(n * n) * sizeof(float));
    fill(x, n, K, kind);
    CHECK_INT(d, uhn_pool_rows(x, n, K, K, g, P, ldp, PN, R));
    const double eta = uhn_pool_slack(K);
    for (int64_t i = 0; i < n; ++i) {
        const float *xi = x + i * K;
        double pn, rn;
        ref_pool(xi, K, g, p, &pn, &rn);
        const double xn = norm_d(xi, K);
        double err2 = 0;
        for (int64_t m = 0; m < d; ++m) err2 += (P[i * ldp + m] - p[m]) * (P[i * ldp + m] - p[m]);
        CHECK_MSG(sqrt(err2) <= eta * xn, "row %lld: ||p~ - p|| = %g > eta ||x|| = %g",
                  (long long)i, sqrt(err2), eta * xn);
        CHECK_MSG(pn <= (1 + eta) * PN[i] && PN[i] <= (1 + eta) * pn,
                  "row %lld: ||p|| %.9g against %.9g", (long long)i, (double)PN[i], pn);
        CHECK_MSG(rn <= (1 + eta) * R[i] + eta * xn, "row %lld: ||r|| %.9g against %.9g",
                  (long long)i, (double)R[i], rn);
        if (g == 1) {
            CHECK(memcmp(P + i * ldp, xi, (size_t)K * sizeof(float)) == 0);
            for (int64_t m = K; m < d; ++m) CHECK(P[i * ldp + m] == 0.0f);
            CHECK(R[i] == 0.0f);
        }
    }
    /* The bound of x.q by the pooled product, every pair (x = q included). */
    double worst = 0, self = 1; /* largest share of the bound used; smallest on x = q */
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
            const float *xi = x + i * K, *xj = x + j * K;
            const double exact = dot_d(xi, xj, K), pooled = dot_d(P + i * ldp, P + j * ldp, d);
            const double bound =
                (1 + eta) * (1 + eta) * R[i] * R[j] + 7 * eta * norm_d(xi, K) * norm_d(xj, K);
            CHECK_MSG(fabs(exact - pooled) <= bound, "pair (%lld, %lld): |x.q - p.p| = %g > %g",
                      (long long)i, (long long)j, fabs(exact - pooled), bound);
            if (bound > 0) worst = fmax(worst, fabs(exact - pooled) / bound);
            if (i == j && g > 1 && R[i] > 0.1 * norm_d(xi, K))
                self = fmin(self, fabs(exact - pooled) / bound);
        }
    CHECK_MSG(worst <= 1.0, "share of the bound %g", worst);
    if (g > 1) CHECK_MSG(self > 0.95, "on x = q the residual term is attained: %g", self);
    /* The whole screen: bf16 products of the pooled rows. */
    if (uhn_bf16_available()) {
        uhn_bf16_rows(P, n, d, ldp, xb, Kp);
        uhn_bf16_dots(xb, n, xb, n, Kp, S, n);
        const double grow = (1 + eta) * (1 + eta), c = uhn_bf16_bound(d) * grow;
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < n; ++i) {
                const float *xi = x + i * K, *xj = x + j * K;
                const double exact = dot_d(xi, xj, K);
                const double bound = c * PN[i] * PN[j] + grow * R[i] * R[j] +
                                     7 * eta * norm_d(xi, K) * norm_d(xj, K) + UHN_BF16_ABS;
                CHECK_MSG(fabs(S[j * n + i] - exact) <= bound,
                          "screen (%lld, %lld): |a - x.q| = %g > %g", (long long)i, (long long)j,
                          fabs(S[j * n + i] - exact), bound);
            }
    }
    free(x), free(P), free(PN), free(R), free(p), free(xb), free(S);
}

int main(void) {
    const int64_t Ks[8] = {1, 5, 15, 16, 17, 100, 160, 784};
    for (int kind = 0; kind < DATA_COUNT; ++kind)
        for (int a = 0; a < 8; ++a)
            for (int g = 1; g <= UHN_POOL_GMAX; g *= 2) run_case(24, Ks[a], g, kind);
    return check_finish("test_pool");
}
