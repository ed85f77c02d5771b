/*
 * The input deck of `uhn run` (serial, label unit): a full deck read back key
 * by key, the defaults, overrides, the sweep product and its order, the
 * effective parameters, the README table, and every error path with its exact
 * message.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "uhn/deck.h"

static uhn_ctx *ctx;

/* Parses text as "t.ini"; expects success. */
static uhn_deck *parse_ok(const char *text, int nov, char **ov) {
    uhn_deck *d = NULL;
    int rc = uhn_deck_parse(ctx, "t.ini", text, nov, ov, &d);
    CHECK_MSG(rc == UHN_OK && d, "expected success, got %d: %s", rc, ctx->msg);
    return d;
}

/* Parses text as "t.ini"; expects UHN_EINPUT with exactly `msg`. */
#define EXPECT_ERR(text, nov, ov, want)                                                            \
    do {                                                                                           \
        uhn_deck *d_ = (uhn_deck *)1;                                                              \
        ctx->msg[0] = '\0';                                                                        \
        int rc_ = uhn_deck_parse(ctx, "t.ini", (text), (nov), (ov), &d_);                          \
        CHECK_INT(UHN_EINPUT, rc_);                                                                \
        CHECK(d_ == NULL);                                                                         \
        CHECK_MSG(!strcmp(ctx->msg, (want)), "expected message\n  \"%s\"\ngot\n  \"%s\"", (want),  \
                  ctx->msg);                                                                       \
    } while (0)

static const char *full_deck = "; a full deck\n"
                               "[data]\n"
                               "source = synthetic:uniform?n=500&h=4&w=4\n"
                               "hetero = none\n"
                               "[memory]\n"
                               "n = 10, 20,\n"
                               "    50\n"
                               "[network]\n"
                               "similarity = dot, manhattan\n"
                               "separation = softmax, power\n"
                               "beta = 2.5, 1e3\n"
                               "param = default, 3\n"
                               "score = uhn\n"
                               "normalize = off\n"
                               "steps = 4\n"
                               "step_size = 0.5\n"
                               "tol = 1e-6\n"
                               "cue_only = both\n"
                               "[query]\n"
                               "corruption = random_pixels\n"
                               "level = 0.25, 0.5, 0.75 ; inline comment\n"
                               "count = 10\n"
                               "[experiment]\n"
                               "trials = 3\n"
                               "threshold = 12.5\n"
                               "threshold_scale = pixels\n"
                               "seed = 18446744073709551615\n"
                               "[output]\n"
                               "file = out/res.h5\n"
                               "save_images = 2\n"
                               "quiet = yes\n";

static void test_full(void) {
    check_context("full deck");
    uhn_deck *d = parse_ok(full_deck, 0, NULL);
    if (!d) return;
    CHECK(!strcmp(uhn_deck_text(d), full_deck));
    CHECK(!strcmp(uhn_deck_name(d), "t.ini"));
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_DATA_SOURCE, 0), "synthetic:uniform?n=500&h=4&w=4"));
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), "none"));
    CHECK_INT(3, uhn_deck_count(d, UHN_KEY_MEMORY_N));
    CHECK_INT(10, uhn_deck_int(d, UHN_KEY_MEMORY_N, 0));
    CHECK_INT(20, uhn_deck_int(d, UHN_KEY_MEMORY_N, 1));
    CHECK_INT(50, uhn_deck_int(d, UHN_KEY_MEMORY_N, 2));
    CHECK_INT(2, uhn_deck_count(d, UHN_KEY_NETWORK_SIMILARITY));
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_SIMILARITY, 1), "manhattan"));
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_SEPARATION, 1), "power"));
    CHECK_NEAR(2.5, uhn_deck_double(d, UHN_KEY_NETWORK_BETA, 0), 0);
    CHECK_NEAR(1000, uhn_deck_double(d, UHN_KEY_NETWORK_BETA, 1), 0);
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_BETA, 1), "1000"));
    CHECK(isnan(uhn_deck_double(d, UHN_KEY_NETWORK_PARAM, 0)));
    CHECK_NEAR(3, uhn_deck_double(d, UHN_KEY_NETWORK_PARAM, 1), 0);
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_SCORE, 0), "uhn"));
    CHECK_INT(0, uhn_deck_bool(d, UHN_KEY_NETWORK_NORMALIZE, 0));
    CHECK_INT(4, uhn_deck_int(d, UHN_KEY_NETWORK_STEPS, 0));
    CHECK_NEAR(0.5, uhn_deck_double(d, UHN_KEY_NETWORK_STEP_SIZE, 0), 0);
    CHECK_NEAR(1e-6, uhn_deck_double(d, UHN_KEY_NETWORK_TOL, 0), 0);
    CHECK_INT(2, uhn_deck_count(d, UHN_KEY_NETWORK_CUE_ONLY));
    CHECK_INT(0, uhn_deck_bool(d, UHN_KEY_NETWORK_CUE_ONLY, 0));
    CHECK_INT(1, uhn_deck_bool(d, UHN_KEY_NETWORK_CUE_ONLY, 1));
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0), "random_pixels"));
    CHECK_INT(3, uhn_deck_count(d, UHN_KEY_QUERY_LEVEL));
    CHECK_NEAR(0.75, uhn_deck_double(d, UHN_KEY_QUERY_LEVEL, 2), 0);
    CHECK_INT(10, uhn_deck_int(d, UHN_KEY_QUERY_COUNT, 0));
    CHECK_INT(3, uhn_deck_int(d, UHN_KEY_EXPERIMENT_TRIALS, 0));
    CHECK_NEAR(12.5, uhn_deck_double(d, UHN_KEY_EXPERIMENT_THRESHOLD, 0), 0);
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_EXPERIMENT_THRESHOLD_SCALE, 0), "pixels"));
    CHECK(uhn_deck_u64(d, UHN_KEY_EXPERIMENT_SEED, 0) == UINT64_MAX);
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_OUTPUT_FILE, 0), "out/res.h5"));
    CHECK_INT(2, uhn_deck_int(d, UHN_KEY_OUTPUT_SAVE_IMAGES, 0));
    CHECK_INT(1, uhn_deck_bool(d, UHN_KEY_OUTPUT_QUIET, 0));
    /* wrong-type getters and out-of-range indices */
    CHECK_INT(0, uhn_deck_int(d, UHN_KEY_NETWORK_BETA, 0));
    CHECK(isnan(uhn_deck_double(d, UHN_KEY_MEMORY_N, 0)));
    CHECK(uhn_deck_str(d, UHN_KEY_MEMORY_N, 3) == NULL);

    /* the sweep: 3 n x 2 sim x 2 sep x 2 beta x 2 param x 2 cue_only x 3 level */
    CHECK_INT(11, uhn_deck_naxes());
    static const uhn_deck_key_id axes[] = {
        UHN_KEY_MEMORY_N,           UHN_KEY_ENCODER_NAME, UHN_KEY_NETWORK_SIMILARITY,
        UHN_KEY_NETWORK_SEPARATION, UHN_KEY_NETWORK_BETA, UHN_KEY_NETWORK_PARAM,
        UHN_KEY_NETWORK_CUE_ONLY,   UHN_KEY_QUERY_LEVEL,  UHN_KEY_TEXT_SCALE,
        UHN_KEY_TEXT_KNOWN,         UHN_KEY_TEXT_SHARED};
    for (int i = 0; i < 11; ++i) CHECK_INT(axes[i], uhn_deck_axis(i));
    CHECK_INT(UHN_KEY_COUNT, uhn_deck_axis(11));
    CHECK_INT(3 * 2 * 2 * 2 * 2 * 2 * 3, uhn_deck_npoints(d));
    int idx[UHN_KEY_COUNT];
    /* row-major: level fastest, n slowest */
    int64_t np = uhn_deck_npoints(d), seen = 0;
    for (int64_t p = 0; p < np; ++p) {
        uhn_deck_point(d, p, idx);
        int64_t q = 0;
        for (int i = 0; i < 8; ++i) q = q * uhn_deck_count(d, axes[i]) + idx[axes[i]];
        seen += q == p;
        CHECK_INT(0, idx[UHN_KEY_NETWORK_STEPS]);
    }
    CHECK_INT(np, seen);
    uhn_deck_point(d, 1, idx);
    CHECK_INT(1, idx[UHN_KEY_QUERY_LEVEL]);
    CHECK_INT(0, idx[UHN_KEY_NETWORK_CUE_ONLY]);
    uhn_deck_point(d, 3, idx);
    CHECK_INT(0, idx[UHN_KEY_QUERY_LEVEL]);
    CHECK_INT(1, idx[UHN_KEY_NETWORK_CUE_ONLY]);
    uhn_deck_point(d, np - 1, idx);
    CHECK_INT(2, idx[UHN_KEY_MEMORY_N]);
    CHECK_INT(1, idx[UHN_KEY_NETWORK_SIMILARITY]);
    CHECK_INT(2, idx[UHN_KEY_QUERY_LEVEL]);
    uhn_deck_point(d, 96, idx); /* 96 = 1 * 96: the second n, everything else first */
    CHECK_INT(1, idx[UHN_KEY_MEMORY_N]);
    CHECK_INT(0, idx[UHN_KEY_NETWORK_SIMILARITY]);
    CHECK_INT(0, idx[UHN_KEY_QUERY_LEVEL]);

    /* engine parameters at the last point */
    uhn_params p;
    uhn_deck_point(d, np - 1, idx);
    uhn_deck_params(d, idx, &p);
    CHECK(p.sim == uhn_similarity_find("manhattan"));
    CHECK(p.sep == uhn_separation_find("power"));
    CHECK_NEAR(1000, p.beta, 0);
    CHECK_NEAR(3, p.param, 0);
    CHECK_INT(UHN_SCORE_UHN, p.score);
    CHECK_INT(0, p.normalize);
    CHECK_INT(4, p.steps);
    CHECK_NEAR(0.5, p.step_size, 0);
    CHECK_NEAR(1e-6, p.tol, 0);
    CHECK_INT(1, p.cue_only);

    /* effective parameters */
    uhn_deck_entry e;
    uhn_deck_entry_at(d, UHN_KEY_MEMORY_N, &e);
    CHECK(!strcmp(e.section, "memory") && !strcmp(e.key, "n"));
    CHECK(!strcmp(e.value, "10, 20, 50"));
    CHECK(!strcmp(e.units, "memories"));
    CHECK(e.is_set);
    uhn_deck_entry_at(d, UHN_KEY_NETWORK_CUE_ONLY, &e);
    CHECK(!strcmp(e.value, "off, on"));
    uhn_deck_entry_at(d, UHN_KEY_NETWORK_PARAM, &e);
    CHECK(!strcmp(e.value, "default, 3"));
    uhn_deck_entry_at(d, UHN_KEY_EXPERIMENT_SEED, &e);
    CHECK(!strcmp(e.value, "18446744073709551615"));
    uhn_deck_destroy(d);
}

static void test_defaults(void) {
    check_context("defaults");
    uhn_deck *d = parse_ok("[memory]\nn=100\n", 0, NULL);
    if (!d) return;
    static const char *const expect[UHN_KEY_COUNT][2] = {
        [UHN_KEY_DATA_SOURCE] = {"source", "fashion-mnist:train"},
        [UHN_KEY_DATA_HETERO] = {"hetero", "none"},
        [UHN_KEY_MEMORY_N] = {"n", "100"},
        [UHN_KEY_ENCODER_NAME] = {"name", "identity"},
        [UHN_KEY_ENCODER_DIM] = {"dim", "0"},
        [UHN_KEY_ENCODER_WHITEN] = {"whiten", "off"},
        [UHN_KEY_ENCODER_PATCH] = {"patch", "0"},
        [UHN_KEY_ENCODER_CODES] = {"codes", "0"},
        [UHN_KEY_ENCODER_SEED] = {"seed", "0"},
        [UHN_KEY_ENCODER_TRAIN] = {"train", "fashion-mnist:train"},
        [UHN_KEY_ENCODER_TRAIN_N] = {"train_n", "0"},
        [UHN_KEY_NETWORK_SIMILARITY] = {"similarity", "dot"},
        [UHN_KEY_NETWORK_SEPARATION] = {"separation", "softmax"},
        [UHN_KEY_NETWORK_BETA] = {"beta", "1"},
        [UHN_KEY_NETWORK_PARAM] = {"param", "default"},
        [UHN_KEY_NETWORK_SCORE] = {"score", "raw"},
        [UHN_KEY_NETWORK_NORMALIZE] = {"normalize", "on"},
        [UHN_KEY_NETWORK_STEPS] = {"steps", "1"},
        [UHN_KEY_NETWORK_STEP_SIZE] = {"step_size", "1"},
        [UHN_KEY_NETWORK_TOL] = {"tol", "0"},
        [UHN_KEY_NETWORK_CUE_ONLY] = {"cue_only", "off"},
        [UHN_KEY_QUERY_CORRUPTION] = {"corruption", "mask_top"},
        [UHN_KEY_QUERY_LEVEL] = {"level", "0.5"},
        [UHN_KEY_QUERY_COUNT] = {"count", "0"},
        [UHN_KEY_QUERY_HOLD] = {"hold", "off"},
        [UHN_KEY_TEXT_METHOD] = {"method", "none"},
        [UHN_KEY_TEXT_DIM] = {"dim", "1024"},
        [UHN_KEY_TEXT_N] = {"n", "3"},
        [UHN_KEY_TEXT_CODES] = {"codes", "none"},
        [UHN_KEY_TEXT_SCALE] = {"scale", "auto"},
        [UHN_KEY_TEXT_KNOWN] = {"known", "off"},
        [UHN_KEY_TEXT_SHARED] = {"shared", "0"},
        [UHN_KEY_EXPERIMENT_TRIALS] = {"trials", "10"},
        [UHN_KEY_EXPERIMENT_THRESHOLD] = {"threshold", "50"},
        [UHN_KEY_EXPERIMENT_THRESHOLD_SCALE] = {"threshold_scale", "none"},
        [UHN_KEY_EXPERIMENT_SEED] = {"seed", "0"},
        [UHN_KEY_OUTPUT_FILE] = {"file", "t.h5"},
        [UHN_KEY_OUTPUT_SAVE_IMAGES] = {"save_images", "0"},
        [UHN_KEY_OUTPUT_QUIET] = {"quiet", "off"},
        [UHN_KEY_OUTPUT_TRAJECTORY] = {"trajectory", "none"},
        [UHN_KEY_OUTPUT_SEPARABILITY] = {"separability", "off"},
        [UHN_KEY_OUTPUT_SEPARABILITY_BINS] = {"separability_bins", "200"},
    };
    for (int i = 0; i < UHN_KEY_COUNT; ++i) {
        uhn_deck_entry e;
        uhn_deck_entry_at(d, i, &e);
        CHECK_MSG(!strcmp(e.key, expect[i][0]), "key %d: expected %s, got %s", i, expect[i][0],
                  e.key);
        CHECK_MSG(!strcmp(e.value, expect[i][1]), "%s: expected %s, got %s", e.key, expect[i][1],
                  e.value);
        CHECK_INT(i == UHN_KEY_MEMORY_N, e.is_set);
        CHECK(e.description && e.description[0] && e.units && e.units[0]);
    }
    CHECK_INT(1, uhn_deck_npoints(d));
    CHECK_INT(1, uhn_deck_bool(d, UHN_KEY_NETWORK_NORMALIZE, 0));
    CHECK_INT(10, uhn_deck_int(d, UHN_KEY_EXPERIMENT_TRIALS, 0));
    uhn_params p;
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(d, 0, idx);
    uhn_deck_params(d, idx, &p);
    CHECK(p.sim == uhn_similarity_find("dot") && p.sep == uhn_separation_find("softmax"));
    CHECK(isnan(p.param) && p.beta == 1 && p.steps == 1 && p.normalize == 1 && !p.cue_only);
    CHECK_INT(0, p.hold);
    uhn_deck_destroy(d);

    /* derived defaults follow the corruption; a name without .ini gets .h5 */
    uhn_deck *g = NULL;
    int rc = uhn_deck_parse(ctx, "dir/study", "[memory]\nn=5\n[query]\ncorruption=inpaint\n", 0,
                            NULL, &g);
    CHECK_INT(UHN_OK, rc);
    if (g) {
        CHECK(!strcmp(uhn_deck_str(g, UHN_KEY_QUERY_LEVEL, 0), "7"));
        CHECK(!strcmp(uhn_deck_str(g, UHN_KEY_OUTPUT_FILE, 0), "dir/study.h5"));
        uhn_deck_destroy(g);
    }
}

static void test_overrides(void) {
    check_context("overrides");
    char *ov[] = {"network.beta=4, 8", "memory.n = 7", "output.quiet=on",
                  "query.corruption=gaussian", "data.source=hdf5:a=b.h5"};
    uhn_deck *d = parse_ok("[memory]\nn = 100\n[network]\nbeta = 1\n", 5, ov);
    if (!d) return;
    CHECK_INT(2, uhn_deck_count(d, UHN_KEY_NETWORK_BETA));
    CHECK_NEAR(8, uhn_deck_double(d, UHN_KEY_NETWORK_BETA, 1), 0);
    CHECK_INT(7, uhn_deck_int(d, UHN_KEY_MEMORY_N, 0));
    CHECK_INT(1, uhn_deck_bool(d, UHN_KEY_OUTPUT_QUIET, 0));
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_QUERY_LEVEL, 0), "0.1")); /* gaussian's default */
    CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_DATA_SOURCE, 0), "hdf5:a=b.h5"));
    CHECK_INT(2, uhn_deck_npoints(d));
    /* the raw text is the file's, not the overrides' */
    CHECK(!strcmp(uhn_deck_text(d), "[memory]\nn = 100\n[network]\nbeta = 1\n"));
    uhn_deck_destroy(d);
}

/* The values of memory.n in a deck "[memory]\nn = <n>" joined by ", ". */
static void check_n(const char *n, const char *want) {
    char text[256];
    snprintf(text, sizeof text, "[memory]\nn = %s\n", n);
    uhn_deck *d = parse_ok(text, 0, NULL);
    if (!d) return;
    uhn_deck_entry e;
    uhn_deck_entry_at(d, UHN_KEY_MEMORY_N, &e);
    CHECK_MSG(!strcmp(e.value, want), "n = %s: expected %s, got %s", n, want, e.value);
    uhn_deck_destroy(d);
}

static void test_ranges(void) {
    check_context("integer ranges");
    check_n("10:50:20, 100", "10, 30, 50, 100");
    check_n("5:5:3", "5");
    check_n("10:10000:log1", "10, 100, 1000, 10000");
    check_n("1:10:log2", "1, 3, 10");
    check_n("1:20:log10", "1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20");
    check_n("100:150:log10", "100, 126");
    const char *what = "is not a range (start:stop:step with step >= 1, or start:stop:logK with K "
                       "in [1, 1000] and start >= 1; start <= stop)";
    const char *bad[] = {"10:5:1",    "1:10:0",  "1:10:logx", "1:10", "1:10:log0",
                         "0:10:log1", "1:10:2x", ":10:1",     "1::1", "1:10:log1001"};
    for (int i = 0; i < 10; ++i) {
        char text[128], msg[512];
        snprintf(text, sizeof text, "[memory]\nn = %s\n", bad[i]);
        snprintf(msg, sizeof msg, "t.ini:2: [memory] n: '%s' %s", bad[i], what);
        EXPECT_ERR(text, 0, NULL, msg);
    }
    EXPECT_ERR("[memory]\nn = 0:10:2\n", 0, NULL,
               "t.ini:2: [memory] n: 0 is out of range (must be in [1, 4294967295])");
    EXPECT_ERR("[memory]\nn = 1:100000:1\n", 0, NULL,
               "t.ini:2: [memory] n: '1:100000:1' gives more than 10000 values");
    EXPECT_ERR("[memory]\nn = 10:30:10, 20\n", 0, NULL,
               "t.ini:2: [memory] n: '20' is listed twice");
    /* The longest range: every value kept in order (the repeat check is a
     * hash set that grows as the list does), and a repeat found after it. */
    uhn_deck *big = parse_ok("[memory]\nn = 1:10000:1\n", 0, NULL);
    if (big) {
        uhn_deck_entry e;
        uhn_deck_entry_at(big, UHN_KEY_MEMORY_N, &e);
        CHECK_MSG(!strncmp(e.value, "1, 2, 3, ", 9) && strstr(e.value, ", 4999, 5000, 5001, ") &&
                      strlen(e.value) > 11 &&
                      !strcmp(e.value + strlen(e.value) - 11, "9999, 10000"),
                  "n = 1:10000:1: %.40s ...", e.value);
        uhn_deck_destroy(big);
    }
    EXPECT_ERR("[memory]\nn = 1:9999:1, 7777\n", 0, NULL,
               "t.ini:2: [memory] n: '7777' is listed twice");
    EXPECT_ERR("[memory]\nn = 5000:9999:1, 1:5000:1\n", 0, NULL,
               "t.ini:2: [memory] n: '5000' is listed twice");
    EXPECT_ERR("[memory]\nn = 10\n[network]\nsteps = 1:3:1\n", 0, NULL,
               "t.ini:4: [network] steps: '1:3:1' is not an integer");
}

static void test_errors(void) {
    check_context("errors");
    const char *M = "[memory]\nn = 20\n";
    char sims[512] = "";
    for (int i = 0; i < uhn_similarity_count(); ++i)
        snprintf(sims + strlen(sims), sizeof sims - strlen(sims), "%s%s", i ? ", " : "",
                 uhn_similarity_name(uhn_similarity_at(i)));
    char msg[1024];

    EXPECT_ERR("[memory]\nn = 1\n[foo]\n", 0, NULL,
               "t.ini:3: [foo]: unknown section (valid: data, memory, encoder, network, query, "
               "text, experiment, output)");
    EXPECT_ERR("n = 1\n[memory]\n", 0, NULL, "t.ini:1: [] n: key outside any section");
    EXPECT_ERR("[memory]\nn = 1\n[network]\nbetta = 2\n", 0, NULL,
               "t.ini:4: [network] betta: unknown key (valid in [network]: similarity, "
               "separation, beta, param, score, normalize, steps, step_size, tol, cue_only)");
    EXPECT_ERR("[memory]\nn = 1\n\nn = 2\n", 0, NULL,
               "t.ini:4: [memory] n: duplicate key (first set at line 2)");
    EXPECT_ERR("[network]\nbeta = 1\n", 0, NULL, "t.ini: [memory] n: required key missing");
    EXPECT_ERR("[memory]\nn = 10x\n", 0, NULL, "t.ini:2: [memory] n: '10x' is not an integer");
    EXPECT_ERR("[memory]\nn = 99999999999999999999\n", 0, NULL,
               "t.ini:2: [memory] n: 99999999999999999999 is out of range (must be in [1, "
               "4294967295])");
    EXPECT_ERR("[memory]\nn = 10, 0\n", 0, NULL,
               "t.ini:2: [memory] n: 0 is out of range (must be in [1, 4294967295])");
    EXPECT_ERR("[memory]\nn = 10, , 30\n", 0, NULL,
               "t.ini:2: [memory] n: empty item 2 of the list '10, , 30'");
    EXPECT_ERR("[memory]\nn = 10,\n", 0, NULL,
               "t.ini:2: [memory] n: empty item 2 of the list '10,'");
    EXPECT_ERR("[memory]\nn = 10, 20, 10\n", 0, NULL, "t.ini:2: [memory] n: '10' is listed twice");
    EXPECT_ERR("[memory]\nn = 10\n[network]\nbeta = 1, 1.0\n", 0, NULL,
               "t.ini:4: [network] beta: '1' is listed twice");
    EXPECT_ERR("[memory]\nn =\n", 0, NULL, "t.ini:2: [memory] n: empty value");
    const char *bad_doubles[][2] = {
        {"nan", "is not a finite number"},
        {"inf", "is not a finite number"},
        {"-Inf", "is not a finite number"},
        {"1e999", "overflows double precision (largest 1.7976931348623157e308)"},
        {"1.5s", "is not a number"},
        {"0x", "is not a number"},
        {"abc", "is not a number"}};
    for (int i = 0; i < 7; ++i) {
        char text[128];
        snprintf(text, sizeof text, "%s[network]\nbeta = %s\n", M, bad_doubles[i][0]);
        snprintf(msg, sizeof msg, "t.ini:4: [network] beta: '%s' %s", bad_doubles[i][0],
                 bad_doubles[i][1]);
        EXPECT_ERR(text, 0, NULL, msg);
    }
    EXPECT_ERR("[memory]\nn = 20\n[network]\nbeta = 0\n", 0, NULL,
               "t.ini:4: [network] beta: 0 is out of range (must be > 0)");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nstep_size = 1.5\n", 0, NULL,
               "t.ini:4: [network] step_size: 1.5 is out of range (must be in (0, 1])");
    EXPECT_ERR("[memory]\nn = 20\n[network]\ntol = -1e-3\n", 0, NULL,
               "t.ini:4: [network] tol: -1e-3 is out of range (must be >= 0)");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nsteps = 1, 2\n", 0, NULL,
               "t.ini:4: [network] steps: takes one value, not a list ('1, 2')");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nsteps = 0\n", 0, NULL,
               "t.ini:4: [network] steps: 0 is out of range (must be in [1, 2147483647])");
    EXPECT_ERR("[memory]\nn = 20\n[experiment]\ntrials = 2.5\n", 0, NULL,
               "t.ini:4: [experiment] trials: '2.5' is not an integer");
    EXPECT_ERR("[memory]\nn = 20\n[experiment]\nthreshold = 0\n", 0, NULL,
               "t.ini:4: [experiment] threshold: 0 is out of range (must be > 0)");
    snprintf(msg, sizeof msg, "t.ini:4: [network] similarity: unknown name 'cosin' (valid: %s)",
             sims);
    EXPECT_ERR("[memory]\nn = 20\n[network]\nsimilarity = dot, cosin\n", 0, NULL, msg);
    EXPECT_ERR("[memory]\nn = 20\n[query]\ncorruption = blur\n", 0, NULL,
               "t.ini:4: [query] corruption: unknown name 'blur' (valid: none, gaussian, "
               "mask_top, random_pixels, inpaint)");
    EXPECT_ERR("[memory]\nn = 20\n[data]\nhetero = thirds\n", 0, NULL,
               "t.ini:4: [data] hetero: unknown name 'thirds' (valid: none, halves)");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nnormalize = maybe\n", 0, NULL,
               "t.ini:4: [network] normalize: 'maybe' is not a boolean (on/off, true/false, "
               "yes/no, 1/0)");
    EXPECT_ERR("[memory]\nn = 20\n[output]\nquiet = both\n", 0, NULL,
               "t.ini:4: [output] quiet: 'both' is not a boolean (on/off, true/false, yes/no, "
               "1/0)");
    EXPECT_ERR("[memory]\nn = 20\n[network]\ncue_only = of\n", 0, NULL,
               "t.ini:4: [network] cue_only: 'of' is not a boolean (on/off, true/false, yes/no, "
               "1/0, both)");
    EXPECT_ERR("[memory]\nn = 20\n[experiment]\nseed = -1\n", 0, NULL,
               "t.ini:4: [experiment] seed: '-1' is not an unsigned 64-bit integer");
    EXPECT_ERR("[memory]\nn = 20\n[experiment]\nseed = 18446744073709551616\n", 0, NULL,
               "t.ini:4: [experiment] seed: '18446744073709551616' is not an unsigned 64-bit "
               "integer");
    EXPECT_ERR("[memory]\nn 20\n", 0, NULL,
               "t.ini:2: syntax error (expected [section] or key = value)");
    EXPECT_ERR("[memory\nn = 20\n", 0, NULL,
               "t.ini:1: syntax error (expected [section] or key = value)");
    {
        char text[512] = "[memory]\nn = 1";
        for (int i = 0; i < 100; ++i) strcat(text, ", 2");
        strcat(text, "\n");
        EXPECT_ERR(text, 0, NULL, "t.ini:2: line longer than 197 characters");
    }
    EXPECT_ERR("[memory]\nn = 20\n[network]\nbeta = 1\n  steps = 2\n", 0, NULL,
               "t.ini:5: [network] beta: an indented line continues the previous key's value; "
               "remove the indentation");

    /* overrides */
    char *ov1[] = {"memory.n"};
    EXPECT_ERR(M, 1, ov1, "override 'memory.n': expected section.key=value");
    char *ov2[] = {"n=3"};
    EXPECT_ERR(M, 1, ov2, "override 'n=3': expected section.key=value");
    char *ov3[] = {"foo.x=1"};
    EXPECT_ERR(M, 1, ov3,
               "override 'foo.x=1': [foo] x: unknown section [foo] (valid: data, memory, encoder, "
               "network, query, text, experiment, output)");
    char *ov4[] = {"network.betta=1"};
    EXPECT_ERR(M, 1, ov4,
               "override 'network.betta=1': [network] betta: unknown key (valid in [network]: "
               "similarity, separation, beta, param, score, normalize, steps, step_size, tol, "
               "cue_only)");
    char *ov5[] = {"network.beta=2", "network.beta=3"};
    EXPECT_ERR(M, 2, ov5,
               "override 'network.beta=3': [network] beta: given twice on the command line");
    char *ov6[] = {"network.beta=-1"};
    EXPECT_ERR(M, 1, ov6,
               "override 'network.beta=-1': [network] beta: -1 is out of range (must be > 0)");

    /* cross-key checks */
    EXPECT_ERR("[memory]\nn = 20\n[query]\nlevel = 0.5, 1.5\n", 0, NULL,
               "t.ini:4: [query] level: 1.5 is out of range for mask_top (fraction of rows in "
               "[0, 1])");
    EXPECT_ERR("[memory]\nn = 20\n[query]\ncorruption = random_pixels\nlevel = -0.1\n", 0, NULL,
               "t.ini:5: [query] level: -0.1 is out of range for random_pixels (probability in "
               "[0, 1])");
    EXPECT_ERR("[memory]\nn = 20\n[query]\ncorruption = gaussian\nlevel = -0.1\n", 0, NULL,
               "t.ini:5: [query] level: -0.1 is out of range for gaussian (noise variance >= "
               "0)");
    EXPECT_ERR("[memory]\nn = 20\n[query]\ncorruption = inpaint\nlevel = 2.5\n", 0, NULL,
               "t.ini:5: [query] level: 2.5 is out of range for inpaint (border width in "
               "pixels, an integer >= 0)");
    EXPECT_ERR("[memory]\nn = 20\n[data]\nhetero = halves\n[network]\nsteps = 3\n", 0, NULL,
               "t.ini:4: [data] hetero: hetero-association needs network.steps = 1, not 3");
    EXPECT_ERR("[memory]\nn = 20\n[network]\ncue_only = both\n[query]\ncorruption = gaussian\n", 0,
               NULL,
               "t.ini:4: [network] cue_only: on needs a masking corruption (mask_top, "
               "random_pixels, inpaint), not gaussian");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nparam = 3\n", 0, NULL,
               "t.ini:4: [network] param: none of the separations (softmax) takes a parameter");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nseparation = softmax, topk\nparam = 2.5\n", 0, NULL,
               "t.ini:5: [network] param: 2.5 is not valid for topk (k must be an integer from 1 "
               "to 1000000000)");
    char *ov7[] = {"query.corruption=none"};
    EXPECT_ERR("[memory]\nn = 20\n[network]\ncue_only = on\n", 1, ov7,
               "t.ini:4: [network] cue_only: on needs a masking corruption (mask_top, "
               "random_pixels, inpaint), not none");

    /* checks that need the data */
    uhn_deck *d = parse_ok("[memory]\nn = 20, 500\n[data]\nhetero = halves\n", 0, NULL);
    if (d) {
        CHECK_INT(UHN_OK, uhn_deck_check_data(ctx, d, 500, 28));
        CHECK_INT(UHN_EINPUT, uhn_deck_check_data(ctx, d, 499, 28));
        CHECK(!strcmp(ctx->msg, "t.ini:2: [memory] n: 500 memories, but the data set "
                                "'fashion-mnist:train' has only 499 images"));
        CHECK_INT(UHN_EINPUT, uhn_deck_check_data(ctx, d, 500, 27));
        CHECK(!strcmp(ctx->msg, "t.ini:4: [data] hetero: halves needs an even image height, "
                                "not 27"));
        uhn_deck_destroy(d);
    }
}

/* Every INT key is checked in 64 bits against the table's max, which is what
 * its consumer holds: the largest value passes, the next one and values
 * beyond 64 bits give one DECK:LINE message (issue 7: steps = 4294967297 ran
 * as 1 step). */
static void test_int_limits(void) {
    check_context("integer keys at their limits");
    static const struct {
        const char *section, *key, *max, *over, *range;
    } keys[] = {
        {"memory", "n", "4294967295", "4294967296", "in [1, 4294967295]"},
        {"network", "steps", "2147483647", "2147483648", "in [1, 2147483647]"},
        {"query", "count", "4294967295", "4294967296", "in [0, 4294967295]"},
        {"experiment", "trials", "2147483647", "2147483648", "in [1, 2147483647]"},
        {"output", "save_images", "1024", "1025", "in [0, 1024]"},
    };
    const char *beyond[] = {"4294967297", "9223372036854775807", "9223372036854775808",
                            "-9223372036854775809", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
        int is_n = !strcmp(keys[i].key, "n");
        char text[256], msg[512];
        /* line 4 holds the key (memory.n on line 2 otherwise) */
        snprintf(text, sizeof text, "[memory]\nn = %s\n[%s]\n%s = %s\n", is_n ? keys[i].max : "20",
                 is_n ? "network" : keys[i].section, is_n ? "tol" : keys[i].key,
                 is_n ? "0" : keys[i].max);
        uhn_deck *d = parse_ok(text, 0, NULL);
        uhn_deck_destroy(d);
        const char *vals[6] = {keys[i].over};
        for (int j = 0; j < 5; ++j) vals[j + 1] = beyond[j];
        for (int j = 0; j < 6; ++j) {
            if (is_n)
                snprintf(text, sizeof text, "[memory]\nn = %s\n", vals[j]);
            else
                snprintf(text, sizeof text, "[memory]\nn = 20\n[%s]\n%s = %s\n", keys[i].section,
                         keys[i].key, vals[j]);
            snprintf(msg, sizeof msg, "t.ini:%d: [%s] %s: %s is out of range (must be %s)",
                     is_n ? 2 : 4, keys[i].section, keys[i].key, vals[j], keys[i].range);
            EXPECT_ERR(text, 0, NULL, msg);
        }
        /* the same check through an override */
        char ov[128];
        snprintf(ov, sizeof ov, "%s.%s=%s", keys[i].section, keys[i].key, keys[i].over);
        char *ovs[] = {ov};
        snprintf(msg, sizeof msg, "override '%s': [%s] %s: %s is out of range (must be %s)", ov,
                 keys[i].section, keys[i].key, keys[i].over, keys[i].range);
        EXPECT_ERR("[memory]\nn = 20\n", 1, ovs, msg);
    }
    /* the largest steps reaches the engine unwrapped */
    uhn_deck *d = parse_ok("[memory]\nn = 20\n[network]\nsteps = 2147483647\n", 0, NULL);
    if (d) {
        uhn_params p;
        int idx[UHN_KEY_COUNT];
        uhn_deck_point(d, 0, idx);
        uhn_deck_params(d, idx, &p);
        CHECK_INT(2147483647, p.steps);
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_STEPS, 0), "2147483647"));
        uhn_deck_destroy(d);
    }
    EXPECT_ERR("[memory]\nn = 20\n[network]\nsteps = -1\n", 0, NULL,
               "t.ini:4: [network] steps: -1 is out of range (must be in [1, 2147483647])");
    EXPECT_ERR("[memory]\nn = 20\n[network]\nsteps = 1e9\n", 0, NULL,
               "t.ini:4: [network] steps: '1e9' is not an integer");
}

/* Ranges a:b:step and a:b:logK: start and stop are checked like single
 * values, parts beyond 64 bits are out of range, and stepping near the top
 * never overflows. */
static void test_range_limits(void) {
    check_context("integer ranges at their limits");
    check_n("4294967290:4294967295:2", "4294967290, 4294967292, 4294967294");
    check_n("4294967293:4294967295:1", "4294967293, 4294967294, 4294967295");
    check_n("4294967295:4294967295:9223372036854775807", "4294967295");
    check_n("1:4294967295:9223372036854775807", "1");
    check_n("1:4294967295:log1", "1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, "
                                 "100000000, 1000000000");
    {
        uhn_deck *d = parse_ok("[memory]\nn = 4000000000:4294967295:log1000\n", 0, NULL);
        if (d) {
            int c = uhn_deck_count(d, UHN_KEY_MEMORY_N);
            CHECK_INT(31, c);
            CHECK_INT(4000000000LL, uhn_deck_int(d, UHN_KEY_MEMORY_N, 0));
            CHECK_INT(4286077221LL, uhn_deck_int(d, UHN_KEY_MEMORY_N, c - 1));
            uhn_deck_destroy(d);
        }
    }
    const char *r = "in [1, 4294967295]";
    static const char *const bad[][2] = {
        {"4294967290:4294967296:2", "4294967296"},
        {"1:9223372036854775808:1", "9223372036854775808"},
        {"-9223372036854775809:10:1", "-9223372036854775809"},
        {"9223372036854775807:9223372036854775807:1", "9223372036854775807"},
        {"1:99999999999999999999:log2", "99999999999999999999"},
        {"0:4294967295:1", "0"},
    };
    for (int i = 0; i < 6; ++i) {
        char text[128], msg[512];
        snprintf(text, sizeof text, "[memory]\nn = %s\n", bad[i][0]);
        snprintf(msg, sizeof msg, "t.ini:2: [memory] n: %s is out of range (must be %s)", bad[i][1],
                 r);
        EXPECT_ERR(text, 0, NULL, msg);
    }
    EXPECT_ERR("[memory]\nn = 1:10:99999999999999999999\n", 0, NULL,
               "t.ini:2: [memory] n: '1:10:99999999999999999999': step 99999999999999999999 is "
               "out of range (must be >= 1)");
    EXPECT_ERR("[memory]\nn = 1:10:-9223372036854775808\n", 0, NULL,
               "t.ini:2: [memory] n: '1:10:-9223372036854775808' is not a range (start:stop:step "
               "with step >= 1, or start:stop:logK with K in [1, 1000] and start >= 1; start <= "
               "stop)");
    EXPECT_ERR("[memory]\nn = 1:10:log99999999999999999999\n", 0, NULL,
               "t.ini:2: [memory] n: '1:10:log99999999999999999999' is not a range "
               "(start:stop:step with step >= 1, or start:stop:logK with K in [1, 1000] and "
               "start >= 1; start <= stop)");
    EXPECT_ERR("[memory]\nn = 1:2:3:4\n", 0, NULL,
               "t.ini:2: [memory] n: '1:2:3:4' is not a range (start:stop:step with step >= 1, "
               "or start:stop:logK with K in [1, 1000] and start >= 1; start <= stop)");
}

/* Doubles: underflow and overflow say what is wrong (issue 7: beta = 1e-320
 * was "not a finite number"); subnormals are refused. */
static void test_double_limits(void) {
    check_context("doubles at their limits");
    const char *under = "underflows double precision (nonzero and below the smallest normal "
                        "double, 2.2250738585072014e-308)";
    char msg[512];
    snprintf(msg, sizeof msg, "t.ini:4: [network] beta: '1e-320' %s", under);
    EXPECT_ERR("[memory]\nn = 20\n[network]\nbeta = 1e-320\n", 0, NULL, msg);
    snprintf(msg, sizeof msg, "t.ini:4: [network] tol: '1e-400' %s", under);
    EXPECT_ERR("[memory]\nn = 20\n[network]\ntol = 1e-400\n", 0, NULL, msg);
    snprintf(msg, sizeof msg, "t.ini:4: [query] level: '-4.9e-324' %s", under);
    EXPECT_ERR("[memory]\nn = 20\n[query]\nlevel = 0.5, -4.9e-324\n", 0, NULL, msg);
    char *ov[] = {"network.beta=1e-320"};
    snprintf(msg, sizeof msg, "override 'network.beta=1e-320': [network] beta: '1e-320' %s", under);
    EXPECT_ERR("[memory]\nn = 20\n", 1, ov, msg);
    EXPECT_ERR("[memory]\nn = 20\n[network]\nbeta = 1e400\n", 0, NULL,
               "t.ini:4: [network] beta: '1e400' overflows double precision (largest "
               "1.7976931348623157e308)");
    EXPECT_ERR("[memory]\nn = 20\n[experiment]\nthreshold = 1.8e308\n", 0, NULL,
               "t.ini:4: [experiment] threshold: '1.8e308' overflows double precision (largest "
               "1.7976931348623157e308)");
    /* the extremes of the normal range are accepted */
    uhn_deck *d = parse_ok("[memory]\nn = 20\n[network]\nbeta = 2.2250738585072014e-308, "
                           "1.7976931348623157e308\n",
                           0, NULL);
    if (d) {
        CHECK(uhn_deck_double(d, UHN_KEY_NETWORK_BETA, 0) == DBL_MIN);
        CHECK(uhn_deck_double(d, UHN_KEY_NETWORK_BETA, 1) == DBL_MAX);
        uhn_deck_destroy(d);
    }
}

/* network.param as an integer for power and topk: a huge value (beyond int,
 * or 1e300) gets the deck's location and key, not a recall flag. The reason
 * after "must be" is the separation's (src/core/separation.c). */
static void test_param_limits(void) {
    check_context("network.param as a huge integer");
    static const char *const cases[][3] = {
        {"power", "4294967297", "4294967297"},
        {"power", "1e300", "1e+300"},
        {"topk", "4294967297", "4294967297"},
        {"topk", "1e300", "1e+300"},
        {"topk", "9223372036854775808", "9.223372036854776e+18"},
    };
    for (int i = 0; i < 5; ++i) {
        char text[256], want[256], ovtext[128];
        const char *pname = !strcmp(cases[i][0], "power") ? "p" : "k";
        snprintf(text, sizeof text, "[memory]\nn = 20\n[network]\nseparation = %s\nparam = %s\n",
                 cases[i][0], cases[i][1]);
        snprintf(want, sizeof want, "t.ini:5: [network] param: %s is not valid for %s (%s must be ",
                 cases[i][2], cases[i][0], pname);
        uhn_deck *d = (uhn_deck *)1;
        int rc = uhn_deck_parse(ctx, "t.ini", text, 0, NULL, &d);
        CHECK_MSG(rc == UHN_EINPUT && d == NULL, "%s param %s: accepted (rc %d)", cases[i][0],
                  cases[i][1], rc);
        CHECK_MSG(!strncmp(ctx->msg, want, strlen(want)),
                  "expected a message starting\n  \"%s\"\ngot\n  \"%s\"", want, ctx->msg);
        /* through an override: the override is named */
        snprintf(ovtext, sizeof ovtext, "network.param=%s", cases[i][1]);
        char *ov[] = {ovtext};
        snprintf(text, sizeof text, "[memory]\nn = 20\n[network]\nseparation = %s\n", cases[i][0]);
        snprintf(want, sizeof want,
                 "override '%s': [network] param: %s is not valid for %s (%s must be ", ovtext,
                 cases[i][2], cases[i][0], pname);
        d = (uhn_deck *)1;
        rc = uhn_deck_parse(ctx, "t.ini", text, 1, ov, &d);
        CHECK_MSG(rc == UHN_EINPUT && d == NULL, "override %s: accepted (rc %d)", ovtext, rc);
        CHECK_MSG(!strncmp(ctx->msg, want, strlen(want)),
                  "expected a message starting\n  \"%s\"\ngot\n  \"%s\"", want, ctx->msg);
    }
}

/* uhn_deck_where: the location prefix of every key, for messages of later
 * layers. */
static void test_where(void) {
    check_context("uhn_deck_where");
    char *ov[] = {"network.steps=3"};
    uhn_deck *d = parse_ok("; comment\n[memory]\nn = 10,\n  20\n[network]\nbeta = 2\n", 1, ov);
    if (!d) return;
    CHECK(!strcmp(uhn_deck_where(d, UHN_KEY_MEMORY_N), "t.ini:3: [memory] n"));
    CHECK(!strcmp(uhn_deck_where(d, UHN_KEY_NETWORK_BETA), "t.ini:6: [network] beta"));
    CHECK(!strcmp(uhn_deck_where(d, UHN_KEY_NETWORK_STEPS),
                  "override 'network.steps=3': [network] steps"));
    CHECK(!strcmp(uhn_deck_where(d, UHN_KEY_NETWORK_TOL), "t.ini: [network] tol"));
    CHECK(!strcmp(uhn_deck_where(d, UHN_KEY_OUTPUT_FILE), "t.ini: [output] file"));
    CHECK(!strcmp(uhn_deck_where(d, UHN_KEY_COUNT), "t.ini"));
    CHECK(!strcmp(uhn_deck_where(d, (uhn_deck_key_id)-1), "t.ini"));
    /* the same prefix as the deck's own messages */
    CHECK_INT(UHN_EINPUT, uhn_deck_check_data(ctx, d, 10, 28));
    char want[256];
    snprintf(want, sizeof want, "%s: 20 memories", uhn_deck_where(d, UHN_KEY_MEMORY_N));
    CHECK_MSG(!strncmp(ctx->msg, want, strlen(want)), "got \"%s\"", ctx->msg);
    uhn_deck_destroy(d);
}

/* True when msg holds no control byte, no DEL and no raw U+2028/U+2029. */
static int one_clean_line(const char *msg) {
    for (const unsigned char *c = (const unsigned char *)msg; *c; ++c) {
        if (*c < 0x20 || *c == 0x7f) return 0;
        if (c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9)) return 0;
    }
    return 1;
}

/* Control characters in deck values and names come back escaped (uhn_fail
 * escapes every message), so one message stays one line in any terminal. */
static void test_control_chars(void) {
    check_context("control characters in deck values");
    static const char *const cases[][2] = {
        {"[memory]\nn = 20\n[network]\nsimilarity = do\ft\n", "'do\\x0ct'"},
        {"[memory]\nn = 20\n[network]\nsimilarity = do\rt\n", "'do\\x0dt'"},
        {"[memory]\nn = 20\n[network]\nsimilarity = \x1b[31mdot\x1b[0m\n",
         "'\\x1b[31mdot\\x1b[0m'"},
        {"[memory]\nn = 20\n[network]\nsimilarity = do\xe2\x80\xa8t\n", "'do\\u2028t'"},
        {"[memory]\nn = 20\n[network]\nsimilarity = do\xe2\x80\xa9t\n", "'do\\u2029t'"},
        {"[memory]\nn = 20\n[network]\nsimilarity = do\x7ft\n", "'do\\x7ft'"},
        {"[memory]\nn = 20\n[network]\nbeta = 1\v2\n", "'1\\x0b2' is not a number"},
        {"[memory]\nn = 2\x1b[2J0\n", "'2\\x1b[2J0' is not an integer"},
        {"[memory]\nn = 20\n[netw\x1b[0m\x07ork]\n", "[netw\\x1b[0m\\x07ork]: unknown section"},
        {"[memory]\nn = 20\n[network]\nbe\fta = 1\n", "be\\x0cta: unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        uhn_deck *d = (uhn_deck *)1;
        ctx->msg[0] = '\0';
        int rc = uhn_deck_parse(ctx, "t.ini", cases[i][0], 0, NULL, &d);
        CHECK_MSG(rc == UHN_EINPUT && d == NULL, "case %zu: rc %d", i, rc);
        CHECK_MSG(one_clean_line(ctx->msg), "case %zu: raw control character in the message", i);
        CHECK_MSG(strstr(ctx->msg, cases[i][1]) != NULL, "case %zu: expected \"%s\" in the message",
                  i, cases[i][1]);
    }
    /* and through an override */
    char *ov[] = {"network.similarity=\x1b[31mdot\r"};
    uhn_deck *d = (uhn_deck *)1;
    int rc = uhn_deck_parse(ctx, "t.ini", "[memory]\nn = 20\n", 1, ov, &d);
    CHECK_INT(UHN_EINPUT, rc);
    CHECK_MSG(one_clean_line(ctx->msg), "override: raw control character in the message");
    CHECK_CONTAINS(ctx->msg, "override 'network.similarity=\\x1b[31mdot\\x0d'");
}

/* A key that takes a list is not necessarily a sweep axis: output.trajectory
 * is a list (of steps), and the sweep does not grow with it. */
static void test_list_not_axis(void) {
    check_context("list, not axis");
    CHECK_INT(UHN_DECK_LIST, uhn_deck_key_arity(UHN_KEY_OUTPUT_TRAJECTORY));
    CHECK_INT(UHN_DECK_AXIS, uhn_deck_key_arity(UHN_KEY_NETWORK_BETA));
    CHECK_INT(UHN_DECK_SCALAR, uhn_deck_key_arity(UHN_KEY_NETWORK_STEPS));
    CHECK_INT(11, uhn_deck_naxes());
    for (int i = 0; i < uhn_deck_naxes(); ++i) CHECK(uhn_deck_axis(i) != UHN_KEY_OUTPUT_TRAJECTORY);
    CHECK_INT(UHN_AXIS_LOG, uhn_deck_key_scale(UHN_KEY_MEMORY_N));
    CHECK_INT(UHN_AXIS_CATEGORY, uhn_deck_key_scale(UHN_KEY_NETWORK_SIMILARITY));
    CHECK(!strcmp(uhn_axis_scale_name(UHN_AXIS_LOG), "log"));
    uhn_deck *d = parse_ok("[memory]\nn = 10, 20\n[network]\nsteps = 8\n[output]\n"
                           "save_images = 2\ntrajectory = 0, 1, 2:7:3\n",
                           0, NULL);
    if (d) {
        CHECK_INT(2, uhn_deck_npoints(d)); /* n only: the 4 steps are not an axis */
        CHECK_INT(4, uhn_deck_count(d, UHN_KEY_OUTPUT_TRAJECTORY));
        const int64_t want[4] = {0, 1, 2, 5};
        for (int j = 0; j < 4; ++j)
            CHECK_INT(want[j], uhn_deck_int(d, UHN_KEY_OUTPUT_TRAJECTORY, j));
        uhn_deck_entry e;
        uhn_deck_entry_at(d, UHN_KEY_OUTPUT_TRAJECTORY, &e);
        CHECK(!strcmp(e.value, "0, 1, 2, 5"));
        uhn_deck_destroy(d);
    }
    d = parse_ok("[memory]\nn = 10\n[output]\ntrajectory = none\n", 0, NULL);
    if (d) {
        CHECK_INT(0, uhn_deck_count(d, UHN_KEY_OUTPUT_TRAJECTORY));
        uhn_deck_destroy(d);
    }
    EXPECT_ERR("[memory]\nn = 10\n[network]\nsteps = 3\n[output]\nsave_images = 1\n"
               "trajectory = 0, 4\n",
               0, NULL, "t.ini:7: [output] trajectory: step 4 is beyond network.steps = 3");
    EXPECT_ERR("[memory]\nn = 10\n[network]\nsteps = 3\n[output]\nsave_images = 1\n"
               "trajectory = 2, 1\n",
               0, NULL, "t.ini:7: [output] trajectory: steps must increase: 1 follows 2");
    EXPECT_ERR("[memory]\nn = 10\n[output]\ntrajectory = 0\n", 0, NULL,
               "t.ini:4: [output] trajectory: trajectories are saved for the saved queries: set "
               "output.save_images > 0");
    EXPECT_ERR("[memory]\nn = 10\n[output]\nsave_images = 1\ntrajectory = -1\n", 0, NULL,
               "t.ini:5: [output] trajectory: -1 is out of range (must be in [0, 2147483647])");
}

/* [encoder]: the encoder axis takes table names and saved models (file:PATH),
 * each once; encoder.train follows data.source; the axis is named "encoder". */
static void test_encoder_keys(void) {
    check_context("encoder keys");
    CHECK_INT(UHN_DECK_AXIS, uhn_deck_key_arity(UHN_KEY_ENCODER_NAME));
    CHECK_INT(UHN_AXIS_CATEGORY, uhn_deck_key_scale(UHN_KEY_ENCODER_NAME));
    CHECK(!strcmp(uhn_deck_axis_name(UHN_KEY_ENCODER_NAME), "encoder"));
    CHECK(!strcmp(uhn_deck_axis_name(UHN_KEY_MEMORY_N), "n"));
    uhn_deck *d = parse_ok(
        "[memory]\nn = 10\n[encoder]\nname = identity, pca, file:dir/model.h5\ndim = 5\n", 0, NULL);
    if (d) {
        CHECK_INT(3, uhn_deck_npoints(d));
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_ENCODER_NAME, 2), "file:dir/model.h5"));
        CHECK_INT(5, uhn_deck_int(d, UHN_KEY_ENCODER_DIM, 0));
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_ENCODER_TRAIN, 0), "fashion-mnist:train"));
        uhn_deck_destroy(d);
    }
    d = parse_ok("[data]\nsource = fashion-mnist:test\n[memory]\nn = 10\n", 0, NULL);
    if (d) {
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_ENCODER_TRAIN, 0), "fashion-mnist:test"));
        uhn_deck_destroy(d);
    }
    EXPECT_ERR("[memory]\nn = 10\n[encoder]\nname = pcx\n", 0, NULL,
               "t.ini:4: [encoder] name: unknown encoder 'pcx' (valid: identity, centred, pca, "
               "random, vq, mlp, file:MODEL.h5)");
    EXPECT_ERR("[memory]\nn = 10\n[encoder]\nname = file:\n", 0, NULL,
               "t.ini:4: [encoder] name: unknown encoder 'file:' (valid: identity, centred, pca, "
               "random, vq, mlp, file:MODEL.h5)");
    EXPECT_ERR("[memory]\nn = 10\n[encoder]\nname = pca, identity, pca\ndim = 3\n", 0, NULL,
               "t.ini:4: [encoder] name: 'pca' is listed twice");
    EXPECT_ERR("[data]\nhetero = halves\n[memory]\nn = 10\n[encoder]\nname = identity, centred\n",
               0, NULL,
               "t.ini:6: [encoder] name: centred: hetero-association (data.hetero) stores pixel "
               "halves; it takes encoder identity only");
    EXPECT_ERR("[memory]\nn = 10\n[encoder]\ndim = -1\n", 0, NULL,
               "t.ini:4: [encoder] dim: -1 is out of range (must be in [0, 4294967295])");
}

static void test_print_keys(void) {
    check_context("README table");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    uhn_deck_print_keys(f);
    fclose(f);
    int lines = 0;
    for (size_t i = 0; i < len; ++i) lines += buf[i] == '\n';
    CHECK_INT(UHN_KEY_COUNT + 2, lines);
    /* six '|' a row: no cell may hold a pipe of its own */
    for (char *row = buf; row && *row;) {
        char *nl = strchr(row, '\n');
        int pipes = 0;
        for (char *c = row; c < (nl ? nl : row + strlen(row)); ++c) pipes += *c == '|';
        CHECK_MSG(pipes == 6, "row with %d pipes: %.*s", pipes, (int)(nl ? nl - row : 80), row);
        row = nl ? nl + 1 : NULL;
    }
    CHECK_CONTAINS(buf, "| section | key | default | units / range | meaning |\n");
    CHECK_CONTAINS(buf, "| memory | n (list) | (required) | memories, in [1, 4294967295] |");
    CHECK_CONTAINS(buf, "| network | steps | 1 | steps, in [1, 2147483647] |");
    CHECK_CONTAINS(buf, "| query | count | 0 | queries, in [0, 4294967295] |");
    CHECK_CONTAINS(buf, "| experiment | trials | 10 | trials, in [1, 2147483647] |");
    CHECK_CONTAINS(buf, "| output | save_images | 0 | queries, in [0, 1024] |");
    CHECK_CONTAINS(buf, "| network | step_size | 1 | in (0, 1] |");
    CHECK_CONTAINS(buf, "| query | corruption | mask_top | none, gaussian, mask_top, "
                        "random_pixels, inpaint |");
    CHECK_CONTAINS(buf, "| network | cue_only (list) | off | on/off/both |");
    free(buf);
}

/* [text] (cross-stimulus memories): defaults, auto as NaN, the three axes,
 * and every combination the deck refuses. */
static void test_text_keys(void) {
    check_context("text keys");
    uhn_deck *d = parse_ok("[memory]\nn = 10\n", 0, NULL);
    if (d) {
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_TEXT_METHOD, 0), "none"));
        CHECK(isnan(uhn_deck_double(d, UHN_KEY_TEXT_SCALE, 0)));
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_TEXT_SCALE, 0), "auto"));
        CHECK_INT(0, uhn_deck_bool(d, UHN_KEY_TEXT_KNOWN, 0));
        CHECK(uhn_deck_double(d, UHN_KEY_TEXT_SHARED, 0) == 0);
        CHECK_INT(1024, uhn_deck_int(d, UHN_KEY_TEXT_DIM, 0));
        CHECK_INT(3, uhn_deck_int(d, UHN_KEY_TEXT_N, 0));
        uhn_deck_destroy(d);
    }
    const char *T = "[memory]\nn = 10\n[query]\ncorruption = none\n[text]\nmethod = ngram\n";
    char text[512];
    snprintf(text, sizeof text, "%sscale = auto, 0.5, 2\nknown = both\nshared = 0, 0.25, 1\n", T);
    d = parse_ok(text, 0, NULL);
    if (d) {
        CHECK_INT(3, uhn_deck_count(d, UHN_KEY_TEXT_SCALE));
        CHECK(isnan(uhn_deck_double(d, UHN_KEY_TEXT_SCALE, 0)));
        CHECK(uhn_deck_double(d, UHN_KEY_TEXT_SCALE, 2) == 2.0);
        CHECK_INT(2, uhn_deck_count(d, UHN_KEY_TEXT_KNOWN));
        CHECK_INT(3 * 2 * 3, uhn_deck_npoints(d));
        uhn_deck_destroy(d);
    }
    EXPECT_ERR("[memory]\nn = 10\n[text]\nknown = on\n", 0, NULL,
               "t.ini:4: [text] known: on needs text.method (pixel, ngram or external)");
    EXPECT_ERR("[memory]\nn = 10\n[text]\nshared = 0.5\n", 0, NULL,
               "t.ini:4: [text] shared: 0.5 needs text.method (pixel, ngram or external)");
    EXPECT_ERR("[memory]\nn = 10\n[text]\nscale = 2\n", 0, NULL,
               "t.ini:4: [text] scale: 2 needs text.method (pixel, ngram or external)");
    snprintf(text, sizeof text, "%sshared = 1.5\n", T);
    EXPECT_ERR(text, 0, NULL, "t.ini:7: [text] shared: 1.5 is out of range (must be in [0, 1])");
    snprintf(text, sizeof text, "%sscale = 0\n", T);
    EXPECT_ERR(text, 0, NULL, "t.ini:7: [text] scale: 0 is out of range (must be > 0)");
    EXPECT_ERR(
        "[memory]\nn = 10\n[text]\nmethod = words\n", 0, NULL,
        "t.ini:4: [text] method: unknown name 'words' (valid: none, pixel, ngram, external)");
    EXPECT_ERR("[memory]\nn = 10\n[text]\nmethod = ngram\n", 0, NULL,
               "t.ini: [query] corruption: mask_top: the queries of text.method = ngram are text "
               "cues with a blank image; set none");
    snprintf(text, sizeof text, "%s[network]\ncue_only = on\n", T);
    EXPECT_ERR(text, 0, NULL,
               "t.ini:8: [network] cue_only: on needs a masking corruption (mask_top, "
               "random_pixels, inpaint), not none");
    snprintf(text, sizeof text, "%s[data]\nhetero = halves\n", T);
    EXPECT_ERR(text, 0, NULL,
               "t.ini:8: [data] hetero: halves: cross-stimulus memories (text.method = ngram) are "
               "auto-associative");
    EXPECT_ERR("[memory]\nn = 10\n[query]\ncorruption = none\n[text]\nmethod = external\n", 0, NULL,
               "t.ini: [text] codes: text.method = external needs the codes: FILE[:DATASET]");
    snprintf(text, sizeof text, "%scodes = c.h5\n", T);
    EXPECT_ERR(text, 0, NULL, "t.ini:7: [text] codes: is for text.method = external, not ngram");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    test_full();
    test_defaults();
    test_overrides();
    test_ranges();
    test_errors();
    test_int_limits();
    test_range_limits();
    test_double_limits();
    test_param_limits();
    test_where();
    test_control_chars();
    test_list_not_axis();
    test_encoder_keys();
    test_print_keys();
    test_text_keys();
    int code = check_finish("test_deck");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
