/*
 * The corruptions of issue 3: exact pixels on small images worked out by hand
 * (none, mask_top, inpaint), random_pixels and gaussian against numbers drawn
 * here from uhn_rng with the documented key, statistics on a big image,
 * determinism and independence of (trial, query), and every parameter error.
 * Serial.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../unit/check.h"
#include "uhn/corrupt.h"
#include "uhn/rng.h"

/* The streams and index of the documented key, written out independently. */
#define STREAM_GAUSSIAN     0x63676175u
#define STREAM_PIXELS       0x63706978u
#define INDEX(trial, query) ((uint64_t)(trial)*4294967296ull + (uint64_t)(query))

enum { H1 = 4, W1 = 5, K1 = H1 * W1, H3 = 4, W3 = 4, C3 = 3, K3 = H3 * W3 * C3 };

static const uhn_corruption *find(const char *name) {
    const uhn_corruption *c = uhn_corruption_find(name);
    CHECK_MSG(c != NULL, "corruption %s not found", name);
    return c;
}

/* Runs a corruption and compares out and known with the expected masks: out
 * must be image where the expected mask is 1 and 0 elsewhere. */
static void check_masked(const char *name, double param, int64_t h, int64_t w, int64_t c,
                         const float *image, const uint8_t *expect) {
    int64_t K = h * w * c;
    float out[64];
    uint8_t known[64];
    check_context("%s %g on %lldx%lldx%lld", name, param, (long long)h, (long long)w, (long long)c);
    uhn_corrupt(find(name), param, 42, 0, 0, h, w, c, image, out, known);
    for (int64_t k = 0; k < K; ++k) {
        CHECK_INT(expect[k], known[k]);
        CHECK_NEAR(expect[k] ? image[k] : 0.0f, out[k], 0.0);
    }
}

static void test_table(void) {
    check_context("table");
    const char *names[] = {"none", "gaussian", "mask_top", "random_pixels", "inpaint"};
    CHECK_INT(5, uhn_corruption_count());
    for (int i = 0; i < 5; ++i) {
        CHECK(uhn_corruption_at(i) == find(names[i]));
        CHECK(strcmp(uhn_corruption_name(uhn_corruption_at(i)), names[i]) == 0);
        CHECK(uhn_corruption_help(uhn_corruption_at(i)) != NULL);
    }
    CHECK(uhn_corruption_at(5) == NULL);
    CHECK(uhn_corruption_find("mask") == NULL);
    CHECK(uhn_corruption_find(NULL) == NULL);
    CHECK(uhn_corruption_param_name(find("none")) == NULL);
    CHECK(strcmp(uhn_corruption_param_name(find("gaussian")), "variance") == 0);
    CHECK(strcmp(uhn_corruption_param_name(find("mask_top")), "fraction") == 0);
    CHECK(strcmp(uhn_corruption_param_name(find("random_pixels")), "probability") == 0);
    CHECK(strcmp(uhn_corruption_param_name(find("inpaint")), "width") == 0);
    CHECK(uhn_corruption_index(1, 0) == 4294967296ull);
    CHECK(uhn_corruption_index(3, 7) == 12884901895ull);
}

/* Exact pixels on a 4x5x1 and a 4x4x3 image. */
static void test_exact(void) {
    float g[K1], c3[K3];
    for (int k = 0; k < K1; ++k) g[k] = (float)(k + 1) / 20.0f;
    for (int k = 0; k < K3; ++k) c3[k] = (float)(k + 1) / 48.0f;

    static const uint8_t all1[K3] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t all0[K3] = {0};
    check_masked("none", 0.0, H1, W1, 1, g, all1);
    check_masked("none", 0.0, H3, W3, C3, c3, all1);

    /* mask_top on 4 rows: round(f * 4), halves up. */
    static const uint8_t top2[K1] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t top1[K1] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t top3[K1] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    check_masked("mask_top", 0.5, H1, W1, 1, g, top2);
    check_masked("mask_top", 0.3, H1, W1, 1, g, top1);   /* 1.2 -> 1 */
    check_masked("mask_top", 0.125, H1, W1, 1, g, top1); /* 0.5 -> 1 */
    check_masked("mask_top", 0.375, H1, W1, 1, g, top2); /* 1.5 -> 2 */
    check_masked("mask_top", 0.625, H1, W1, 1, g, top3); /* 2.5 -> 3 */
    check_masked("mask_top", 0.0, H1, W1, 1, g, all1);
    check_masked("mask_top", 1.0, H1, W1, 1, g, all0);
    /* Colour: the top row, all its columns and channels. */
    uint8_t ctop[K3];
    for (int k = 0; k < K3; ++k) ctop[k] = k >= W3 * C3;
    check_masked("mask_top", 0.25, H3, W3, C3, c3, ctop);

    /* inpaint: width 1 on 4x5 keeps rows 1-2, columns 1-3. */
    static const uint8_t in1[K1] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    check_masked("inpaint", 1.0, H1, W1, 1, g, in1);
    check_masked("inpaint", 0.0, H1, W1, 1, g, all1);
    /* Width 1 on 4x4x3 keeps pixels (1,1) (1,2) (2,1) (2,2), all channels. */
    uint8_t cin[K3];
    for (int k = 0; k < K3; ++k) {
        int p = k / C3, y = p / W3, x = p % W3;
        cin[k] = y >= 1 && y <= 2 && x >= 1 && x <= 2;
    }
    CHECK_INT(12, cin[15] + cin[16] + cin[17] + cin[18] + cin[19] + cin[20] + cin[27] + cin[28] +
                      cin[29] + cin[30] + cin[31] + cin[32]);
    check_masked("inpaint", 1.0, H3, W3, C3, c3, cin);
}

/* random_pixels and gaussian against draws made here. */
static void test_random_exact(void) {
    float c3[K3], out[K3];
    uint8_t known[K3];
    for (int k = 0; k < K3; ++k) c3[k] = (float)(k + 1) / 48.0f;

    check_context("random_pixels 0.5 exact");
    uhn_corrupt(find("random_pixels"), 0.5, 7, 3, 7, H3, W3, C3, c3, out, known);
    int zeroed = 0;
    for (int p = 0; p < H3 * W3; ++p) {
        int drop = uhn_rng_uniform(7, STREAM_PIXELS, INDEX(3, 7), (uint32_t)p) < 0.5;
        zeroed += drop;
        for (int ch = 0; ch < C3; ++ch) {
            CHECK_INT(!drop, known[p * C3 + ch]);
            CHECK_NEAR(drop ? 0.0f : c3[p * C3 + ch], out[p * C3 + ch], 0.0);
        }
    }
    CHECK_MSG(zeroed > 0 && zeroed < H3 * W3, "%d of 16 pixels zeroed", zeroed);
    check_context("random_pixels 0 and 1");
    uhn_corrupt(find("random_pixels"), 0.0, 7, 3, 7, H3, W3, C3, c3, out, known);
    for (int k = 0; k < K3; ++k) CHECK(known[k] == 1 && out[k] == c3[k]);
    uhn_corrupt(find("random_pixels"), 1.0, 7, 3, 7, H3, W3, C3, c3, out, known);
    for (int k = 0; k < K3; ++k) CHECK(known[k] == 0 && out[k] == 0.0f);

    check_context("gaussian 0.09 exact");
    uhn_corrupt(find("gaussian"), 0.09, 11, 2, 5, H3, W3, C3, c3, out, known);
    int clipped = 0;
    for (int k = 0; k < K3; ++k) {
        double v =
            c3[k] + sqrt(0.09) * uhn_rng_normal(11, STREAM_GAUSSIAN, INDEX(2, 5), (uint32_t)k);
        double e = v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
        clipped += v < 0.0 || v > 1.0;
        CHECK_NEAR((float)e, out[k], 0.0);
        CHECK_INT(1, known[k]);
    }
    CHECK_MSG(clipped > 0, "no value clipped");
    check_context("gaussian 0 is the identity");
    uhn_corrupt(find("gaussian"), 0.0, 11, 2, 5, H3, W3, C3, c3, out, known);
    for (int k = 0; k < K3; ++k) CHECK(out[k] == c3[k]);
}

/* Statistics on a 100x100 image, and (trial, query) independence. */
static void test_statistics(void) {
    enum { N = 100 * 100 };
    float *img = malloc(N * sizeof(float)), *a = malloc(N * sizeof(float));
    float *b = malloc(N * sizeof(float));
    uint8_t *ka = malloc(N), *kb = malloc(N);
    for (int k = 0; k < N; ++k) img[k] = 0.5f + 0.25f * (float)((k % 7) - 3) / 3.0f;

    check_context("random_pixels 0.3 statistics");
    uhn_corrupt(find("random_pixels"), 0.3, 5, 0, 0, 100, 100, 1, img, a, ka);
    int z = 0;
    for (int k = 0; k < N; ++k) z += !ka[k];
    CHECK_NEAR(0.3, z / (double)N, 4.0 * sqrt(0.3 * 0.7 / N));

    check_context("gaussian 0.01 statistics");
    for (int k = 0; k < N; ++k) img[k] = 0.5f;
    uhn_corrupt(find("gaussian"), 0.01, 5, 0, 0, 100, 100, 1, img, a, ka);
    double s = 0.0, ss = 0.0;
    for (int k = 0; k < N; ++k) {
        double d = a[k] - 0.5;
        s += d;
        ss += d * d;
    }
    CHECK_NEAR(0.0, s / N, 4.0 * 0.1 / sqrt(N));
    CHECK_NEAR(0.01, ss / N - (s / N) * (s / N), 4.0 * 0.01 * sqrt(2.0 / N));

    check_context("gaussian 1 clipping");
    uhn_corrupt(find("gaussian"), 1.0, 5, 0, 0, 100, 100, 1, img, a, ka);
    int lo = 0, hi = 0, outside = 0;
    for (int k = 0; k < N; ++k) {
        lo += a[k] == 0.0f;
        hi += a[k] == 1.0f;
        outside += a[k] < 0.0f || a[k] > 1.0f;
    }
    CHECK_INT(0, outside);
    /* P(N(0,1) < -0.5) = 0.30854 */
    CHECK_NEAR(0.30854, lo / (double)N, 4.0 * sqrt(0.31 * 0.69 / N));
    CHECK_NEAR(0.30854, hi / (double)N, 4.0 * sqrt(0.31 * 0.69 / N));

    check_context("determinism and independence");
    const uhn_corruption *rp = find("random_pixels");
    uhn_corrupt(rp, 0.5, 9, 1, 2, 100, 100, 1, img, a, ka);
    uhn_corrupt(rp, 0.5, 9, 1, 2, 100, 100, 1, img, b, kb);
    CHECK(memcmp(ka, kb, N) == 0 && memcmp(a, b, N * sizeof(float)) == 0);
    /* In place gives the same. */
    memcpy(b, img, N * sizeof(float));
    uhn_corrupt(rp, 0.5, 9, 1, 2, 100, 100, 1, b, b, kb);
    CHECK(memcmp(a, b, N * sizeof(float)) == 0);
    const int64_t other[4][2] = {{1, 3}, {2, 2}, {2, 1}, {0, 2}};
    for (int i = 0; i < 4; ++i) {
        uhn_corrupt(rp, 0.5, 9, other[i][0], other[i][1], 100, 100, 1, img, b, kb);
        int same = 0;
        for (int k = 0; k < N; ++k) same += ka[k] == kb[k];
        /* Independent masks agree on about half of the pixels. */
        CHECK_MSG(fabs(same / (double)N - 0.5) < 0.03, "trial %lld query %lld: %d of %d agree",
                  (long long)other[i][0], (long long)other[i][1], same, N);
    }
    uhn_corrupt(rp, 0.5, 10, 1, 2, 100, 100, 1, img, b, kb);
    CHECK(memcmp(ka, kb, N) != 0);
    /* The gaussian and pixel streams differ: noise signs are not the mask. */
    uhn_corrupt(find("gaussian"), 0.01, 9, 1, 2, 100, 100, 1, img, b, kb);
    int agree = 0;
    for (int k = 0; k < N; ++k) agree += (b[k] < 0.5f) == (ka[k] == 0);
    CHECK_MSG(fabs(agree / (double)N - 0.5) < 0.03, "%d of %d agree", agree, N);
    free(img), free(a), free(b), free(ka), free(kb);
}

static void check_param(const char *name, double param, int64_t h, int64_t w, const char *expect) {
    check_context("%s param %g on %lldx%lld", name, param, (long long)h, (long long)w);
    const char *got = uhn_corruption_param_check(find(name), param, h, w);
    if (!expect)
        CHECK_MSG(got == NULL, "expected valid, got \"%s\"", got);
    else
        CHECK_MSG(got && strcmp(got, expect) == 0, "expected \"%s\", got \"%s\"", expect,
                  got ? got : "(null)");
}

static void test_params(void) {
    const char *var = "a finite variance >= 0", *frac = "a fraction in [0, 1]";
    const char *prob = "a probability in [0, 1]", *width = "an integer border width >= 0";
    const char *wide = "a border width w with 2w < min(H, W), so that the centre keeps a pixel";
    check_param("none", -5.0, 28, 28, NULL);
    check_param("gaussian", 0.0, 28, 28, NULL);
    check_param("gaussian", 2.5, 28, 28, NULL);
    check_param("gaussian", -0.1, 28, 28, var);
    check_param("gaussian", INFINITY, 28, 28, var);
    check_param("gaussian", NAN, 28, 28, var);
    check_param("mask_top", 0.0, 28, 28, NULL);
    check_param("mask_top", 1.0, 28, 28, NULL);
    check_param("mask_top", -0.01, 28, 28, frac);
    check_param("mask_top", 1.01, 28, 28, frac);
    check_param("mask_top", NAN, 28, 28, frac);
    check_param("random_pixels", 0.0, 28, 28, NULL);
    check_param("random_pixels", 1.0, 28, 28, NULL);
    check_param("random_pixels", -0.5, 28, 28, prob);
    check_param("random_pixels", 1.5, 28, 28, prob);
    check_param("inpaint", 0.0, 28, 28, NULL);
    check_param("inpaint", 13.0, 28, 28, NULL);
    check_param("inpaint", 14.0, 28, 28, wide);
    check_param("inpaint", 1.0, 4, 5, NULL);
    check_param("inpaint", 2.0, 4, 5, wide);
    check_param("inpaint", 2.0, 5, 4, wide);
    check_param("inpaint", -1.0, 28, 28, width);
    check_param("inpaint", 1.5, 28, 28, width);
    check_param("inpaint", NAN, 28, 28, width);
}

int main(void) {
    test_table();
    test_exact();
    test_random_exact();
    test_statistics();
    test_params();
    return check_finish("test_corrupt");
}
