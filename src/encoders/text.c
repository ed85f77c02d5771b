/*
 * Text encoders of cross-stimulus memories (spec §13; uhn/text.h states the
 * conventions exactly): `pixel` draws the caption's SHA-256 digest with a
 * bitmap font, `ngram` hashes its character n-grams into signed buckets.
 * SHA-256 is Nettle's: a vetted implementation, not one of our own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "uhn/text.h"

/* ------------------------------------------------------------------------ */
/* Hashing                                                                  */

static void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]) {
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, len, (const uint8_t *)data);
    sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

void uhn_text_sha256_hex(const void *data, size_t len, char hex[UHN_TEXT_HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    uint8_t h[SHA256_DIGEST_SIZE];
    sha256(data, len, h);
    for (int i = 0; i < SHA256_DIGEST_SIZE; ++i) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[UHN_TEXT_HEX_LEN] = '\0';
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */

/*
 * Length in bytes of the valid UTF-8 sequence at s[0..left) (RFC 3629), or 0
 * when it is invalid; *why then says what is wrong.
 */
static size_t utf8_step(const unsigned char *s, size_t left, const char **why) {
    unsigned char b = s[0];
    size_t n;
    uint32_t cp, min;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF)
        n = 2, cp = b & 0x1Fu, min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF)
        n = 3, cp = b & 0x0Fu, min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4)
        n = 4, cp = b & 0x07u, min = 0x10000;
    else {
        *why = b >= 0x80 && b <= 0xBF ? "a continuation byte with no lead byte"
                                      : "a byte that never occurs in UTF-8";
        return 0;
    }
    if (left < n) {
        *why = "an incomplete multi-byte sequence";
        return 0;
    }
    for (size_t i = 1; i < n; ++i) {
        if ((s[i] & 0xC0u) != 0x80u) {
            *why = "an incomplete multi-byte sequence";
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min)
        *why = "an overlong form";
    else if (cp >= 0xD800 && cp <= 0xDFFF)
        *why = "a surrogate (U+D800-U+DFFF)";
    else if (cp > 0x10FFFF)
        *why = "a code point above U+10FFFF";
    else
        return n;
    return 0;
}

int uhn_text_check_caption(uhn_ctx *ctx, const char *caption, size_t len, int64_t index) {
    const unsigned char *s = (const unsigned char *)caption;
    for (size_t i = 0; i < len;) {
        const char *why = "";
        size_t n = utf8_step(s + i, len - i, &why);
        if (!n)
            return uhn_fail(ctx, UHN_EINPUT, "caption %lld is not valid UTF-8 (byte %zu: %s)",
                            (long long)index, i, why);
        i += n;
    }
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* pixel                                                                    */

/*
 * The font: 3 x 5 glyphs of the hex digits, rows top to bottom, each row 3
 * bits with bit 2 the leftmost column. Drawn:
 *
 *   0   1   2   3   4   5   6   7   8   9   a   b   c   d   e   f
 *   ### .#. ### ### #.# ### ### ### ### ### ... #.. ... ..# .#. ..#
 *   #.# ##. ..# ..# #.# #.. #.. ..# #.# #.# .## ##. .## .## #.# .#.
 *   #.# .#. ### ### ### ### ### ..# ### ### #.# #.# #.. #.# ### ###
 *   #.# .#. #.. ..# ..# ..# #.# ..# #.# ..# #.# #.# #.. #.# #.. .#.
 *   ### ### ### ### ..# ### ### ..# ### ### .## ##. .## .## .## .#.
 */
static const uint8_t font[16][UHN_TEXT_GLYPH_H] = {
    {7, 5, 5, 5, 7}, /* 0 */
    {2, 6, 2, 2, 7}, /* 1 */
    {7, 1, 7, 4, 7}, /* 2 */
    {7, 1, 7, 1, 7}, /* 3 */
    {5, 5, 7, 1, 1}, /* 4 */
    {7, 4, 7, 1, 7}, /* 5 */
    {7, 4, 7, 5, 7}, /* 6 */
    {7, 1, 1, 1, 1}, /* 7 */
    {7, 5, 7, 5, 7}, /* 8 */
    {7, 5, 7, 1, 7}, /* 9 */
    {0, 3, 5, 5, 3}, /* a */
    {4, 6, 5, 5, 6}, /* b */
    {0, 3, 4, 4, 3}, /* c */
    {1, 3, 5, 5, 3}, /* d */
    {2, 5, 7, 4, 3}, /* e */
    {1, 2, 7, 2, 2}, /* f */
};

static int hex_value(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Draws hex (lowercase hex digits) into the zeroed image out[h][w][c]. */
static void draw_hex(const char *hex, size_t nchars, int64_t h, int64_t w, int64_t c, float *out) {
    int64_t cols = (w + 1) / UHN_TEXT_CELL_W, rows = (h + 1) / UHN_TEXT_CELL_H;
    int64_t fit = cols * rows < (int64_t)nchars ? cols * rows : (int64_t)nchars;
    for (int64_t k = 0; k < fit; ++k) {
        const uint8_t *g = font[hex_value(hex[k])];
        int64_t top = UHN_TEXT_CELL_H * (k / cols), left = UHN_TEXT_CELL_W * (k % cols);
        for (int y = 0; y < UHN_TEXT_GLYPH_H; ++y)
            for (int x = 0; x < UHN_TEXT_GLYPH_W; ++x) {
                if (!((g[y] >> (UHN_TEXT_GLYPH_W - 1 - x)) & 1u)) continue;
                float *px = out + ((top + y) * w + left + x) * c;
                for (int64_t ch = 0; ch < c; ++ch) px[ch] = 1.0f;
            }
    }
}

static int encode_pixel(uhn_ctx *ctx, const uhn_text_config *cfg, const char *caption, size_t len,
                        float *out, char *digest) {
    (void)ctx;
    char hex[UHN_TEXT_HEX_LEN + 1];
    uhn_text_sha256_hex(caption, len, hex);
    memset(out, 0, (size_t)uhn_text_dim(cfg) * sizeof *out);
    draw_hex(hex, UHN_TEXT_HEX_LEN, cfg->height, cfg->width, cfg->channels, out);
    if (digest) memcpy(digest, hex, sizeof hex);
    return UHN_OK;
}

static int check_pixel(uhn_ctx *ctx, const uhn_text_config *cfg) {
    int64_t h = cfg->height, w = cfg->width, c = cfg->channels;
    if (h <= 0 && w <= 0 && c <= 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "shape",
                              "shape H,W,C is required for method pixel (the image the digest "
                              "is drawn into)");
    if (h <= 0 || w <= 0 || c <= 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "shape",
                              "shape %lld,%lld,%lld must have every extent >= 1", (long long)h,
                              (long long)w, (long long)c);
    if (h < UHN_TEXT_GLYPH_H || w < UHN_TEXT_GLYPH_W)
        return uhn_fail_param(ctx, UHN_EINPUT, "shape",
                              "shape %lld,%lld,%lld holds no character: the font's glyphs are "
                              "%d wide and %d tall, so H >= %d and W >= %d are needed",
                              (long long)h, (long long)w, (long long)c, UHN_TEXT_GLYPH_W,
                              UHN_TEXT_GLYPH_H, UHN_TEXT_GLYPH_H, UHN_TEXT_GLYPH_W);
    if (h > INT32_MAX / w || h * w > INT32_MAX / c)
        return uhn_fail_param(ctx, UHN_EINPUT, "shape",
                              "shape %lld,%lld,%lld has H*W*C >= 2^31 pixels", (long long)h,
                              (long long)w, (long long)c);
    if (cfg->dim != 0 && cfg->dim != h * w * c)
        return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                              "dim %lld must be H*W*C = %lld for method pixel (or not given)",
                              (long long)cfg->dim, (long long)(h * w * c));
    if (cfg->n != 0) return uhn_fail_param(ctx, UHN_EINPUT, "n", "n applies only to method ngram");
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* ngram                                                                    */

/* Adds ±1 for the gram s[0..len) to acc[dim]. */
static void add_gram(const char *s, size_t len, int64_t dim, double *acc) {
    uint8_t h[SHA256_DIGEST_SIZE];
    sha256(s, len, h);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | h[i];
    acc[v % (uint64_t)dim] += (h[8] & 1u) ? -1.0 : 1.0;
}

static int encode_ngram(uhn_ctx *ctx, const uhn_text_config *cfg, const char *caption, size_t len,
                        float *out, char *digest) {
    (void)digest;
    int64_t dim = cfg->dim, n = cfg->n > 0 ? cfg->n : UHN_TEXT_NGRAM_N;
    char *pad = malloc(len + 2);
    size_t *start = malloc((len + 3) * sizeof *start); /* code point offsets, and the end */
    double *acc = calloc((size_t)dim, sizeof *acc);
    if (!pad || !start || !acc) {
        free(pad), free(start), free(acc);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for a caption of %zu bytes", len);
    }
    pad[0] = ' ';
    for (size_t i = 0; i < len; ++i)
        pad[i + 1] =
            caption[i] >= 'A' && caption[i] <= 'Z' ? (char)(caption[i] - 'A' + 'a') : caption[i];
    pad[len + 1] = ' ';
    size_t m = 0, total = len + 2;
    for (size_t i = 0; i < total; ++m) {
        const char *why = "";
        size_t step = utf8_step((const unsigned char *)pad + i, total - i, &why);
        start[m] = i;
        i += step ? step : 1; /* the caller checked the caption; never 0 here */
    }
    start[m] = total;
    if ((int64_t)m < n)
        add_gram(pad, total, dim, acc);
    else
        for (size_t g = 0; g + (size_t)n <= m; ++g)
            add_gram(pad + start[g], start[g + (size_t)n] - start[g], dim, acc);
    double ss = 0;
    for (int64_t d = 0; d < dim; ++d) ss += acc[d] * acc[d];
    double norm = sqrt(ss);
    for (int64_t d = 0; d < dim; ++d) out[d] = norm > 0 ? (float)(acc[d] / norm) : 0.0f;
    free(pad), free(start), free(acc);
    return UHN_OK;
}

static int check_ngram(uhn_ctx *ctx, const uhn_text_config *cfg) {
    if (cfg->height != 0 || cfg->width != 0 || cfg->channels != 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "shape", "shape applies only to method pixel");
    if (cfg->dim <= 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                              "dim D (the number of buckets) is required for method ngram");
    if (cfg->dim > INT32_MAX)
        return uhn_fail_param(ctx, UHN_EINPUT, "dim", "dim %lld must be < 2^31",
                              (long long)cfg->dim);
    if (cfg->n < 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "n", "n %lld must be >= 1", (long long)cfg->n);
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */

typedef struct text_method {
    const char *name, *help;
    int has_digest;
    int (*check)(uhn_ctx *, const uhn_text_config *);
    int (*encode)(uhn_ctx *, const uhn_text_config *, const char *, size_t, float *, char *);
} text_method;

static const text_method methods[] = {
    {"pixel",
     "the SHA-256 digest of the caption, 64 hex characters, drawn into an H x W x C image with "
     "a 3x5 bitmap font (4x6 cells); D = H*W*C",
     1, check_pixel, encode_pixel},
    {"ngram",
     "signed hashed character n-grams of the lower-cased, space-padded caption into D buckets, "
     "L2-normalised",
     0, check_ngram, encode_ngram},
};
enum { NMETHODS = (int)(sizeof methods / sizeof methods[0]) };

static const text_method *find(const char *name) {
    for (int i = 0; name && i < NMETHODS; ++i)
        if (!strcmp(methods[i].name, name)) return &methods[i];
    return NULL;
}

int uhn_text_method_count(void) {
    return NMETHODS;
}

const char *uhn_text_method_name_at(int i) {
    return i >= 0 && i < NMETHODS ? methods[i].name : NULL;
}

const char *uhn_text_method_help_at(int i) {
    return i >= 0 && i < NMETHODS ? methods[i].help : NULL;
}

int uhn_text_check(uhn_ctx *ctx, const uhn_text_config *cfg) {
    const text_method *m = find(cfg->method);
    if (!m)
        return uhn_fail_param(ctx, UHN_EINPUT, "method",
                              "method '%s' is not a text encoder (valid: pixel, ngram)",
                              cfg->method ? cfg->method : "");
    return m->check(ctx, cfg);
}

int64_t uhn_text_dim(const uhn_text_config *cfg) {
    const text_method *m = find(cfg->method);
    if (!m) return 0;
    return m->has_digest ? cfg->height * cfg->width * cfg->channels : cfg->dim;
}

int uhn_text_has_digest(const uhn_text_config *cfg) {
    const text_method *m = find(cfg->method);
    return m ? m->has_digest : 0;
}

int uhn_text_encode(uhn_ctx *ctx, const uhn_text_config *cfg, const char *caption, size_t len,
                    int64_t index, float *out, char *digest) {
    const text_method *m = find(cfg->method);
    if (!m) return uhn_fail(ctx, UHN_EINTERNAL, "unchecked text encoder configuration");
    UHN_CALL(uhn_text_check_caption(ctx, caption, len, index));
    return m->encode(ctx, cfg, caption, len, out, digest);
}
