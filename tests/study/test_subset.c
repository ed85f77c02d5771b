/*
 * uhn_subset (include/uhn/study.h): the stored subset of a trial.
 *
 * n distinct indices of [0, population), deterministic in (seed, trial,
 * population, n), different across trials, n and seeds; n == population gives
 * a permutation; bad arguments return -1 (and leave out alone). Uniformity:
 * inclusion frequencies of every index and the distribution of the first and
 * last positions over many trials, with bounds of 6 standard deviations (and a
 * chi-square bound at p ~ 1e-9), so that a correct generator fails at a rate
 * far below anything observable; the seeds are fixed, so the test is
 * deterministic anyway.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/rng.h"
#include "uhn/study.h"

/* 1 when out[0..n) are distinct and in [0, population). */
static int distinct_in_range(const int64_t *out, int64_t n, int64_t population) {
    uint8_t *seen = calloc((size_t)population, 1);
    int ok = seen != NULL;
    for (int64_t i = 0; ok && i < n; ++i) {
        if (out[i] < 0 || out[i] >= population || seen[out[i]])
            ok = 0;
        else
            seen[out[i]] = 1;
    }
    free(seen);
    return ok;
}

static int same(const int64_t *a, const int64_t *b, int64_t n) {
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void test_basic(void) {
    static const int64_t cases[][2] = {{1, 1},      {2, 1},        {2, 2},        {10, 3},
                                       {10, 10},    {100, 99},     {1000, 1},     {1000, 500},
                                       {60000, 40}, {60000, 5000}, {60000, 60000}};
    static const uint64_t seeds[] = {0, 1, 0xdeadbeefcafef00dull};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        int64_t pop = cases[c][0], n = cases[c][1];
        int64_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        CHECK(a && b);
        for (size_t s = 0; a && b && s < sizeof seeds / sizeof seeds[0]; ++s)
            for (int64_t t = 0; t < 3; ++t) {
                check_context("population %lld n %lld seed %llu trial %lld", (long long)pop,
                              (long long)n, (unsigned long long)seeds[s], (long long)t);
                CHECK_INT(0, uhn_subset(seeds[s], t, pop, n, a));
                CHECK_MSG(distinct_in_range(a, n, pop), "not %lld distinct indices of [0, %lld)",
                          (long long)n, (long long)pop);
                /* deterministic */
                memset(b, 0xff, (size_t)n * sizeof *b);
                CHECK_INT(0, uhn_subset(seeds[s], t, pop, n, b));
                CHECK_MSG(same(a, b, n), "two calls with the same arguments differ");
            }
        free(a), free(b);
    }
    check_context("%s", "");
}

static void test_differs(void) {
    enum { P = 60000, N = 50 };
    int64_t a[N + 1], b[N + 1];
    check_context("differs");
    /* across trials, seeds and n (the subset is keyed by all three) */
    CHECK_INT(0, uhn_subset(7, 0, P, N, a));
    CHECK_INT(0, uhn_subset(7, 1, P, N, b));
    CHECK_MSG(!same(a, b, N), "trials 0 and 1 draw the same subset");
    CHECK_INT(0, uhn_subset(8, 0, P, N, b));
    CHECK_MSG(!same(a, b, N), "seeds 7 and 8 draw the same subset");
    CHECK_INT(0, uhn_subset(7, 0, P, N + 1, b));
    CHECK_MSG(!same(a, b, N), "n = %d and n = %d start with the same %d indices", N, N + 1, N);
    int common = 0; /* two independent 50-subsets of 60000 share ~0.04 indices */
    for (int i = 0; i < N; ++i)
        for (int j = 0; j < N + 1; ++j) common += a[i] == b[j];
    CHECK_MSG(common < 5, "n = %d and n = %d share %d indices", N, N + 1, common);
    /* trial 2^31 - 1 is allowed and differs from trial 0 */
    CHECK_INT(0, uhn_subset(7, ((int64_t)1 << 31) - 1, P, N, b));
    CHECK_MSG(!same(a, b, N), "trials 0 and 2^31-1 draw the same subset");
    /* population does not enter the key, but changes the draw's range */
    CHECK_INT(0, uhn_subset(7, 0, 100, N, b));
    CHECK_MSG(distinct_in_range(b, N, 100), "population 100: out of range");
}

static void test_permutation(void) {
    enum { P = 1000 };
    int64_t a[P], b[P];
    check_context("permutation");
    CHECK_INT(0, uhn_subset(3, 0, P, P, a));
    CHECK_MSG(distinct_in_range(a, P, P), "n == population is not a permutation");
    int fixed = 0, ascending = 1;
    for (int i = 0; i < P; ++i) {
        fixed += a[i] == i;
        if (i && a[i] < a[i - 1]) ascending = 0;
    }
    /* a random permutation has ~1 fixed point (Poisson(1): P(>= 12) ~ 1e-9) */
    CHECK_MSG(fixed < 12, "%d fixed points: the order is not shuffled", fixed);
    CHECK_MSG(!ascending, "the permutation is sorted");
    CHECK_INT(0, uhn_subset(3, 1, P, P, b));
    CHECK_MSG(!same(a, b, P), "trials 0 and 1 give the same permutation");
    int64_t one = -7;
    CHECK_INT(0, uhn_subset(3, 0, 1, 1, &one));
    CHECK_INT(0, one);
}

static void test_bad(void) {
    int64_t out[4] = {11, 12, 13, 14};
    check_context("bad arguments");
    CHECK_INT(-1, uhn_subset(0, 0, 10, 0, out));                /* n = 0 */
    CHECK_INT(-1, uhn_subset(0, 0, 10, -1, out));               /* n < 0 */
    CHECK_INT(-1, uhn_subset(0, 0, 3, 4, out));                 /* n > population */
    CHECK_INT(-1, uhn_subset(0, 0, 0, 1, out));                 /* empty population */
    CHECK_INT(-1, uhn_subset(0, 0, -5, 1, out));                /* negative population */
    CHECK_INT(-1, uhn_subset(0, -1, 10, 2, out));               /* trial < 0 */
    CHECK_INT(-1, uhn_subset(0, (int64_t)1 << 31, 10, 2, out)); /* trial >= 2^31 */
    CHECK_INT(-1, uhn_subset(0, 0, 10, 2, NULL));               /* no output */
    /* n >= 2^32: refused before any allocation */
    CHECK_INT(-1, uhn_subset(0, 0, (int64_t)1 << 40, (int64_t)1 << 32, out));
    CHECK_MSG(out[0] == 11 && out[1] == 12 && out[2] == 13 && out[3] == 14,
              "a refused call wrote to out");
}

/* count[k] ~ Binomial(trials, p) for every k: within 6 sd of the mean. Returns
 * the chi-square statistic sum (count - E)^2 / E. */
static double binomial_bounds(const char *what, const long *count, int cells, long trials,
                              double p) {
    double mean = (double)trials * p, sd = sqrt((double)trials * p * (1 - p)), chi2 = 0;
    for (int k = 0; k < cells; ++k) {
        CHECK_MSG(fabs((double)count[k] - mean) <= 6 * sd,
                  "%s: index %d counted %ld times, expected %.1f +- %.1f (6 sd)", what, k, count[k],
                  mean, 6 * sd);
        chi2 += ((double)count[k] - mean) * ((double)count[k] - mean) / mean;
    }
    return chi2;
}

/* chi-square with df degrees of freedom exceeds df + 6 sqrt(2 df) + 20 with
 * probability below ~1e-9 for the df used here. */
static void chi2_bound(const char *what, double chi2, int df) {
    double lim = df + 6 * sqrt(2.0 * df) + 20;
    CHECK_MSG(chi2 <= lim, "%s: chi-square %.1f over %d degrees of freedom (limit %.1f)", what,
              chi2, df, lim);
}

static void test_uniform(void) {
    enum { P = 40, N = 8, TRIALS = 40000 };
    long incl[P] = {0}, first[P] = {0}, last[P] = {0}, pos_of_0[N] = {0}, pair = 0;
    int64_t out[N];
    check_context("uniformity, population %d n %d, %d trials", P, N, TRIALS);
    for (long t = 0; t < TRIALS; ++t) {
        if (uhn_subset(2024, t, P, N, out) != 0) {
            CHECK_MSG(0, "trial %ld failed", t);
            return;
        }
        int has0 = 0, has1 = 0;
        for (int i = 0; i < N; ++i) {
            ++incl[out[i]];
            if (out[i] == 0) ++pos_of_0[i], has0 = 1;
            if (out[i] == 1) has1 = 1;
        }
        pair += has0 && has1;
        ++first[out[0]];
        ++last[out[N - 1]];
    }
    /* every index is stored with probability n / population */
    chi2_bound("inclusion", binomial_bounds("inclusion", incl, P, TRIALS, (double)N / P), P - 1);
    /* the order is uniform: the first and last bank rows are any index alike */
    chi2_bound("first position", binomial_bounds("first position", first, P, TRIALS, 1.0 / P),
               P - 1);
    chi2_bound("last position", binomial_bounds("last position", last, P, TRIALS, 1.0 / P), P - 1);
    /* index 0, when stored, sits at any of the n positions alike */
    long n0 = incl[0];
    chi2_bound("position of index 0",
               binomial_bounds("position of index 0", pos_of_0, N, n0, 1.0 / N), N - 1);
    /* pairs: both 0 and 1 stored with probability n(n-1) / (P(P-1)) */
    double pp = (double)N * (N - 1) / ((double)P * (P - 1));
    double mean = TRIALS * pp, sd = sqrt(TRIALS * pp * (1 - pp));
    CHECK_MSG(fabs((double)pair - mean) <= 6 * sd,
              "indices 0 and 1 stored together %ld times, expected %.1f +- %.1f", pair, mean,
              6 * sd);

    /* a large population: the mean index of a subset of 4000 of 60000 is near
     * 30000 (sd ~ 60000 / sqrt(12 * 4000) * sqrt(1 - 4000/60000) = 265) */
    enum { BP = 60000, BN = 4000 };
    int64_t *big = malloc(BN * sizeof *big);
    CHECK(big != NULL);
    for (int t = 0; big && t < 5; ++t) {
        CHECK_INT(0, uhn_subset(99, t, BP, BN, big));
        double m = 0;
        long low = 0;
        for (int i = 0; i < BN; ++i) m += (double)big[i], low += big[i] < BP / 2;
        m /= BN;
        CHECK_MSG(fabs(m - (BP - 1) / 2.0) <= 6 * 265.0, "trial %d: mean index %.1f", t, m);
        /* half below the middle: sd sqrt(BN / 4 * (1 - BN / BP)) ~ 30.5 */
        CHECK_MSG(labs(low - BN / 2) <= 6 * 31, "trial %d: %ld of %d indices below %d", t, low, BN,
                  BP / 2);
    }
    free(big);
}

/* ---- the reference: Floyd's draw with a plain hash set, then Fisher-Yates,
 * as uhn_subset was first written, one scalar Philox call per draw.
 * uhn_subset takes a bitmap where the population is small against n and draws
 * its numbers 64 counters at a time in vector registers, the shuffle's a block
 * ahead; the draw must be the same, index for index. */

static int64_t ref_below(uint64_t bits, int64_t m) {
    return (int64_t)(((unsigned __int128)bits * (uint64_t)m) >> 64);
}

static int ref_subset(uint64_t seed, int64_t trial, int64_t population, int64_t n, int64_t *out) {
    uint64_t index = ((uint64_t)trial << 32) | (uint64_t)n, cap = 1;
    while (cap < 2 * (uint64_t)n) cap <<= 1;
    int64_t *slot = malloc(cap * sizeof *slot);
    if (!slot) return -1;
    memset(slot, 0xff, cap * sizeof *slot);
    for (int64_t i = 0; i < n; ++i) {
        int64_t j = population - n + i,
                v = ref_below(uhn_rng_u64(seed, UHN_STREAM_SUBSET, index, (uint32_t)i), j + 1);
        for (int pass = 0; pass < 2; ++pass) { /* v, or j when v is taken */
            uint64_t h = ((uint64_t)v * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (slot[h] >= 0 && slot[h] != v) h = (h + 1) & (cap - 1);
            if (slot[h] < 0) {
                slot[h] = v;
                break;
            }
            v = j;
        }
        out[i] = v;
    }
    free(slot);
    for (int64_t i = n - 1; i > 0; --i) {
        int64_t k = ref_below(uhn_rng_u64(seed, UHN_STREAM_SHUFFLE, index, (uint32_t)i), i + 1);
        int64_t t = out[i];
        out[i] = out[k];
        out[k] = t;
    }
    return 0;
}

/* Both ways of marking the values taken (bitmap: population <= 128 n or so;
 * hash set beyond), shuffles shorter and longer than the draw-ahead, sizes on
 * either side of the blocks of 64 draws. */
static void test_reference(void) {
    static const int64_t cases[][2] = {
        {1, 1},       {2, 2},         {5, 3},          {33, 33},       {40, 31},
        {1000, 1000}, {1000, 7},      {100000, 50},    {100000, 700},  {100000, 3000},
        {60000, 40},  {60000, 60000}, {3000000, 1000}, {200000, 1500}, {250000, 100000},
        {63, 63},     {64, 64},       {65, 65},        {127, 1},       {129, 128},
        {5000, 4097}, {100000, 63},   {100000, 129},   {1000000, 65},  {200003, 200003}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        int64_t pop = cases[c][0], n = cases[c][1];
        int64_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        CHECK(a && b);
        for (int64_t t = 0; a && b && t < 2; ++t) {
            check_context("reference: population %lld n %lld trial %lld", (long long)pop,
                          (long long)n, (long long)t);
            CHECK_INT(0, uhn_subset(42 + (uint64_t)c, t, pop, n, a));
            CHECK_INT(0, ref_subset(42 + (uint64_t)c, t, pop, n, b));
            CHECK_MSG(same(a, b, n), "uhn_subset differs from the reference draw");
        }
        free(a), free(b);
    }
}

/* ---- uhn_shared_pairs: the pairs that share a caption ---- */

/* The m pairs of smallest key, from the definition in study.h (selection by
 * repeated minimum, O(P^2): small P only). */
static void shared_reference(uint64_t seed, int64_t trial, int64_t n, double f, uint8_t *out) {
    const int64_t np = n / 2, m = (int64_t)llround(f * (double)np);
    const uint64_t index = ((uint64_t)trial << 32) | (uint64_t)n;
    memset(out, 0, (size_t)np);
    for (int64_t a = 0; a < m; ++a) {
        int64_t best = -1;
        uint64_t bk = 0;
        for (int64_t k = 0; k < np; ++k) {
            uint64_t key = uhn_rng_u64(seed, UHN_STREAM_CAPTION, index, (uint32_t)k);
            if (!out[k] && (best < 0 || key < bk)) best = k, bk = key;
        }
        out[best] = 1;
    }
}

static void test_shared_pairs(void) {
    check_context("shared pairs");
    static const int64_t ns[] = {0, 1, 2, 3, 10, 11, 100, 999};
    static const double fs[] = {0.0, 0.1, 0.25, 0.5, 0.9, 1.0};
    uint8_t got[600], want[600], prev[600];
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; ++a)
        for (int64_t t = 0; t < 3; ++t) {
            const int64_t n = ns[a], np = n / 2;
            memset(prev, 0, sizeof prev);
            for (size_t b = 0; b < sizeof fs / sizeof fs[0]; ++b) {
                memset(got, 7, sizeof got);
                CHECK_INT(0, uhn_shared_pairs(42, t, n, fs[b], got));
                shared_reference(42, t, n, fs[b], want);
                CHECK_MSG(!memcmp(got, want, (size_t)np), "n %lld trial %lld fraction %g",
                          (long long)n, (long long)t, fs[b]);
                int64_t m = 0;
                for (int64_t k = 0; k < np; ++k) m += got[k];
                CHECK_INT(llround(fs[b] * (double)np), m); /* exactly the fraction */
                CHECK_MSG(got[np] == 7, "wrote past floor(n / 2) entries");
                /* A larger fraction shares a superset: a sweep over the
                 * fraction adds pairs, it does not redraw them. */
                for (int64_t k = 0; k < np; ++k)
                    CHECK_MSG(!prev[k] || got[k], "n %lld: pair %lld dropped at fraction %g",
                              (long long)n, (long long)k, fs[b]);
                memcpy(prev, got, (size_t)np);
            }
        }
    /* Trials draw different pairs. */
    uint8_t t0[500], t1[500];
    CHECK_INT(0, uhn_shared_pairs(1, 0, 1000, 0.5, t0));
    CHECK_INT(0, uhn_shared_pairs(1, 1, 1000, 0.5, t1));
    CHECK(memcmp(t0, t1, sizeof t0) != 0);
    check_context("shared pairs, bad arguments");
    CHECK_INT(-1, uhn_shared_pairs(0, 0, 10, -0.1, got));
    CHECK_INT(-1, uhn_shared_pairs(0, 0, 10, 1.1, got));
    CHECK_INT(-1, uhn_shared_pairs(0, 0, 10, NAN, got));
    CHECK_INT(-1, uhn_shared_pairs(0, 0, -1, 0.5, got));
    CHECK_INT(-1, uhn_shared_pairs(0, -1, 10, 0.5, got));
    CHECK_INT(-1, uhn_shared_pairs(0, 0, 10, 0.5, NULL));
}

int main(void) {
    test_basic();
    test_shared_pairs();
    test_differs();
    test_permutation();
    test_bad();
    test_uniform();
    test_reference();
    return check_finish("test_subset");
}
