/*
 * The separation table (spec §3): uhn_separation_ref on score vectors whose
 * weights are worked out by hand below, the --no-normalize form, the empty
 * case, domain errors, parameter checks and lookup by name.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "uhn/separation.h"

#define TOL  1e-12
#define NMAX 8

static const uhn_separation *find(const char *name) {
    const uhn_separation *s = uhn_separation_find(name);
    CHECK_MSG(s != NULL, "uhn_separation_find(\"%s\") returned NULL", name);
    return s;
}

/* Runs the reference rule and checks its return value, the weights and, for a
 * domain error, the offending index. w is pre-filled with garbage so that a
 * weight left unset is caught. */
static void expect(const char *name, double param, int normalize, const double *h, int64_t n,
                   const double *want, int want_rc, int64_t want_bad) {
    const uhn_separation *sep = find(name);
    if (!sep) return;
    double w[NMAX];
    int64_t bad = -12345;
    for (int i = 0; i < NMAX; ++i) w[i] = -777.0;
    int rc = uhn_separation_ref(sep, param, normalize, h, n, w, &bad);
    CHECK_INT(want_rc, rc);
    if (want_rc == -1) {
        CHECK_INT(want_bad, bad);
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        CHECK_MSG(isfinite(w[i]), "w[%lld] = %g is not finite", (long long)i, w[i]);
        CHECK_NEAR(want[i], w[i], TOL);
    }
}

static void test_lookup(void) {
    check_context("lookup");
    const char *names[] = {"identity", "power", "log", "softmax", "max", "topk", "threshold"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        const uhn_separation *s = find(names[i]);
        if (s)
            CHECK_MSG(strcmp(uhn_separation_name(s), names[i]) == 0, "name of \"%s\" is \"%s\"",
                      names[i], uhn_separation_name(s));
    }
    CHECK(uhn_separation_count() >= 7);
    for (int i = 0; i < uhn_separation_count(); ++i) {
        const uhn_separation *s = uhn_separation_at(i);
        CHECK(s != NULL);
        if (s) CHECK(uhn_separation_find(uhn_separation_name(s)) == s);
    }
    CHECK(uhn_separation_find("nosuch") == NULL);
    CHECK(uhn_separation_find("") == NULL);
    CHECK(uhn_separation_find("soft") == NULL);

    check_context("parameter names");
    struct {
        const char *name, *param;
    } pn[] = {{"identity", NULL}, {"power", "p"}, {"log", NULL},     {"softmax", NULL},
              {"max", NULL},      {"topk", "k"},  {"threshold", "t"}};
    for (size_t i = 0; i < sizeof pn / sizeof pn[0]; ++i) {
        const uhn_separation *s = find(pn[i].name);
        if (!s) continue;
        const char *got = uhn_separation_param_name(s);
        check_context("parameter name of %s", pn[i].name);
        if (pn[i].param)
            CHECK_MSG(got && strcmp(got, pn[i].param) == 0, "expected \"%s\", got \"%s\"",
                      pn[i].param, got ? got : "(null)");
        else
            CHECK_MSG(got == NULL, "expected NULL, got \"%s\"", got ? got : "");
    }
    check_context("power's default p");
    CHECK_NEAR(2.0, uhn_separation_param_default(find("power")), 0.0);
}

static void test_param_check(void) {
    check_context("parameter checks");
    const uhn_separation *power = find("power"), *topk = find("topk");
    const uhn_separation *thr = find("threshold");
    if (!power || !topk || !thr) return;
    /* power: p a positive integer. */
    CHECK(uhn_separation_param_check(power, 1.0) == NULL);
    CHECK(uhn_separation_param_check(power, 2.0) == NULL);
    CHECK(uhn_separation_param_check(power, 3.0) == NULL);
    CHECK(uhn_separation_param_check(power, 2.5) != NULL);
    CHECK(uhn_separation_param_check(power, 0.0) != NULL);
    CHECK(uhn_separation_param_check(power, -2.0) != NULL);
    CHECK(uhn_separation_param_check(power, INFINITY) != NULL);
    /* topk: k a positive integer. */
    CHECK(uhn_separation_param_check(topk, 1.0) == NULL);
    CHECK(uhn_separation_param_check(topk, 2.0) == NULL);
    CHECK(uhn_separation_param_check(topk, 1.5) != NULL);
    CHECK(uhn_separation_param_check(topk, 0.0) != NULL);
    CHECK(uhn_separation_param_check(topk, -1.0) != NULL);
    CHECK(uhn_separation_param_check(topk, INFINITY) != NULL);
    /* threshold: any finite t. */
    CHECK(uhn_separation_param_check(thr, 0.5) == NULL);
    CHECK(uhn_separation_param_check(thr, -3.0) == NULL);
    CHECK(uhn_separation_param_check(thr, 0.0) == NULL);
}

/* identity: w = h / sum h. h = (1, 2, 3, 4) -> (0.1, 0.2, 0.3, 0.4). Zero
 * scores are in the domain; all zeros is the empty case. */
static void test_identity(void) {
    check_context("identity");
    const double h[4] = {1, 2, 3, 4}, w[4] = {0.1, 0.2, 0.3, 0.4};
    expect("identity", NAN, 1, h, 4, w, 0, 0);
    const double h0[3] = {0, 2, 6}, w0[3] = {0, 0.25, 0.75};
    expect("identity", NAN, 1, h0, 3, w0, 0, 0);
    check_context("identity, all zero: empty");
    const double hz[3] = {0, 0, 0}, wz[3] = {0, 0, 0};
    expect("identity", NAN, 1, hz, 3, wz, 1, 0);
    check_context("identity --no-normalize");
    expect("identity", NAN, 0, h, 4, h, 0, 0);
    check_context("identity, negative score at index 2");
    const double hn[4] = {1, 2, -0.5, 3};
    expect("identity", NAN, 1, hn, 4, NULL, -1, 2);
    expect("identity", NAN, 0, hn, 4, NULL, -1, 2);
}

/* power p: g = h^p. h = (1, 2, 3): p = 2 -> (1, 4, 9)/14; p = 3 ->
 * (1, 8, 27)/36. NaN = the default p = 2. */
static void test_power(void) {
    const double h[3] = {1, 2, 3};
    const double w2[3] = {1.0 / 14, 4.0 / 14, 9.0 / 14}, w3[3] = {1.0 / 36, 8.0 / 36, 27.0 / 36};
    check_context("power p=2");
    expect("power", 2.0, 1, h, 3, w2, 0, 0);
    check_context("power p=NaN (default 2)");
    expect("power", NAN, 1, h, 3, w2, 0, 0);
    check_context("power p=3");
    expect("power", 3.0, 1, h, 3, w3, 0, 0);
    check_context("power p=1 == identity");
    const double w1[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    expect("power", 1.0, 1, h, 3, w1, 0, 0);
    check_context("power p=3 --no-normalize");
    const double g3[3] = {1, 8, 27};
    expect("power", 3.0, 0, h, 3, g3, 0, 0);
    check_context("power, negative score at index 0");
    const double hn[3] = {-1, 2, 3};
    expect("power", 2.0, 1, hn, 3, NULL, -1, 0);
    expect("power", 3.0, 1, hn, 3, NULL, -1, 0);
}

/* log: g = ln h. h = (e, e^2, e^3) -> (1, 2, 3)/6; h = (1, e) -> (0, 1).
 * h <= 0 is a domain error. */
static void test_log(void) {
    const double e = exp(1.0);
    check_context("log");
    const double h[3] = {e, e * e, e * e * e}, w[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    expect("log", NAN, 1, h, 3, w, 0, 0);
    const double h2[2] = {1, e}, w2[2] = {0, 1};
    expect("log", NAN, 1, h2, 2, w2, 0, 0);
    check_context("log --no-normalize");
    const double g[3] = {1, 2, 3};
    expect("log", NAN, 0, h, 3, g, 0, 0);
    check_context("log, zero score at index 1");
    const double hz[3] = {e, 0, e};
    expect("log", NAN, 1, hz, 3, NULL, -1, 1);
    check_context("log, negative score at index 3");
    const double hn[4] = {e, 2, 3, -1};
    expect("log", NAN, 1, hn, 4, NULL, -1, 3);
}

/* softmax: g = exp(h - max h). h = (0, ln 2, ln 3) -> (1, 2, 3)/6; with
 * --no-normalize w = g = (1/3, 2/3, 1). Extreme scores never give NaN. */
static void test_softmax(void) {
    check_context("softmax");
    const double h[3] = {0, log(2.0), log(3.0)}, w[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    expect("softmax", NAN, 1, h, 3, w, 0, 0);
    /* Shift invariance far from 0. */
    const double hs[3] = {-5000, -5000 + log(2.0), -5000 + log(3.0)};
    expect("softmax", NAN, 1, hs, 3, w, 0, 0);
    check_context("softmax --no-normalize");
    const double g[3] = {1.0 / 3, 2.0 / 3, 1};
    expect("softmax", NAN, 0, h, 3, g, 0, 0);
    check_context("softmax h=(1e6, 0, -1e6)");
    const double hx[3] = {1e6, 0, -1e6}, wx[3] = {1, 0, 0};
    expect("softmax", NAN, 1, hx, 3, wx, 0, 0);
    check_context("softmax h=(-1e6, -1e6)");
    const double hy[2] = {-1e6, -1e6}, wy[2] = {0.5, 0.5};
    expect("softmax", NAN, 1, hy, 2, wy, 0, 0);
    check_context("softmax, negative scores are fine");
    const double hneg[2] = {-3, -3 + log(3.0)}, wneg[2] = {0.25, 0.75};
    expect("softmax", NAN, 1, hneg, 2, wneg, 0, 0);
}

/* max: 1 on the single largest score, ties to the lowest index. */
static void test_max(void) {
    check_context("max");
    const double h[4] = {1, 3, 3, 2}, w[4] = {0, 1, 0, 0};
    expect("max", NAN, 1, h, 4, w, 0, 0);
    expect("max", NAN, 0, h, 4, w, 0, 0);
    const double h2[3] = {-7, -8, -9}, w2[3] = {1, 0, 0};
    expect("max", NAN, 1, h2, 3, w2, 0, 0);
    const double h3[5] = {2, 2, 2, 2, 2}, w3[5] = {1, 0, 0, 0, 0};
    expect("max", NAN, 1, h3, 5, w3, 0, 0);
    const double h4[3] = {0, 0, 1e-300}, w4[3] = {0, 0, 1};
    expect("max", NAN, 1, h4, 3, w4, 0, 0);
}

/* topk: softmax over the k largest scores (ties by lowest index). */
static void test_topk(void) {
    check_context("topk k=2, distinct");
    /* h = (0, ln 2, -5, ln 3): the top 2 are ln 3 (index 3) and ln 2 (index 1):
     * weights 3/5 and 2/5. */
    const double h[4] = {0, log(2.0), -5, log(3.0)}, w[4] = {0, 0.4, 0, 0.6};
    expect("topk", 2.0, 1, h, 4, w, 0, 0);
    check_context("topk k=2, ties");
    /* h = (2, 1, 2, 2): three tie for the top; indices 0 and 2 are kept. */
    const double ht[4] = {2, 1, 2, 2}, wt[4] = {0.5, 0, 0.5, 0};
    expect("topk", 2.0, 1, ht, 4, wt, 0, 0);
    /* h = (1, 3, 2, 3, 0): the two 3s. */
    const double hu[5] = {1, 3, 2, 3, 0}, wu[5] = {0, 0.5, 0, 0.5, 0};
    expect("topk", 2.0, 1, hu, 5, wu, 0, 0);
    check_context("topk k=1 == max");
    const double hm[4] = {1, 3, 3, 2}, wm[4] = {0, 1, 0, 0};
    expect("topk", 1.0, 1, hm, 4, wm, 0, 0);
    check_context("topk k >= n == softmax");
    const double hs[3] = {0, log(2.0), log(3.0)}, ws[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    expect("topk", 3.0, 1, hs, 3, ws, 0, 0);
    expect("topk", 10.0, 1, hs, 3, ws, 0, 0);
    check_context("topk k=2 --no-normalize");
    /* g = exp(h - max h) on the top 2: (ln 2, ln 3) -> 2/3 and 1. */
    const double g[4] = {0, 2.0 / 3, 0, 1};
    expect("topk", 2.0, 0, h, 4, g, 0, 0);
    check_context("topk k=2, extreme scores");
    const double hx[3] = {-1e6, 1e6, 0}, wx[3] = {0, 1, 0};
    expect("topk", 2.0, 1, hx, 3, wx, 0, 0);
}

/* threshold t: g = 1 where h >= t (inclusive). */
static void test_threshold(void) {
    check_context("threshold t=1");
    const double h[4] = {0.5, 1, 2, -1}, w[4] = {0, 0.5, 0.5, 0};
    expect("threshold", 1.0, 1, h, 4, w, 0, 0);
    check_context("threshold t=1 --no-normalize");
    const double g[4] = {0, 1, 1, 0};
    expect("threshold", 1.0, 0, h, 4, g, 0, 0);
    check_context("threshold t=-2: all pass");
    const double wa[4] = {0.25, 0.25, 0.25, 0.25};
    expect("threshold", -2.0, 1, h, 4, wa, 0, 0);
    check_context("threshold t=3: none pass -> empty");
    const double wz[4] = {0, 0, 0, 0};
    expect("threshold", 3.0, 1, h, 4, wz, 1, 0);
    expect("threshold", 3.0, 0, h, 4, wz, 1, 0);
}

int main(void) {
    test_lookup();
    test_param_check();
    test_identity();
    test_power();
    test_log();
    test_softmax();
    test_max();
    test_topk();
    test_threshold();
    return check_finish("test_separation");
}
