/*
 * uhn_study_shares (include/uhn/study.h), the split of `uhn run --part I/K`:
 * every point in one share in [0, k), shares non-decreasing in point order
 * (runs of consecutive points), none empty when n >= k (and exactly the
 * first n non-empty when n < k), and the heaviest share as light as the best
 * split into k runs of consecutive points, found by trying every split
 * (n <= 10). Work vectors: random, equal, one heavy point, zeros, and sweeps
 * shaped like decks (n growing geometrically along the outer axis).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/study.h"

/* The lightest heaviest run over every split of w[0..n) into k runs of
 * consecutive points, empty runs allowed (recursion over the first cut). */
static double best(const double *w, int n, int k) {
    if (k == 1) {
        double s = 0;
        for (int p = 0; p < n; ++p) s += w[p];
        return s;
    }
    double b = INFINITY, first = 0;
    for (int c = 0; c <= n; ++c) { /* the first run is w[0..c) */
        double rest = best(w + c, n - c, k - 1);
        double h = first > rest ? first : rest;
        if (h < b) b = h;
        if (c < n) first += w[c];
    }
    return b;
}

static void check_split(const double *w, int64_t n, int64_t k, const char *what) {
    int64_t share[64];
    uhn_study_shares(n, w, k, share);
    double load[64] = {0};
    int64_t count[64] = {0};
    for (int64_t p = 0; p < n; ++p) {
        check_context("%s: n %lld, k %lld, point %lld", what, (long long)n, (long long)k,
                      (long long)p);
        CHECK(share[p] >= 0 && share[p] < k);
        if (share[p] < 0 || share[p] >= k) return;
        if (p > 0) CHECK(share[p] >= share[p - 1]);
        load[share[p]] += w[p];
        ++count[share[p]];
    }
    check_context("%s: n %lld, k %lld", what, (long long)n, (long long)k);
    for (int64_t i = 0; i < k; ++i) CHECK(i < n ? count[i] > 0 : count[i] == 0);
    if (n <= 10 && k <= 6) {
        double heaviest = 0, b = best(w, (int)n, (int)k), total = 0;
        for (int64_t i = 0; i < k; ++i) heaviest = load[i] > heaviest ? load[i] : heaviest;
        for (int64_t p = 0; p < n; ++p) total += w[p];
        CHECK_NEAR(b, heaviest, 1e-9 * total);
    }
}

int main(void) {
    double w[64];
    srand(7);
    for (int rep = 0; rep < 300; ++rep) {
        int n = 1 + rand() % 10;
        for (int p = 0; p < n; ++p) w[p] = (double)(rand() % 1000);
        for (int k = 1; k <= 6; ++k) check_split(w, n, k, "random");
    }
    for (int n = 1; n <= 10; ++n) {
        for (int p = 0; p < n; ++p) w[p] = 1;
        for (int k = 1; k <= 12; ++k) check_split(w, n, k, "equal");
        for (int p = 0; p < n; ++p) w[p] = p == n / 2 ? 1e6 : 1;
        for (int k = 1; k <= 12; ++k) check_split(w, n, k, "one heavy");
        for (int p = 0; p < n; ++p) w[p] = 0;
        for (int k = 1; k <= 12; ++k) check_split(w, n, k, "zeros");
    }
    /* a deck: n = 10, 100, 1000, ... (outer axis) x 4 inner points */
    for (int p = 0; p < 64; ++p) w[p] = pow(10.0, 1 + p / 4) * fmin(100, pow(10.0, 1 + p / 4));
    for (int k = 1; k <= 10; ++k) check_split(w, 8, k, "deck");
    for (int k = 1; k <= 64; ++k) check_split(w, 64, k, "deck, 64 points");
    /* every point its own share when k == n */
    int64_t share[10];
    for (int p = 0; p < 10; ++p) w[p] = 1 + p;
    uhn_study_shares(10, w, 10, share);
    check_context("k == n");
    for (int p = 0; p < 10; ++p) CHECK_INT(p, share[p]);
    return check_finish("test_shares");
}
