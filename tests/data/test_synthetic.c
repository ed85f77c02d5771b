/*
 * Synthetic patterns: every rank generates rows of one shared index list and
 * the checksums must agree across ranks, and rows equal the generator formula
 * of uhn/dataset.h (so they are the same at any rank count); statistics of each kind; correlated
 * families lie closer to their own prototype than to others; every spec error gives its line.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uhn/dataset.h"
#include "uhn/rng.h"
#include "check.h"

static uhn_ctx *ctx;

/* Every rank must agree on `want`; a failure must carry `needle`. */
static void expect(const char *what, int got, int want, const char *needle) {
    check_status_mpi(ctx, what, got, want, needle);
}

static uhn_dataset *open_ok(const char *spec) {
    uhn_dataset *ds = NULL;
    expect(spec, uhn_dataset_open(ctx, spec, &ds), UHN_OK, NULL);
    return ds;
}

/* Each rank generates every row of a shared index list (including rows near
 * 10^7), in its own order; the bitwise checksum must be the same on every
 * rank, and the row must equal its generator formula. */
static void test_determinism(void) {
    static const char *specs[] = {
        "synthetic:binary?n=10000000&k=100&seed=5",
        "synthetic:binary01?n=10000000&k=100&seed=5",
        "synthetic:uniform?n=10000000&k=100&seed=5",
        "synthetic:gaussian?n=10000000&k=100&seed=5&mean=0.4&sd=0.3",
        "synthetic:correlated?n=10000000&h=10&w=10&seed=5&families=7&noise=0.2",
    };
    int64_t idx[64];
    for (int i = 0; i < 64; ++i) idx[i] = (int64_t)i * 156250 + (i % 3);
    idx[63] = 9999999;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; ++s) {
        uhn_dataset *ds = open_ok(specs[s]);
        if (!ds) continue;
        CHECK_INT(10000000, uhn_dataset_n(ds));
        CHECK_INT(100, uhn_dataset_k(ds));
        /* rank r generates the list rotated by r: the same rows, another order */
        int64_t mine[64];
        for (int i = 0; i < 64; ++i) mine[i] = idx[(i + ctx->rank) % 64];
        float *x = malloc(64 * 100 * sizeof *x);
        expect("rows", uhn_dataset_rows(ds, mine, 64, x), UHN_OK, NULL);
        uint64_t sum = 0, lo = 0, hi = 0;
        for (int i = 0; i < 64; ++i) {
            int j = (i - ctx->rank % 64 + 64) % 64; /* position of idx[i] in mine */
            for (int p = 0; p < 100; ++p) {
                uint32_t bits;
                memcpy(&bits, &x[j * 100 + p], 4);
                sum = sum * 1000003u + bits;
            }
        }
        MPI_Allreduce(&sum, &lo, 1, MPI_UINT64_T, MPI_MIN, ctx->comm);
        MPI_Allreduce(&sum, &hi, 1, MPI_UINT64_T, MPI_MAX, ctx->comm);
        check_context("%s", specs[s]);
        CHECK_MSG(lo == hi, "checksums differ across ranks");
        /* the formula of the header, for the uniform set */
        if (s == 2) {
            int j = (63 - ctx->rank % 64 + 64) % 64;
            for (int p = 0; p < 100; ++p)
                CHECK_NEAR((float)uhn_rng_uniform(5, UHN_STREAM_DATA_ROWS, 9999999, (uint32_t)p),
                           x[j * 100 + p], 0);
        }
        if (s == 0) /* binary: the same cells as binary01, mapped 0 -> -1 */ {
            uhn_dataset *b01 = open_ok(specs[1]);
            float y[100];
            int64_t one = 9999999;
            if (b01 && uhn_dataset_rows(b01, &one, 1, y) == UHN_OK) {
                int j = (63 - ctx->rank % 64 + 64) % 64;
                for (int p = 0; p < 100; ++p) CHECK_NEAR(2.0f * y[p] - 1.0f, x[j * 100 + p], 0);
            }
            uhn_dataset_close(b01);
        }
        free(x);
        uhn_dataset_close(ds);
    }
    /* another seed gives other rows */
    uhn_dataset *a = open_ok("synthetic:uniform?n=10&k=50&seed=1");
    uhn_dataset *b = open_ok("synthetic:uniform?n=10&k=50&seed=2");
    float xa[50], xb[50];
    int64_t i0 = 3;
    if (a && b) {
        uhn_dataset_rows(a, &i0, 1, xa);
        uhn_dataset_rows(b, &i0, 1, xb);
        int same = 0;
        for (int p = 0; p < 50; ++p) same += xa[p] == xb[p];
        CHECK_INT(0, same);
    }
    uhn_dataset_close(a);
    uhn_dataset_close(b);
}

/* Mean and standard deviation of 2000 x 100 pixels, rows split over ranks. */
static void moments(uhn_dataset *ds, double *mean, double *sd, double *mn, double *mx) {
    const int64_t n = 2000, k = uhn_dataset_k(ds);
    int64_t r0 = n * ctx->rank / ctx->size, r1 = n * (ctx->rank + 1) / ctx->size;
    int64_t *idx = malloc((size_t)(r1 - r0 + 1) * sizeof *idx);
    float *x = malloc((size_t)((r1 - r0 + 1) * k) * sizeof *x);
    for (int64_t i = r0; i < r1; ++i) idx[i - r0] = i;
    CHECK_INT(UHN_OK, uhn_dataset_rows(ds, idx, r1 - r0, x));
    double s[2] = {0, 0}, m[2] = {INFINITY, INFINITY};
    for (int64_t e = 0; e < (r1 - r0) * k; ++e) {
        s[0] += x[e], s[1] += (double)x[e] * x[e];
        m[0] = fmin(m[0], x[e]), m[1] = fmin(m[1], -x[e]);
    }
    MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, ctx->comm);
    MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_DOUBLE, MPI_MIN, ctx->comm);
    double cnt = (double)(n * k);
    *mean = s[0] / cnt;
    *sd = sqrt(s[1] / cnt - *mean * *mean);
    *mn = m[0];
    *mx = -m[1];
    free(idx);
    free(x);
}

static void test_statistics(void) {
    /* 200,000 samples: the standard error of a mean is about sd/447. */
    static const struct {
        const char *spec;
        double mean, sd, tol, lo, hi;
    } cases[] = {
        {"synthetic:uniform?n=2000&k=100&seed=11", 0.5, 0.28867513, 0.004, 0.0, 1.0},
        {"synthetic:gaussian?n=2000&k=100&seed=11&mean=0.5&sd=0.1", 0.5, 0.1, 0.002, 0.0, 1.0},
        {"synthetic:binary?n=2000&k=100&seed=11", 0.0, 1.0, 0.01, -1.0, 1.0},
        {"synthetic:binary01?n=2000&k=100&seed=11", 0.5, 0.5, 0.005, 0.0, 1.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        uhn_dataset *ds = open_ok(cases[c].spec);
        if (!ds) continue;
        double mean, sd, mn, mx;
        moments(ds, &mean, &sd, &mn, &mx);
        check_context("%s", cases[c].spec);
        CHECK_NEAR(cases[c].mean, mean, cases[c].tol);
        CHECK_NEAR(cases[c].sd, sd, cases[c].tol);
        CHECK(mn >= cases[c].lo && mx <= cases[c].hi);
        if (c != 1) CHECK_NEAR(cases[c].hi, mx, 0.01); /* the gaussian stays near 0.5 */
        float lo, hi;
        uhn_dataset_range(ds, &lo, &hi);
        CHECK_NEAR(cases[c].lo, lo, 0);
        CHECK_INT(-1, uhn_dataset_label(ds, 0));
        CHECK(!uhn_dataset_has_labels(ds));
        uhn_dataset_close(ds);
    }
    /* gaussian clipping: mean 0 and sd 1 puts about half the pixels at 0 */
    uhn_dataset *ds = open_ok("synthetic:gaussian?n=2000&k=100&seed=4&mean=0&sd=1");
    if (ds) {
        double mean, sd, mn, mx;
        moments(ds, &mean, &sd, &mn, &mx);
        CHECK_NEAR(0.0, mn, 0);
        CHECK_NEAR(1.0, mx, 0);
        /* E[clip(Z, 0, 1)] = phi(0) - phi(1) + P(Z > 1) = 0.3989 - 0.2420 + 0.1587 */
        CHECK_NEAR(0.3989423 - 0.2419707 + 0.1586553, mean, 0.004);
        uhn_dataset_close(ds);
    }
}

/* Each correlated row is nearer (squared distance) to the mean of its own
 * family than to any other family's, and labels are i mod families. */
static void test_correlated(void) {
    const int F = 5, per = 40, K = 64;
    uhn_dataset *ds = open_ok("synthetic:correlated?n=1000&h=8&w=8&families=5&noise=0.15&seed=9");
    if (!ds) return;
    CHECK(uhn_dataset_has_labels(ds));
    CHECK_INT(8, uhn_dataset_height(ds));
    CHECK_INT(3, uhn_dataset_label(ds, 998));
    int64_t idx[200];
    for (int i = 0; i < F * per; ++i) idx[i] = i;
    float *x = malloc((size_t)(F * per * K) * sizeof *x);
    CHECK_INT(UHN_OK, uhn_dataset_rows(ds, idx, F * per, x));
    double proto[5][64] = {{0}};
    for (int i = 0; i < F * per; ++i)
        for (int p = 0; p < K; ++p) proto[i % F][p] += x[i * K + p] / per;
    int wrong = 0;
    double own = 0, other = 0;
    for (int i = 0; i < F * per; ++i) {
        double d[5];
        for (int f = 0; f < F; ++f) {
            d[f] = 0;
            for (int p = 0; p < K; ++p) d[f] += pow(x[i * K + p] - proto[f][p], 2);
        }
        for (int f = 0; f < F; ++f)
            if (f != i % F) {
                wrong += d[f] <= d[i % F];
                other += d[f] / (F - 1);
            }
        own += d[i % F];
    }
    CHECK_INT(0, wrong);
    /* own distance: K * noise^2 * (1 - 1/per) = 1.404, less what clipping
     * at 0 and 1 takes off; other: about K * (2/12 + noise^2) */
    CHECK(own / (F * per) < 64 * 0.0225 * (1.0 - 1.0 / per));
    CHECK(own / (F * per) > 0.6 * 64 * 0.0225);
    CHECK(other / (F * per) > 64 * 0.12);
    /* no noise: every member of a family is its prototype, U[0, 1) per pixel */
    uhn_dataset *z = open_ok("synthetic:correlated?n=100&k=16&families=3&noise=0&seed=9");
    float y[3 * 16];
    int64_t rows[3] = {1, 4, 97};
    if (z && uhn_dataset_rows(z, rows, 3, y) == UHN_OK)
        for (int p = 0; p < 16; ++p) {
            CHECK_NEAR(y[p], y[16 + p], 0);
            CHECK_NEAR(y[p], y[32 + p], 0);
            CHECK_NEAR((float)uhn_rng_uniform(9, UHN_STREAM_DATA_PROTO, 1, (uint32_t)p), y[p], 0);
        }
    uhn_dataset_close(z);
    free(x);
    uhn_dataset_close(ds);
}

static void test_errors(void) {
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"synthetic:spiky?n=3&k=3",
         "data set 'synthetic:spiky?n=3&k=3': unknown synthetic kind 'spiky' (binary, binary01, "
         "uniform, gaussian, correlated)"},
        {"synthetic:uniform?k=3", "data set 'synthetic:uniform?k=3': key n is required"},
        {"synthetic:uniform?n=3", "data set 'synthetic:uniform?n=3': give k, or h and w"},
        {"synthetic:uniform?n=3&h=2", "': give both h and w, or neither"},
        {"synthetic:uniform?n=3&k=2&c=3", "': c needs h and w"},
        {"synthetic:uniform?n=3&k=5&h=2&w=2", "': k = 5 but h*w*c = 4"},
        {"synthetic:uniform?n=3&k=5&n=4", "': key 'n' given twice"},
        {"synthetic:uniform?n=3&k=5&noise=0.1", "': unknown key 'noise' for synthetic:uniform"},
        {"synthetic:gaussian?n=3&k=5&families=2",
         "': unknown key 'families' for synthetic:gaussian"},
        {"synthetic:uniform?n=3&k=5&size=2", "': unknown key 'size' for synthetic:uniform"},
        {"synthetic:uniform?n=3x&k=5", "': n = '3x' is not a number"},
        {"synthetic:uniform?n=&k=5", "': n = '' is not a number"},
        {"synthetic:uniform?n=3&k=5&seed=-1", "': seed = -1 must be an integer in [0, 9e+15]"},
        {"synthetic:uniform?n=2.5&k=5", "': n = 2.5 must be an integer in [1, 9e+15]"},
        {"synthetic:uniform?n=0&k=5", "': n = 0 must be an integer in [1, 9e+15]"},
        {"synthetic:gaussian?n=3&k=5&mean=1.5", "': mean = 1.5 must be a number in [0, 1]"},
        {"synthetic:uniform?n=3&k", "': parameter 'k' is not KEY=VALUE"},
        {"synthetic:uniform?n=3&h=100000&w=100000", "': k = h*w*c = 10000000000 is too large"},
        {"synthetic:correlated?n=3&families=1000000&k=40000",
         "data set 'synthetic:correlated?n=3&families=1000000&k=40000': families * k = "
         "40000000000 prototype pixels is more than 268435456 (every rank holds them; use fewer "
         "families or smaller images)"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; ++b) {
        uhn_dataset *ds = (uhn_dataset *)&bad; /* must be reset to NULL */
        expect(bad[b].spec, uhn_dataset_open(ctx, bad[b].spec, &ds), UHN_EINPUT, bad[b].msg);
        CHECK(ds == NULL);
    }
    uhn_dataset *ds = open_ok("synthetic:uniform?n=3&k=2");
    if (ds) {
        float x[2];
        int64_t i = 3;
        expect("out of range", uhn_dataset_rows(ds, &i, 1, x), UHN_EINPUT,
               "data set 'synthetic:uniform?n=3&k=2': image index 3 is out of range [0, 3)");
        CHECK_INT(1, uhn_dataset_height(ds));
        CHECK_INT(2, uhn_dataset_width(ds));
        CHECK(strcmp(uhn_dataset_spec(ds), "synthetic:uniform?n=3&k=2") == 0);
        uhn_dataset_close(ds);
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) return 1;
    check_rank_ = ctx->rank;
    test_determinism();
    test_statistics();
    test_correlated();
    test_errors();
    int rc = check_finish_mpi(ctx->comm, "test_synthetic");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
