/*
 * The bf16 screening kernel (core/simd_bf16.h) against plain references:
 *  - the conversion, bit for bit, against round-to-nearest-even computed in
 *    double (frexp/nearbyint, independent of the kernel's integer trick), on
 *    ties, negatives, values near FLT_MAX that round to infinity, zeros,
 *    denormals, random bit patterns and the zero padding;
 *  - the dot products against double sums of the same bf16 inputs, over sizes
 *    that hit every edge of the register blocks (n, B not multiples of the
 *    blocks, K not a multiple of 32, rows across L2 chunks), within the float32
 *    accumulation bound (Kp/16 + 5) 2^-24 sum |x~_k q~_k| (Kp/16 additions per
 *    lane, then four levels across the lanes, plus one for slack);
 *  - the end-to-end bound uhn_bf16_bound(K) ||x|| ||q|| + UHN_BF16_ABS against
 *    the exact dot products of the float32 inputs, on random data and on data
 *    built to nearly attain it (every coordinate rounded up by almost 2^-8 and
 *    x parallel to q), where the error must also reach most of the bound.
 * Without AVX512_BF16 the kernel is not used by the engine: skip (77).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/simd_bf16.h"

/* ---------- helpers ---------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(void) { /* [0, 1) */
    return (double)(next_u64() >> 11) / 9007199254740992.0;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static double bf16_value(uint16_t h) {
    return (double)from_bits((uint32_t)h << 16);
}

/* The reference rounding: denormals to signed zero (the instruction treats
 * them as zero), NaN to some NaN, otherwise the nearest 8-bit significand with
 * ties to even (nearbyint in the default mode), infinity beyond FLT_MAX. */
static uint16_t ref_bf16(float f) {
    if (isnan(f)) return 0x7fc0;
    if (fabsf(f) < FLT_MIN) return signbit(f) ? 0x8000 : 0;
    if (isinf(f)) return (uint16_t)(to_bits(f) >> 16);
    int e;
    double m = frexp((double)f, &e); /* |m| in [0.5, 1) */
    double r = ldexp(nearbyint(ldexp(m, 8)), e - 8);
    if (fabs(r) > FLT_MAX) r = r > 0 ? INFINITY : -INFINITY;
    return (uint16_t)(to_bits((float)r) >> 16); /* r has 8 bits: exact */
}

/* ---------- the conversion ---------- */

static void check_rows(const float *x, int64_t n, int64_t K, int64_t ldx, int64_t Kp) {
    uint16_t *out = malloc((size_t)(n * Kp + 1) * sizeof *out);
    for (int64_t i = 0; i < n * Kp + 1; ++i) out[i] = 0xffff; /* padding must be written */
    uhn_bf16_rows(x, n, K, ldx, out, Kp);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < Kp; ++k) {
            const uint16_t got = out[i * Kp + k];
            if (k >= K) {
                CHECK_MSG(got == 0, "row %lld pad %lld: 0x%04x, expected 0", (long long)i,
                          (long long)k, got);
                continue;
            }
            const float f = x[i * ldx + k];
            const uint16_t want = ref_bf16(f);
            if (isnan(f))
                CHECK_MSG(isnan(bf16_value(got)), "NaN gave 0x%04x", got);
            else
                CHECK_MSG(got == want, "row %lld k %lld: %a (0x%08x) -> 0x%04x, expected 0x%04x",
                          (long long)i, (long long)k, f, to_bits(f), got, want);
        }
    CHECK_MSG(out[n * Kp] == 0xffff, "wrote past n x Kp");
    free(out);
}

static void test_rows(void) {
    check_context("rows: special values");
    const float special[] = {
        0.0f,
        -0.0f,
        1.0f,
        -1.0f,
        1.0f + 0x1p-8f, /* tie, even below: 1 */
        -(1.0f + 0x1p-8f),
        1.0f + 3 * 0x1p-8f,        /* tie, even above: 1 + 2^-6 */
        1.0f + 0x1p-8f + 0x1p-23f, /* just above the tie: up */
        1.0f + 0x1p-8f - 0x1p-23f, /* just below: down */
        FLT_MAX,
        -FLT_MAX,               /* round up to infinity */
        from_bits(0x7f7f7fffu), /* just below that tie: stays */
        from_bits(0x7f7f8000u), /* tie, odd: up to infinity */
        from_bits(0x7f7e8000u), /* tie, even: stays */
        FLT_MIN,
        -FLT_MIN,
        from_bits(0x00000001u),
        from_bits(0x807fffffu), /* denormals */
        from_bits(0x00400000u),
        INFINITY,
        -INFINITY,
        NAN,
        3.14159265f,
        -2.7182818f,
        1e-30f,
        65504.0f,
        0x1.fffffep-1f, /* rounds up to 1 */
    };
    const int64_t ns = (int64_t)(sizeof special / sizeof special[0]);
    check_rows(special, 1, ns, ns, uhn_bf16_pad(ns));
    check_rows(special, 1, ns, ns, uhn_bf16_pad(ns) + 32); /* a whole block of padding */
    CHECK(ref_bf16(1.0f + 0x1p-8f) == 0x3f80 && ref_bf16(FLT_MAX) == 0x7f80);

    check_context("rows: random bit patterns, ldx > K");
    enum { N = 37, LD = 129 };
    float *x = malloc(sizeof(float) * N * LD);
    for (int i = 0; i < N * LD; ++i) x[i] = from_bits((uint32_t)next_u64());
    const int64_t Ks[] = {0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 128, 129};
    for (size_t t = 0; t < sizeof Ks / sizeof Ks[0]; ++t) {
        check_rows(x, N, Ks[t], LD, uhn_bf16_pad(Ks[t]));
        check_rows(x, 3, Ks[t], LD, uhn_bf16_pad(Ks[t]) + 64);
    }
    free(x);
    CHECK(uhn_bf16_pad(0) == 0 && uhn_bf16_pad(1) == 32 && uhn_bf16_pad(32) == 32 &&
          uhn_bf16_pad(784) == 800);
}

/* ---------- the dot products ---------- */

typedef struct {
    int64_t n, B, K, Kp;
    float *x, *q, *S;     /* x n x K, q B x K, S B x lds */
    uint16_t *xb, *qb;    /* bf16, n x Kp and B x Kp */
    double max_rel_bound; /* max over pairs of error / end-to-end bound */
} problem;

/* Random coordinates of mixed signs and scales 2^-8 .. 2^8, a few exact zeros. */
static float mixed(void) {
    double u = uniform();
    if (u < 0.05) return 0.0f;
    return (float)((uniform() * 2 - 1) * ldexp(1.0, (int)(uniform() * 17) - 8));
}

static void fill_and_run(problem *p, int64_t lds) {
    p->Kp = uhn_bf16_pad(p->K);
    p->xb = malloc(sizeof(uint16_t) * (size_t)(p->n * p->Kp));
    p->qb = malloc(sizeof(uint16_t) * (size_t)(p->B * p->Kp));
    uhn_bf16_rows(p->x, p->n, p->K, p->K, p->xb, p->Kp);
    uhn_bf16_rows(p->q, p->B, p->K, p->K, p->qb, p->Kp);
    p->S = malloc(sizeof(float) * (size_t)(p->B * lds));
    for (int64_t i = 0; i < p->B * lds; ++i) p->S[i] = -12345.0f;
    uhn_bf16_dots(p->xb, p->n, p->qb, p->B, p->Kp, p->S, lds);
}

/* Every S entry against the bf16 reference and the float32 end-to-end bound;
 * entries of S between n and lds must be untouched. */
static void check_dots(problem *p, int64_t lds) {
    const double c = uhn_bf16_bound(p->K);
    const double acc_tol = (double)(p->Kp / 16 + 5) * 0x1p-24;
    p->max_rel_bound = 0;
    for (int64_t j = 0; j < p->B; ++j) {
        for (int64_t i = 0; i < p->n; ++i) {
            double ref = 0, mag = 0, exact = 0, nx = 0, nq = 0;
            for (int64_t k = 0; k < p->Kp; ++k) {
                double t = bf16_value(p->xb[i * p->Kp + k]) * bf16_value(p->qb[j * p->Kp + k]);
                ref += t, mag += fabs(t);
            }
            for (int64_t k = 0; k < p->K; ++k) {
                double a = p->x[i * p->K + k], b = p->q[j * p->K + k];
                exact += a * b, nx += a * a, nq += b * b;
            }
            const double got = p->S[j * lds + i];
            const double bound = c * sqrt(nx) * sqrt(nq) + UHN_BF16_ABS;
            CHECK_MSG(fabs(got - ref) <= acc_tol * mag, "(%lld, %lld): %.9g, bf16 reference %.9g",
                      (long long)i, (long long)j, got, ref);
            CHECK_MSG(fabs(got - exact) <= bound,
                      "(%lld, %lld): %.9g, exact %.9g, error %.3g > bound %.3g", (long long)i,
                      (long long)j, got, exact, fabs(got - exact), bound);
            if (fabs(got - exact) / bound > p->max_rel_bound)
                p->max_rel_bound = fabs(got - exact) / bound;
        }
        for (int64_t i = p->n; i < lds; ++i)
            CHECK_MSG(p->S[j * lds + i] == -12345.0f, "wrote S[%lld][%lld] beyond n", (long long)j,
                      (long long)i);
    }
}

static void free_problem(problem *p) {
    free(p->x), free(p->q), free(p->S), free(p->xb), free(p->qb);
}

static void run_case(int64_t n, int64_t B, int64_t K, float (*gen)(void)) {
    check_context("dots n=%lld B=%lld K=%lld", (long long)n, (long long)B, (long long)K);
    problem p = {.n = n, .B = B, .K = K};
    p.x = malloc(sizeof(float) * (size_t)(n * K + 1));
    p.q = malloc(sizeof(float) * (size_t)(B * K + 1));
    for (int64_t i = 0; i < n * K; ++i) p.x[i] = gen();
    for (int64_t i = 0; i < B * K; ++i) p.q[i] = gen();
    const int64_t lds = n + 3;
    fill_and_run(&p, lds);
    check_dots(&p, lds);
    free_problem(&p);
}

static void test_dots(void) {
    const int64_t ns[] = {1, 3, 5, 8, 17, 50}, Bs[] = {1, 2, 5, 6, 7, 13},
                  Ks[] = {1, 31, 33, 100, 784};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; ++a)
        for (size_t b = 0; b < sizeof Bs / sizeof Bs[0]; ++b)
            for (size_t k = 0; k < sizeof Ks / sizeof Ks[0]; ++k)
                run_case(ns[a], Bs[b], Ks[k], mixed);
    /* rows over several L2 chunks, every query tail */
    for (int64_t B = 3; B <= 8; ++B) run_case(301, B, 784, mixed);
    run_case(1100, 4, 64, mixed);
}

/* Data that nearly attains the end-to-end bound: x and q parallel and all
 * positive (Cauchy-Schwarz is an equality), every coordinate 2^e (1 + 2^-8 +
 * 2^-20), which rounds up to 2^e (1 + 2^-7): a relative error of almost 2^-8
 * on every coordinate of both, all of the same sign. */
static void test_bound_tight(void) {
    const int64_t Ks[] = {7, 100, 784};
    for (size_t t = 0; t < sizeof Ks / sizeof Ks[0]; ++t) {
        const int64_t K = Ks[t], n = 5, B = 3;
        check_context("tight bound K=%lld", (long long)K);
        problem p = {.n = n, .B = B, .K = K};
        p.x = malloc(sizeof(float) * (size_t)(n * K));
        p.q = malloc(sizeof(float) * (size_t)(B * K));
        float *shape = malloc(sizeof(float) * (size_t)K);
        for (int64_t k = 0; k < K; ++k)
            shape[k] = ldexpf(1.0f + 0x1p-8f + 0x1p-20f, (int)(uniform() * 7) - 3);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < K; ++k) p.x[i * K + k] = ldexpf(shape[k], (int)i);
        for (int64_t j = 0; j < B; ++j)
            for (int64_t k = 0; k < K; ++k) p.q[j * K + k] = ldexpf(shape[k], -(int)j);
        fill_and_run(&p, n);
        check_dots(&p, n);
        printf("tight bound K=%lld: max error / bound = %.4f\n", (long long)K, p.max_rel_bound);
        CHECK_MSG(p.max_rel_bound > 0.9, "error only %.3f of the bound: not a tight test",
                  p.max_rel_bound);
        free(shape);
        free_problem(&p);
    }
}

/* Denormal coordinates (flushed by the conversion) against large ones. */
static float with_denormals(void) {
    double u = uniform();
    if (u < 0.3) return from_bits((uint32_t)(next_u64() & 0x807fffffu)); /* denormal or 0 */
    if (u < 0.6) return (float)ldexp(uniform() + 0.5, 30);
    return mixed();
}

int main(void) {
    if (!uhn_bf16_available()) {
        printf("test_bf16: skipped: built without AVX512_BF16\n");
        return 77;
    }
    test_rows();
    test_dots();
    test_bound_tight();
    run_case(9, 7, 100, with_denormals);
    return check_finish("test_bf16");
}
