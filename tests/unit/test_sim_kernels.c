/*
 * The fast similarity block kernels against the reference definitions, by
 * brute force: manhattan (AVX-512 register blocking), euclidean (SGEMM, then
 * its expansion 16 rows at a time, rows near the query summed directly) and
 * the three divergences (vectorised logarithm), over sizes chosen to hit
 * every remainder path (odd K and K tails, batches and tiles that are not
 * multiples of the 4 x 4 register block or of 16 rows, tiles longer than its
 * 64-row chunk), without a cue mask, with one shared by all queries and with
 * one per query, and with exact matches (manhattan and euclidean distance
 * exactly 0). Tiles are scored by the OpenMP threads of the run (registered
 * at 1 and 2 threads), each with its own scratch, as the engine does. Also
 * the logarithm itself against libm over a dense sweep of floats.
 *
 * Tolerances are float32 round-off: (K/16 + 8) FLT_EPSILON times the sum of
 * the magnitudes of the terms the kernel adds (16-lane accumulation: K/16
 * additions per lane, then the lanes and the final combination).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/simd_exp.h"
#include "core/simd_log.h"
#include "core/similarity_impl.h"
#include "core/tile.h"

/* Max error of the logarithm in float32 ulps, measured over every positive
 * float: 1.108 with FMAs (the AVX-512 form, and the portable one where the
 * compiler contracts it), 1.211 for the portable form without (a build with no
 * -march). The sweep here is a dense subset that contains both maxima. */
#define LOG_MAX_ULP 1.25

/* ---------- the logarithm ---------- */

/* |got - ln x| in ulps of the correctly rounded float result. */
static double log_ulps(float got, float x) {
    double ref = log((double)x);
    if (isinf(ref) || isnan(ref)) return (got == ref || (isnan(ref) && isnan(got))) ? 0 : INFINITY;
    float rf = (float)ref;
    double ulp = (double)nextafterf(fabsf(rf), INFINITY) - fabsf(rf);
    return fabs((double)got - ref) / ulp;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The vectorised form (through uhn_log_array, tails included) and the
 * portable scalar form, over a batch of inputs. */
static void log_batch(const float *in, int64_t n, double *worst, float *at, double *worst_s,
                      float *at_s) {
    static float out[4096];
    uhn_log_array(in, out, n);
    for (int64_t i = 0; i < n; ++i) {
        double e = log_ulps(out[i], in[i]), es = log_ulps(uhn_logf(in[i]), in[i]);
        if (!(e <= *worst)) *worst = e, *at = in[i];
        if (!(es <= *worst_s)) *worst_s = es, *at_s = in[i];
    }
}

static void test_log(void) {
    check_context("logarithm");
    double worst = 0, worst_s = 0;
    float at = 0, at_s = 0, buf[4096];
    int64_t n = 0, total = 0;
#define PUSH(v)                                                                                    \
    do {                                                                                           \
        buf[n++] = (v);                                                                            \
        if (n == 4096) log_batch(buf, n, &worst, &at, &worst_s, &at_s), total += n, n = 0;         \
    } while (0)
    /* Every float in [0.5, 2] (where ln x is small and cancellation would
     * show), all denormals near 0 and FLT_MIN, then a stride over all positive
     * floats (denormals to FLT_MAX). */
    for (uint32_t u = 0x3f000000u; u <= 0x40000000u; ++u) PUSH(from_bits(u));
    for (uint32_t u = 1; u < 0x00010000u; ++u) PUSH(from_bits(u));
    for (uint32_t u = 0x007f0000u; u < 0x00810000u; ++u) PUSH(from_bits(u));
    for (uint32_t u = 1; u < 0x7f800000u; u += 61) PUSH(from_bits(u));
    for (uint32_t u = 0x7f7f0000u; u < 0x7f800000u; ++u) PUSH(from_bits(u));
    /* 1 to 15 leftovers exercise the masked tail of uhn_log_array. */
    for (int i = 0; i < 13; ++i) PUSH(1.0f + (float)i);
    if (n) log_batch(buf, n, &worst, &at, &worst_s, &at_s), total += n;
#undef PUSH
    printf("test_sim_kernels: log over %lld floats: max %.3f ulp (at %a), portable form %.3f ulp "
           "(at %a)\n",
           (long long)total, worst, (double)at, worst_s, (double)at_s);
    CHECK_MSG(worst <= LOG_MAX_ULP, "vector log: %.3f ulp at %a", worst, (double)at);
    CHECK_MSG(worst_s <= LOG_MAX_ULP, "portable log: %.3f ulp at %a", worst_s, (double)at_s);

    /* Special values, as libm (the divergence kernels rely on ln 0 = -inf not
     * arising; the log itself must still be right). */
    check_context("logarithm, special values");
    const float sp[] = {0.0f,      -0.0f, 1.0f,    INFINITY, -1.0f,
                        -INFINITY, NAN,   FLT_MIN, FLT_MAX,  FLT_TRUE_MIN};
    const int ns = (int)(sizeof sp / sizeof sp[0]);
    float v[16], s[16];
    for (int i = 0; i < ns; ++i) {
        uhn_log_array(&sp[i], &v[i], 1);
        s[i] = uhn_logf(sp[i]);
    }
    CHECK(v[0] == -INFINITY && s[0] == -INFINITY);
    CHECK(v[1] == -INFINITY && s[1] == -INFINITY);
    CHECK(v[2] == 0.0f && s[2] == 0.0f); /* ln 1 exactly 0 */
    CHECK(v[3] == INFINITY && s[3] == INFINITY);
    CHECK(isnan(v[4]) && isnan(s[4]));
    CHECK(isnan(v[5]) && isnan(s[5]));
    CHECK(isnan(v[6]) && isnan(s[6]));
    for (int i = 7; i < ns; ++i) {
        CHECK_MSG(log_ulps(v[i], sp[i]) <= LOG_MAX_ULP, "ln %a = %a", (double)sp[i], (double)v[i]);
        CHECK_MSG(log_ulps(s[i], sp[i]) <= LOG_MAX_ULP, "ln %a = %a", (double)sp[i], (double)s[i]);
    }
}

/* ---------- the exponential ---------- */

#ifdef __AVX512F__
/* Max error of uhn_exp16 in ulps of the correctly rounded result, for normal
 * results: 1.010 over every third float of [-104, 89]. */
#define EXP_MAX_ULP 1.05

static double exp_ulps(float got, float x) {
    double ref = exp((double)x);
    float rf = (float)ref;
    if (isinf(rf)) return got == INFINITY ? 0 : INFINITY;
    if (rf < FLT_MIN) /* a denormal or zero result: absolute error in denormal steps */
        return fabs((double)got - ref) / (double)FLT_TRUE_MIN;
    double ulp = (double)nextafterf(rf, INFINITY) - rf;
    return fabs((double)got - ref) / ulp;
}

static void test_exp(void) {
    check_context("exponential");
    /* Every 13th float in [-104, 89] (both signs; the kernel uses x <= 0), 16
     * at a time, and the special values. */
    double worst = 0, worst_dn = 0;
    float at = 0;
    int64_t total = 0;
    float buf[16];
    int n = 0;
    for (uint32_t u = 0; u < 0xfffffff0u; u += 13) {
        float x = from_bits(u);
        if (!(x >= -104.0f && x <= 89.0f)) continue;
        buf[n++] = x;
        if (n < 16) continue;
        float out[16];
        _mm512_storeu_ps(out, uhn_exp16(_mm512_loadu_ps(buf)));
        for (int i = 0; i < 16; ++i) {
            double e = exp_ulps(out[i], buf[i]);
            if (exp((double)buf[i]) < FLT_MIN) {
                if (e > worst_dn) worst_dn = e;
            } else if (!(e <= worst))
                worst = e, at = buf[i];
        }
        total += 16, n = 0;
    }
    printf("test_sim_kernels: exp over %lld floats: max %.3f ulp (at %a), %.3f denormal steps "
           "below FLT_MIN\n",
           (long long)total, worst, (double)at, worst_dn);
    CHECK_MSG(worst <= EXP_MAX_ULP, "vector exp: %.3f ulp at %a", worst, (double)at);
    CHECK_MSG(worst_dn <= 1.0, "vector exp: %.3f denormal steps", worst_dn);
    check_context("exponential, special values");
    const float sp[16] = {0.0f, -0.0f, -200.0f, -INFINITY, 100.0f, INFINITY, NAN, 1.0f, -1.0f};
    float v[16];
    _mm512_storeu_ps(v, uhn_exp16(_mm512_loadu_ps(sp)));
    CHECK(v[0] == 1.0f && v[1] == 1.0f); /* e^0 exactly 1: the running maximum's weight */
    CHECK(v[2] == 0.0f && v[3] == 0.0f);
    CHECK(v[4] == INFINITY && v[5] == INFINITY);
    CHECK(isnan(v[6]));
    CHECK(exp_ulps(v[7], 1.0f) <= EXP_MAX_ULP && exp_ulps(v[8], -1.0f) <= EXP_MAX_ULP);
}
#else
static void test_exp(void) {}
#endif

/* ---------- the block kernels ---------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double uniform(void) { /* [0, 1), splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* Pixel-like data: a third exact zeros, the rest in (0, 1]. */
static float pixel(void) {
    return uniform() < 0.33 ? 0.0f : (float)(1.0 - uniform());
}

enum { MASK_NONE, MASK_SHARED, MASK_PER_QUERY };
static const char *const mask_names[] = {"no cue", "shared cue", "per-query cue"};

/* The query block as the engine builds it (engine.c: uhn_qblock). */
typedef struct {
    float *q, *mask, *qnorm2, *qsum, *qhat, *lqhat, *ones;
    double *qent;
    uhn_qblock qb;
} qblock_buf;

static void qblock_build(qblock_buf *b, const float *v, const uint8_t *cue, int64_t B, int64_t K) {
    b->q = malloc((size_t)(B * K) * sizeof(float));
    b->mask = cue ? malloc((size_t)(B * K) * sizeof(float)) : NULL;
    b->qnorm2 = malloc((size_t)B * sizeof(float));
    b->qsum = malloc((size_t)B * sizeof(float));
    b->qhat = malloc((size_t)(B * K) * sizeof(float));
    b->lqhat = malloc((size_t)(B * K) * sizeof(float));
    b->ones = malloc((size_t)K * sizeof(float));
    b->qent = malloc((size_t)B * sizeof(double));
    for (int64_t k = 0; k < K; ++k) b->ones[k] = 1.0f;
    for (int64_t j = 0; j < B; ++j) {
        double n2 = 0, s = 0, sq = 0, ent = 0;
        for (int64_t k = 0; k < K; ++k) {
            float m = (!cue || cue[j * K + k]) ? 1.0f : 0.0f;
            if (b->mask) b->mask[j * K + k] = m;
            b->q[j * K + k] = m * v[j * K + k];
            n2 += (double)b->q[j * K + k] * b->q[j * K + k];
            s += b->q[j * K + k];
            sq += m * (v[j * K + k] + UHN_DIV_EPS);
        }
        b->qnorm2[j] = (float)n2, b->qsum[j] = (float)s;
        for (int64_t k = 0; k < K; ++k) {
            int in = !cue || cue[j * K + k];
            double qh = in && sq > 0 ? (v[j * K + k] + UHN_DIV_EPS) / sq : 0.0;
            b->qhat[j * K + k] = (float)qh;
            b->lqhat[j * K + k] = qh > 0 ? (float)log(qh) : 0.0f;
            if (qh > 0) ent += qh * log(qh);
        }
        b->qent[j] = ent;
    }
    /* The columns where some query is not 0 (a shared cue leaves zero columns). */
    int64_t k0 = 0, k1 = 0;
    for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < B; ++j)
            if (b->q[j * K + k] != 0.0f) {
                if (k1 == 0) k0 = k;
                k1 = k + 1;
                break;
            }
    b->qb = (uhn_qblock){B,       K,        b->q,    b->mask, b->qnorm2, b->qsum,
                         b->qhat, b->lqhat, b->qent, b->ones, k0,        k1};
}

static void qblock_free(qblock_buf *b) {
    free(b->q), free(b->mask), free(b->qnorm2), free(b->qsum), free(b->qhat), free(b->lqhat);
    free(b->ones), free(b->qent);
}

/*
 * The magnitude of the terms the fast kernel of `name` adds for (x, q) over
 * the cue: its round-off is a small multiple of FLT_EPSILON times this.
 */
static double term_scale(const char *name, const float *x, const float *q, const uint8_t *cue,
                         int64_t K) {
    double s = 0, sx = 0, sq = 0;
    if (!strcmp(name, "euclidean")) { /* ||x||^2 - 2 x.q + ||q||^2 over the cue */
        for (int64_t k = 0; k < K; ++k)
            if (!cue || cue[k]) s += (double)x[k] * x[k] + (double)q[k] * q[k];
        return s;
    }
    if (!strcmp(name, "manhattan")) {
        for (int64_t k = 0; k < K; ++k)
            if (!cue || cue[k]) s += fabs((double)x[k] - q[k]);
        return s;
    }
    for (int64_t k = 0; k < K; ++k)
        if (!cue || cue[k]) sx += x[k] + UHN_DIV_EPS, sq += q[k] + UHN_DIV_EPS;
    if (!(sx > 0)) return 1;
    s = 1 + fabs(log(sx));
    for (int64_t k = 0; k < K; ++k) {
        if (cue && !cue[k]) continue;
        double xe = x[k] + UHN_DIV_EPS, xh = xe / sx, qh = (q[k] + UHN_DIV_EPS) / sq;
        double mid = 0.5 * (xh + qh);
        /* entropies of q^ (qent), x^ (as sum xh ln xe and ln sx), the
         * midpoint, and the cross terms of the two KLs */
        s += fabs(qh * log(qh)) + fabs(xh * log(xe)) + fabs(mid * log(mid));
        s += fabs(qh * log(xe)) + fabs(xh * log(qh));
    }
    return s;
}

typedef struct {
    int64_t K, B, tn, nrows;
    int masktype;
} config;

/* Scores of every row of a bank of nrows by the fast kernel, in tiles of tn
 * rows shared among the OpenMP threads (own scratch each), against the
 * reference. */
static void check_config(const uhn_similarity *sim, const config *c, double *worst_rel) {
    const int64_t K = c->K, B = c->B, tn = c->tn, N = c->nrows;
    float *x = malloc((size_t)(N * K) * sizeof(float)),
          *v = malloc((size_t)(B * K) * sizeof(float));
    uint8_t *cue = c->masktype == MASK_NONE ? NULL : malloc((size_t)(B * K));
    float *norm2 = malloc((size_t)N * sizeof(float)), *sum = malloc((size_t)N * sizeof(float));
    float *S = malloc((size_t)(N * B) * sizeof(float));
    for (int64_t e = 0; e < B * K; ++e) v[e] = pixel();
    for (int64_t e = 0; e < N * K; ++e) x[e] = pixel();
    if (cue) /* about half the coordinates known; the shared cue is one row repeated */
        for (int64_t j = 0; j < B; ++j)
            for (int64_t k = 0; k < K; ++k)
                cue[j * K + k] = (c->masktype == MASK_SHARED && j > 0) ? cue[k] : uniform() < 0.5;
    /* Exact matches: row 1 is query 0; the last row equals the last query on
     * its cue only (different elsewhere), which is still distance 0. */
    if (N > 1) memcpy(x + K, v, (size_t)K * sizeof(float));
    if (N > 2)
        for (int64_t k = 0; k < K; ++k) {
            const int64_t jl = B - 1;
            int in = !cue || cue[jl * K + k];
            x[(N - 1) * K + k] = in ? v[jl * K + k] : v[jl * K + k] + 0.5f;
        }
    for (int64_t i = 0; i < N; ++i) {
        double n2 = 0, s = 0;
        for (int64_t k = 0; k < K; ++k)
            n2 += (double)x[i * K + k] * x[i * K + k], s += x[i * K + k];
        norm2[i] = (float)n2, sum[i] = (float)s;
    }
    qblock_buf qbb;
    qblock_build(&qbb, v, cue, B, K);

    const int64_t ntiles = (N + tn - 1) / tn, wide = K > B ? K : B;
#pragma omp parallel
    {
        uhn_scratch scr = {malloc((size_t)(tn * wide) * sizeof(float)),
                           malloc((size_t)(tn * wide) * sizeof(float)),
                           malloc((size_t)(tn * wide) * sizeof(float))};
        float *St = malloc((size_t)(B * tn) * sizeof(float));
#pragma omp for schedule(dynamic)
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            const int64_t i0 = tile * tn, n = N - i0 < tn ? N - i0 : tn;
            uhn_tile t = {x + i0 * K, norm2 + i0, sum + i0, n, K, 0, NULL};
            sim->block(&t, &qbb.qb, St, &scr);
            for (int64_t j = 0; j < B; ++j)
                for (int64_t i = 0; i < n; ++i) S[j * N + i0 + i] = St[j * n + i];
        }
        free(St), free(scr.a), free(scr.b), free(scr.c);
    }

    const char *name = uhn_similarity_name(sim);
    /* distances summed directly where they vanish (manhattan always, euclidean
     * where its expansion would cancel): an exact match scores exactly 0 */
    const int exact_zero = !strcmp(name, "manhattan") || !strcmp(name, "euclidean");
    const double rel = (double)(K / 16 + 8) * FLT_EPSILON;
    for (int64_t j = 0; j < B; ++j)
        for (int64_t i = 0; i < N; ++i) {
            const uint8_t *cj = cue ? cue + j * K : NULL;
            double ref = uhn_similarity_ref(sim, x + i * K, v + j * K, cj, K);
            double scale = term_scale(name, x + i * K, v + j * K, cj, K);
            double got = S[j * N + i];
            if (scale > 0 && fabs(got - ref) / scale > *worst_rel)
                *worst_rel = fabs(got - ref) / scale;
            CHECK_MSG(isfinite(got) && fabs(got - ref) <= rel * scale,
                      "row %lld query %lld: fast %.9g, reference %.9g (|diff| %.3g > %.3g)",
                      (long long)i, (long long)j, got, ref, fabs(got - ref), rel * scale);
            if (exact_zero && ref == 0)
                CHECK_MSG(got == 0, "row %lld query %lld: an exact match scores %.9g, not 0",
                          (long long)i, (long long)j, got);
        }
    qblock_free(&qbb);
    free(x), free(v), free(cue), free(norm2), free(sum), free(S);
}

static void test_kernels(void) {
    const char *names[] = {"manhattan", "euclidean", "kl", "reverse_kl", "jensen_shannon"};
    const int64_t Ks[] = {1, 3, 15, 16, 17, 33, 784};
    const int64_t Bs[] = {1, 2, 3, 4, 5, 7, 8, 17};
    const int64_t tns[] = {1, 3, 4, 5, 7, 66, 130};
    for (size_t s = 0; s < sizeof names / sizeof names[0]; ++s) {
        const uhn_similarity *sim = uhn_similarity_find(names[s]);
        CHECK_MSG(sim != NULL, "no similarity \"%s\"", names[s]);
        if (!sim) continue;
        double worst = 0;
        for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; ++a)
            for (size_t b = 0; b < sizeof Bs / sizeof Bs[0]; ++b)
                for (size_t d = 0; d < sizeof tns / sizeof tns[0]; ++d)
                    for (int mt = MASK_NONE; mt <= MASK_PER_QUERY; ++mt) {
                        config c = {Ks[a], Bs[b], tns[d], 0, mt};
                        /* K = 784: the large tiles and batches only (the
                         * reference is slow); the remainders are covered above */
                        if (c.K == 784 && (c.tn < 5 || (c.B != 5 && c.B != 17))) continue;
                        /* two whole tiles and a partial one */
                        c.nrows = 2 * c.tn + (c.tn > 1 ? c.tn / 2 + 1 : 1);
                        check_context("%s, K %lld, B %lld, tile %lld rows, %lld rows, %s", names[s],
                                      (long long)c.K, (long long)c.B, (long long)c.tn,
                                      (long long)c.nrows, mask_names[mt]);
                        check_config(sim, &c, &worst);
                    }
        printf("test_sim_kernels: %s: max |fast - reference| = %.3g FLT_EPSILON x sum |terms| "
               "(tolerance K/16 + 8)\n",
               names[s], worst / FLT_EPSILON);
    }
}

int main(void) {
    test_log();
    test_exp();
    test_kernels();
    return check_finish("test_sim_kernels");
}
