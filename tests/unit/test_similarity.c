/*
 * The similarity table (spec §1): uhn_similarity_ref on tiny inputs whose
 * values are worked out by hand below, the cue-only (masked) forms, lookup by
 * name and the flags of each entry.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "uhn/similarity.h"

/* Reference values are double-precision sums over a handful of exact float
 * inputs: they must agree to round-off. */
#define TOL 1e-12

static const uhn_similarity *find(const char *name) {
    const uhn_similarity *s = uhn_similarity_find(name);
    CHECK_MSG(s != NULL, "uhn_similarity_find(\"%s\") returned NULL", name);
    return s;
}

static double sim(const char *name, const float *x, const float *q, const uint8_t *mask,
                  int64_t K) {
    const uhn_similarity *s = uhn_similarity_find(name);
    return s ? uhn_similarity_ref(s, x, q, mask, K) : NAN;
}

static void test_lookup(void) {
    check_context("lookup");
    const char *names[] = {"dot", "cosine",     "euclidean",     "manhattan",
                           "kl",  "reverse_kl", "jensen_shannon"};
    const int n = (int)(sizeof names / sizeof names[0]);
    CHECK_INT(n, uhn_similarity_count());
    for (int i = 0; i < n; ++i) {
        const uhn_similarity *s = find(names[i]);
        if (s)
            CHECK_MSG(strcmp(uhn_similarity_name(s), names[i]) == 0, "name of \"%s\" is \"%s\"",
                      names[i], uhn_similarity_name(s));
    }
    /* Every listed entry is found by its own name, and names are distinct. */
    for (int i = 0; i < uhn_similarity_count(); ++i) {
        const uhn_similarity *s = uhn_similarity_at(i);
        CHECK(s != NULL);
        if (!s) continue;
        CHECK(uhn_similarity_find(uhn_similarity_name(s)) == s);
        for (int j = 0; j < i; ++j) CHECK(uhn_similarity_at(j) != s);
    }
    CHECK(uhn_similarity_find("nosuch") == NULL);
    CHECK(uhn_similarity_find("") == NULL);
    CHECK(uhn_similarity_find("do") == NULL);
    CHECK(uhn_similarity_find("dot_") == NULL);
}

static void test_flags(void) {
    check_context("flags");
    struct {
        const char *name;
        int distance, nonneg;
    } want[] = {{"dot", 0, 0}, {"cosine", 0, 0},     {"euclidean", 1, 0},     {"manhattan", 1, 0},
                {"kl", 1, 1},  {"reverse_kl", 1, 1}, {"jensen_shannon", 1, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; ++i) {
        const uhn_similarity *s = find(want[i].name);
        if (!s) continue;
        unsigned f = uhn_similarity_flags(s);
        check_context("flags of %s (0x%x)", want[i].name, f);
        CHECK_INT(want[i].distance, (f & UHN_SIM_DISTANCE) != 0);
        CHECK_INT(want[i].nonneg, (f & UHN_SIM_NONNEG) != 0);
    }
    /* dot is a GEMM; manhattan and jensen_shannon cannot be written as one.
     * (cosine, euclidean, kl and reverse_kl may be, at the engine's choice.) */
    check_context("GEMM flags");
    CHECK(uhn_similarity_flags(find("dot")) & UHN_SIM_GEMM);
    CHECK(!(uhn_similarity_flags(find("manhattan")) & UHN_SIM_GEMM));
    CHECK(!(uhn_similarity_flags(find("jensen_shannon")) & UHN_SIM_GEMM));
}

/* x = (1, 2, 0, 3), q = (2, 0, 1, 1).
 *   dot       = 2 + 0 + 0 + 3 = 5
 *   cosine    = 5 / (sqrt(1+4+0+9) sqrt(4+0+1+1)) = 5 / sqrt(84) = 0.545544725589981
 *   euclidean = -((-1)^2 + 2^2 + (-1)^2 + 2^2) = -10
 *   manhattan = -(1 + 2 + 1 + 2) = -6
 * With the cue mask (0, 1, 1, 1): x_C = (2, 0, 3), q_C = (0, 1, 1):
 *   dot = 3, cosine = 3 / (sqrt(13) sqrt(2)) = 3 / sqrt(26) = 0.588348405414552,
 *   euclidean = -(4 + 1 + 4) = -9, manhattan = -(2 + 1 + 2) = -5. */
static void test_geometric(void) {
    check_context("geometric similarities");
    const float x[4] = {1, 2, 0, 3}, q[4] = {2, 0, 1, 1};
    const uint8_t mask[4] = {0, 1, 1, 1}, all[4] = {1, 1, 1, 1};
    CHECK_NEAR(5.0, sim("dot", x, q, NULL, 4), TOL);
    CHECK_NEAR(5.0 / sqrt(84.0), sim("cosine", x, q, NULL, 4), TOL);
    CHECK_NEAR(-10.0, sim("euclidean", x, q, NULL, 4), TOL);
    CHECK_NEAR(-6.0, sim("manhattan", x, q, NULL, 4), TOL);

    check_context("geometric similarities, cue mask (0,1,1,1)");
    CHECK_NEAR(3.0, sim("dot", x, q, mask, 4), TOL);
    CHECK_NEAR(3.0 / sqrt(26.0), sim("cosine", x, q, mask, 4), TOL);
    CHECK_NEAR(-9.0, sim("euclidean", x, q, mask, 4), TOL);
    CHECK_NEAR(-5.0, sim("manhattan", x, q, mask, 4), TOL);

    check_context("geometric similarities, full mask == no mask");
    CHECK_NEAR(5.0, sim("dot", x, q, all, 4), TOL);
    CHECK_NEAR(5.0 / sqrt(84.0), sim("cosine", x, q, all, 4), TOL);
    CHECK_NEAR(-10.0, sim("euclidean", x, q, all, 4), TOL);
    CHECK_NEAR(-6.0, sim("manhattan", x, q, all, 4), TOL);

    /* Negative entries are fine for the geometric ones:
     * x = (-1, 2), q = (3, -4): dot = -3 - 8 = -11, cosine = -11 / (sqrt 5 * 5),
     * euclidean = -(16 + 36) = -52, manhattan = -(4 + 6) = -10. */
    check_context("geometric similarities, signed data");
    const float xs[2] = {-1, 2}, qs[2] = {3, -4};
    CHECK_NEAR(-11.0, sim("dot", xs, qs, NULL, 2), TOL);
    CHECK_NEAR(-11.0 / (sqrt(5.0) * 5.0), sim("cosine", xs, qs, NULL, 2), TOL);
    CHECK_NEAR(-52.0, sim("euclidean", xs, qs, NULL, 2), TOL);
    CHECK_NEAR(-10.0, sim("manhattan", xs, qs, NULL, 2), TOL);

    /* A vector against itself: cosine 1, distances exactly 0. */
    check_context("self-similarity");
    CHECK_NEAR(1.0, sim("cosine", x, x, NULL, 4), TOL);
    CHECK(sim("euclidean", x, x, NULL, 4) == 0.0);
    CHECK(sim("manhattan", x, x, NULL, 4) == 0.0);
}

/* Cosine is 0 (not NaN) when either norm is 0, over all coordinates or over
 * the cue set. */
static void test_cosine_zero(void) {
    check_context("cosine with a zero norm");
    const float z[4] = {0, 0, 0, 0}, x[4] = {1, 2, 0, 3}, w[4] = {0, 0, 1, 1};
    const uint8_t first2[4] = {1, 1, 0, 0};
    CHECK_NEAR(0.0, sim("cosine", z, x, NULL, 4), 0.0);
    CHECK_NEAR(0.0, sim("cosine", x, z, NULL, 4), 0.0);
    CHECK_NEAR(0.0, sim("cosine", z, z, NULL, 4), 0.0);
    /* w is zero on the cue (first two coordinates): 0 though ||w|| != 0. */
    CHECK_NEAR(0.0, sim("cosine", w, x, first2, 4), 0.0);
    CHECK_NEAR(0.0, sim("cosine", x, w, first2, 4), 0.0);
}

/*
 * The divergences, with p^ = (p + eps) / sum(p + eps), eps = 1e-6. The values
 * below include eps exactly; the eps-free limits are given to show where they
 * come from (the difference, ~1e-7, is far above TOL, so a missing or wrong
 * eps is caught).
 *
 * x = (1, 3), q = (1, 1): x^ ~ (1/4, 3/4), q^ = (1/2, 1/2) exactly.
 *   kl         = sum q^ ln(x^/q^) ~ 1/2 ln(1/2) + 1/2 ln(3/2) = 1/2 ln(3/4) = -0.14384104
 *                                                       with eps: -0.14384086955937667
 *   reverse_kl = -sum x^ ln(x^/q^) ~ -(1/4 ln(1/2) + 3/4 ln(3/2)) = -0.13081204
 *                                                       with eps: -0.13081189861471118
 *   js: m ~ (3/8, 5/8); -(1/2 KL(x^||m) + 1/2 KL(q^||m))
 *       ~ -(1/2 (1/4 ln(2/3) + 3/4 ln(6/5)) + 1/2 (1/2 ln(4/3) + 1/2 ln(4/5)))
 *                                                       with eps: -0.033822038831969499
 * x = (0, 2), q = (1, 1): x^ = (eps, 2 + eps) / (2 + 2 eps): eps keeps kl finite.
 *   kl         ~ 1/2 ln(eps) + 1/2 ln 2 = 1/2 ln(2e-6) = -6.5611824
 *                                                       with eps: -6.561182438701727
 *   reverse_kl ~ -(0 ln 0 + 1 ln 2) = -ln 2               with eps: -0.69313942623845526
 *   js         ~ -(1/2 ln(4/3) + 1/4 ln 2 + 1/4 ln(2/3))  with eps: -0.21575795183072152
 */
static void test_divergences(void) {
    check_context("divergences x=(1,3) q=(1,1)");
    const float x1[2] = {1, 3}, q1[2] = {1, 1};
    CHECK_NEAR(-0.14384086955937667, sim("kl", x1, q1, NULL, 2), TOL);
    CHECK_NEAR(-0.13081189861471118, sim("reverse_kl", x1, q1, NULL, 2), TOL);
    CHECK_NEAR(-0.033822038831969499, sim("jensen_shannon", x1, q1, NULL, 2), TOL);

    /* The argument order: kl(x, q) = -KL(q^||x^), so swapping x and q turns kl
     * into reverse_kl. JS is symmetric. */
    check_context("divergences, swapped arguments");
    CHECK_NEAR(-0.13081189861471118, sim("kl", q1, x1, NULL, 2), TOL);
    CHECK_NEAR(-0.14384086955937667, sim("reverse_kl", q1, x1, NULL, 2), TOL);
    CHECK_NEAR(-0.033822038831969499, sim("jensen_shannon", q1, x1, NULL, 2), TOL);

    check_context("divergences x=(0,2) q=(1,1)");
    const float x2[2] = {0, 2};
    CHECK_NEAR(-6.561182438701727, sim("kl", x2, q1, NULL, 2), TOL);
    CHECK_NEAR(-0.69313942623845526, sim("reverse_kl", x2, q1, NULL, 2), TOL);
    CHECK_NEAR(-0.21575795183072152, sim("jensen_shannon", x2, q1, NULL, 2), TOL);

    /* A distribution against itself (or a multiple of itself): exactly 0. */
    check_context("divergences, self");
    const float x3[2] = {2, 6};
    CHECK_NEAR(0.0, sim("kl", x1, x1, NULL, 2), 1e-15);
    CHECK_NEAR(0.0, sim("reverse_kl", x1, x1, NULL, 2), 1e-15);
    CHECK_NEAR(0.0, sim("jensen_shannon", x1, x1, NULL, 2), 1e-15);
    /* (2, 6) and (1, 3) differ only through eps: |s| ~ 1e-13, well below 1e-9. */
    CHECK_NEAR(0.0, sim("kl", x3, x1, NULL, 2), 1e-9);

    /* Three coordinates, values from the definitions with eps:
     * x = (2, 0, 1), q = (1, 3, 0). */
    check_context("divergences x=(2,0,1) q=(1,3,0)");
    const float x4[3] = {2, 0, 1}, q4[3] = {1, 3, 0};
    CHECK_NEAR(-10.724615734525235, sim("kl", x4, q4, NULL, 3), 1e-11);
    CHECK_NEAR(-5.3549449263953859, sim("reverse_kl", x4, q4, NULL, 3), 1e-11);
    CHECK_NEAR(-0.42458108400838701, sim("jensen_shannon", x4, q4, NULL, 3), TOL);
}

/* Cue-only divergences normalise over the cue set alone: with mask (1,1,0,0),
 * x = (1, 3, 5, 0) and q = (1, 1, 100, 7) give the values of (1,3), (1,1);
 * with mask (0,1,1,1), x = (1,2,0,3), q = (2,0,1,1) give those of
 * x_C = (2,0,3), q_C = (0,1,1). */
static void test_divergences_masked(void) {
    check_context("divergences, cue mask (1,1,0,0)");
    const float x[4] = {1, 3, 5, 0}, q[4] = {1, 1, 100, 7};
    const uint8_t m[4] = {1, 1, 0, 0};
    CHECK_NEAR(-0.14384086955937667, sim("kl", x, q, m, 4), TOL);
    CHECK_NEAR(-0.13081189861471118, sim("reverse_kl", x, q, m, 4), TOL);
    CHECK_NEAR(-0.033822038831969499, sim("jensen_shannon", x, q, m, 4), TOL);

    /* Any non-zero byte means "known". */
    const uint8_t m2[4] = {7, 255, 0, 0};
    CHECK_NEAR(-0.14384086955937667, sim("kl", x, q, m2, 4), TOL);

    check_context("divergences, cue mask (0,1,1,1)");
    const float x2[4] = {1, 2, 0, 3}, q2[4] = {2, 0, 1, 1};
    const uint8_t m3[4] = {0, 1, 1, 1};
    CHECK_NEAR(-7.274729366317592, sim("kl", x2, q2, m3, 4), 1e-11);
    CHECK_NEAR(-5.5463369175112804, sim("reverse_kl", x2, q2, m3, 4), 1e-11);
    CHECK_NEAR(-0.31418702517964336, sim("jensen_shannon", x2, q2, m3, 4), TOL);
    /* and unmasked, for contrast: */
    check_context("divergences x=(1,2,0,3) q=(2,0,1,1)");
    CHECK_NEAR(-3.9312592985983104, sim("kl", x2, q2, NULL, 4), 1e-11);
    CHECK_NEAR(-4.864532672077452, sim("reverse_kl", x2, q2, NULL, 4), 1e-11);
    CHECK_NEAR(-0.26700619417273741, sim("jensen_shannon", x2, q2, NULL, 4), TOL);
}

int main(void) {
    test_lookup();
    test_flags();
    test_geometric();
    test_cosine_zero();
    test_divergences();
    test_divergences_masked();
    return check_finish("test_similarity");
}
