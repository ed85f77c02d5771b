/*
 * The text encoders (src/encoders/text.c, spec §13) against values fixed
 * outside the code: SHA-256 test vectors of FIPS 180-4, the 28x28 rendering of
 * one caption's digest drawn by an independent Python implementation
 * (tests/encoders/text_ref.py, run as a script, printed the grid below), and
 * the properties of the ngram codes: equal captions equal codes, unit norm,
 * ASCII case folded, non-ASCII captions encoded, invalid UTF-8 refused, the
 * short-caption rule, and near-orthogonality of unrelated captions. Not
 * collective: each rank checks the same (run at one rank).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/text.h"
#include "uhn/uhn.h"

/* The digest of "a cat sat on the mat" drawn in 28x28 (text_ref.py). */
static const char *caption_bitmap = "a cat sat on the mat";
static const char *caption_digest =
    "98fce0330f35ec5c0828ddcd5d536e236e222d65e2629a9090ab8f11944f96c1";
static const char *bitmap[28] = {
    "1110111000100000010011101110", "1010101001000110101010100010", "1110111011101000111010101110",
    "0010101001001000100010100010", "1110111001000110011011101110", "0000000000000000000000000000",
    "1110111000101110111001000000", "0010101001000010100010100110", "1110101011101110111011101000",
    "0010101001000010001010001000", "1110111001001110111001100110", "0000000000000000000000000000",
    "1110000011101110111011100010", "1000011010101010001010100110", "1110100010101110111011101010",
    "0010100010101010100010101010", "1110011011101110111011100110", "0000000000000000000000000000",
    "0010000000101110001011101110", "0110011001101000011010000010", "1010100010101110101011101110",
    "1010100010100010101000100010", "0110011001101110011011101110", "0000000000000000000000000000",
    "0000000000000000000000000000", "0000000000000000000000000000", "0000000000000000000000000000",
    "0000000000000000000000000000",
};

static void test_sha256(void) {
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) {
        char hex[UHN_TEXT_HEX_LEN + 1];
        uhn_text_sha256_hex(v[i].msg, strlen(v[i].msg), hex);
        check_context("sha256('%s')", v[i].msg);
        CHECK_MSG(!strcmp(hex, v[i].hex), "got %s, expected %s", hex, v[i].hex);
    }
    check_context("%s", "");
}

static void test_pixel(uhn_ctx *ctx) {
    uhn_text_config one = {"pixel", 28, 28, 1, 0, 0}, three = {"pixel", 28, 28, 3, 0, 0};
    CHECK(uhn_text_check(ctx, &one) == UHN_OK);
    CHECK(uhn_text_dim(&one) == 784 && uhn_text_has_digest(&one));
    float img[28 * 28], rgb[28 * 28 * 3];
    char hex[UHN_TEXT_HEX_LEN + 1];
    size_t len = strlen(caption_bitmap);
    CHECK(uhn_text_encode(ctx, &one, caption_bitmap, len, 0, img, hex) == UHN_OK);
    CHECK_MSG(!strcmp(hex, caption_digest), "digest %s, expected %s", hex, caption_digest);
    int bad = 0;
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x)
            if (img[y * 28 + x] != (bitmap[y][x] == '1' ? 1.0f : 0.0f)) ++bad;
    CHECK_MSG(bad == 0, "%d of 784 pixels differ from the reference bitmap", bad);
    /* Every channel holds the same picture. */
    CHECK(uhn_text_encode(ctx, &three, caption_bitmap, len, 0, rgb, NULL) == UHN_OK);
    bad = 0;
    for (int p = 0; p < 28 * 28; ++p)
        for (int c = 0; c < 3; ++c) bad += rgb[p * 3 + c] != img[p];
    CHECK_MSG(bad == 0, "%d RGB values differ from the grey picture", bad);
    /* 5 x 3 holds one character: the first hex digit's glyph, nothing else. */
    uhn_text_config tiny = {"pixel", 5, 3, 1, 0, 0};
    float t[15];
    CHECK(uhn_text_check(ctx, &tiny) == UHN_OK);
    CHECK(uhn_text_encode(ctx, &tiny, caption_bitmap, len, 0, t, NULL) == UHN_OK);
    bad = 0;
    for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 3; ++x) bad += t[y * 3 + x] != (bitmap[y][x] == '1' ? 1.0f : 0.0f);
    CHECK_MSG(bad == 0, "the 5x3 image is not the first glyph (%d pixels)", bad);
    /* Too small for one glyph; a --dim that is not H*W*C; n with pixel. */
    uhn_text_config c1 = {"pixel", 4, 3, 1, 0, 0}, c2 = {"pixel", 5, 2, 1, 0, 0},
                    c3 = {"pixel", 28, 28, 1, 100, 0}, c4 = {"pixel", 28, 28, 1, 0, 3},
                    c5 = {"pixel", 0, 0, 0, 0, 0};
    CHECK(uhn_text_check(ctx, &c1) == UHN_EINPUT && !strcmp(ctx->param, "shape"));
    CHECK(uhn_text_check(ctx, &c2) == UHN_EINPUT && !strcmp(ctx->param, "shape"));
    CHECK(uhn_text_check(ctx, &c3) == UHN_EINPUT && !strcmp(ctx->param, "dim"));
    CHECK(uhn_text_check(ctx, &c4) == UHN_EINPUT && !strcmp(ctx->param, "n"));
    CHECK(uhn_text_check(ctx, &c5) == UHN_EINPUT && !strcmp(ctx->param, "shape"));
}

static double dot(const float *a, const float *b, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += (double)a[i] * b[i];
    return s;
}

static int encode(uhn_ctx *ctx, const uhn_text_config *c, const char *s, float *out) {
    return uhn_text_encode(ctx, c, s, strlen(s), 7, out, NULL);
}

enum { D = 1024, NCAP = 40 };

static void test_ngram(uhn_ctx *ctx) {
    uhn_text_config cfg = {"ngram", 0, 0, 0, D, 0};
    CHECK(uhn_text_check(ctx, &cfg) == UHN_OK && uhn_text_dim(&cfg) == D);
    CHECK(!uhn_text_has_digest(&cfg));
    float *a = malloc(D * sizeof *a), *b = malloc(D * sizeof *b);
    /* Equal captions, equal codes; unit norm; ASCII case folded. */
    CHECK(encode(ctx, &cfg, "A Cat on the MAT", a) == UHN_OK);
    CHECK(encode(ctx, &cfg, "a cat on the mat", b) == UHN_OK);
    CHECK_MSG(!memcmp(a, b, D * sizeof *a), "upper and lower case give different codes");
    CHECK_MSG(fabs(dot(a, a, D) - 1) < 1e-6, "norm^2 %.9g", dot(a, a, D));
    /* Non-ASCII: encoded, unit norm, É not folded (only A-Z are). */
    CHECK(encode(ctx, &cfg, "caf\xc3\xa9", a) == UHN_OK);
    CHECK_MSG(fabs(dot(a, a, D) - 1) < 1e-6, "café: norm^2 %.9g", dot(a, a, D));
    CHECK(encode(ctx, &cfg, "CAF\xc3\x89", b) == UHN_OK);
    CHECK_MSG(memcmp(a, b, D * sizeof *a) != 0, "é and É give the same code");
    CHECK(encode(ctx, &cfg, "cafe", b) == UHN_OK);
    CHECK_MSG(memcmp(a, b, D * sizeof *a) != 0, "café and cafe give the same code");
    /* Short captions: "ab" padded is " ab " (4 code points); with n = 5 it is
     * the single gram " ab ", which is also the only 4-gram. */
    uhn_text_config n5 = cfg, n4 = cfg;
    n5.n = 5, n4.n = 4;
    CHECK(encode(ctx, &n5, "ab", a) == UHN_OK && encode(ctx, &n4, "ab", b) == UHN_OK);
    CHECK_MSG(!memcmp(a, b, D * sizeof *a), "a caption shorter than n is not one gram");
    int nz = 0;
    for (int i = 0; i < D; ++i) nz += a[i] != 0;
    CHECK_MSG(nz == 1, "one gram filled %d buckets", nz);
    CHECK(encode(ctx, &cfg, "", a) == UHN_OK);
    CHECK_MSG(fabs(dot(a, a, D) - 1) < 1e-6, "the empty caption: norm^2 %.9g", dot(a, a, D));
    /* Invalid UTF-8 is refused, naming the caption's index (7 here). */
    static const char *invalid[] = {"ok\xff",           "\xc0\xaf", "\xed\xa0\x80", "x\xe2\x82",
                                    "\xf4\x90\x80\x80", "\x80",     "\xc3\x28"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; ++i) {
        check_context("invalid UTF-8 case %zu", i);
        CHECK(encode(ctx, &cfg, invalid[i], a) == UHN_EINPUT);
        CHECK_MSG(strstr(ctx->msg, "caption 7") != NULL, "message: %s", ctx->msg);
        CHECK(uhn_text_check_caption(ctx, invalid[i], strlen(invalid[i]), 3) == UHN_EINPUT);
    }
    check_context("%s", "");
    CHECK(uhn_text_check_caption(ctx, "\xf0\x9f\x98\x80 \xe2\x82\xac", 8, 0) == UHN_OK);
    /* Unrelated captions are nearly orthogonal. 40 captions of 20-40 random
     * letters and spaces have 22-42 grams each, hardly any shared (27^3 =
     * 19683 trigrams); bucket collisions give a cosine of spread about
     * 1/sqrt(D) = 0.031 between two of them, so |cos| < 0.3 is about ten
     * standard deviations over 780 pairs. */
    float *codes = malloc((size_t)NCAP * D * sizeof *codes);
    uint64_t state = 12345;
    for (int c = 0; c < NCAP; ++c) {
        char s[48];
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int len = 20 + (int)((state >> 33) % 21);
        for (int i = 0; i < len; ++i) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            s[i] = "abcdefghijklmnopqrstuvwxyz "[(state >> 33) % 27];
        }
        s[len] = '\0';
        CHECK(encode(ctx, &cfg, s, codes + (size_t)c * D) == UHN_OK);
    }
    double worst = 0;
    for (int i = 0; i < NCAP; ++i)
        for (int j = i + 1; j < NCAP; ++j) {
            double cs = fabs(dot(codes + (size_t)i * D, codes + (size_t)j * D, D));
            if (cs > worst) worst = cs;
        }
    CHECK_MSG(worst < 0.3, "largest |cos| between unrelated captions %.3f", worst);
    /* Configuration errors name the parameter. */
    uhn_text_config bad1 = {"ngram", 0, 0, 0, 0, 0}, bad2 = {"ngram", 5, 5, 1, 8, 0},
                    bad3 = {"words", 0, 0, 0, 8, 0}, bad4 = {"ngram", 0, 0, 0, 8, -1};
    CHECK(uhn_text_check(ctx, &bad1) == UHN_EINPUT && !strcmp(ctx->param, "dim"));
    CHECK(uhn_text_check(ctx, &bad2) == UHN_EINPUT && !strcmp(ctx->param, "shape"));
    CHECK(uhn_text_check(ctx, &bad3) == UHN_EINPUT && !strcmp(ctx->param, "method"));
    CHECK(uhn_text_check(ctx, &bad4) == UHN_EINPUT && !strcmp(ctx->param, "n"));
    free(codes);
    free(a);
    free(b);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    test_sha256();
    test_pixel(ctx);
    test_ngram(ctx);
    int rc = check_finish_mpi(ctx->comm, "test_text");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
