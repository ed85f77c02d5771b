/*
 * Text encoders of cross-stimulus memories (spec §13): a caption (UTF-8 bytes)
 * becomes a vector, one caption at a time, so that `uhn encode text` and the
 * studies call the same code per row.
 *
 * The methods are one table (src/encoders/text.c), looked up by name:
 *
 *   pixel   the SHA-256 digest of the caption's bytes, as 64 lowercase hex
 *           characters, drawn into an H x W x C image (row-major H, W, C) with
 *           the fixed bitmap font below; D = H·W·C
 *   ngram   the caption, ASCII A-Z lower-cased and one space added at each
 *           end, cut into n-grams of code points; each adds ±1 to one of D
 *           buckets (bucket and sign from SHA-256 of its UTF-8 bytes); the
 *           vector is divided by its L2 norm (a zero vector stays zero)
 *
 * Conventions, exactly (a reimplementation elsewhere must match bit for bit):
 *
 *   Hash. SHA-256 (FIPS 180-4) from Nettle. Hex digits are lowercase.
 *
 *   Font. Glyphs of 3 columns x 5 rows for 0-9 and a-f (the table `font` in
 *   text.c, one 3-bit row per entry, bit 2 the leftmost column). Each
 *   character owns a cell of 4 columns x 6 rows: the glyph at the cell's
 *   top-left, a 1-pixel gap to its right and below. Character k of the digest
 *   goes to cell (row k / cols, column k % cols) with cols = (W + 1) / 4 and
 *   rows = (H + 1) / 6 (the last cell needs no gap), so its glyph's top-left
 *   pixel is (6·(k / cols), 4·(k % cols)). The first min(64, cols·rows)
 *   characters are drawn; glyph pixels are 1.0 in every channel, all else 0.
 *   For 28 x 28: 7 characters per row, 4 rows, 28 characters. An image needs
 *   H >= 5 and W >= 3 for one character.
 *
 *   N-grams. The caption must be valid UTF-8 (RFC 3629: no overlong forms, no
 *   surrogates, nothing above U+10FFFF); only bytes 'A'-'Z' are lower-cased.
 *   The padded string of m code points (m >= 2) gives the m - n + 1 grams of n
 *   consecutive code points; when m < n it gives one gram, the whole padded
 *   string. For each gram, h = SHA-256 of its UTF-8 bytes: bucket = (h[0..7]
 *   read as a big-endian uint64) mod D, sign = +1 when the lowest bit of h[8]
 *   is 0, else -1. Sums and the norm are in double; the result is rounded
 *   once to float32.
 *
 * Messages about a parameter are made with uhn_fail_param and name it
 * (`method`, `shape`, `dim`, `n`); a front end relabels them with its flag.
 * Nothing here is collective.
 */
#ifndef UHN_TEXT_H
#define UHN_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "uhn/context.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UHN_TEXT_HEX_LEN 64 /* characters of a SHA-256 digest in hex */
#define UHN_TEXT_GLYPH_W 3  /* font: glyph columns */
#define UHN_TEXT_GLYPH_H 5  /* font: glyph rows */
#define UHN_TEXT_CELL_W  4  /* font: columns per character (1-pixel gap) */
#define UHN_TEXT_CELL_H  6  /* font: rows per character (1-pixel gap) */
#define UHN_TEXT_NGRAM_N 3  /* default n of the ngram method */

/* What a text encoder is asked to be. */
typedef struct uhn_text_config {
    const char *method;              /* a table name; not owned */
    int64_t height, width, channels; /* pixel: the image shape (required) */
    int64_t dim;                     /* ngram: D (required); pixel: 0 or H·W·C */
    int64_t n;                       /* ngram: the gram length; 0 means UHN_TEXT_NGRAM_N */
} uhn_text_config;

/* The table: count, names and one-line descriptions. name_at returns NULL out
 * of range. */
int uhn_text_method_count(void);
const char *uhn_text_method_name_at(int i);
const char *uhn_text_method_help_at(int i);

/*
 * Checks a configuration: a known method; pixel: a shape with every extent
 * >= 1 that holds one character (H >= 5, W >= 3), H·W·C < 2^31, dim 0 or
 * H·W·C, no n; ngram: 1 <= dim < 2^31, n >= 0 (0: the default), no shape.
 * UHN_EINPUT about the parameter ("method", "shape", "dim", "n").
 */
int uhn_text_check(uhn_ctx *ctx, const uhn_text_config *cfg);

/* The code length D of a checked configuration. */
int64_t uhn_text_dim(const uhn_text_config *cfg);

/* 1 when the method draws a digest (pixel), 0 otherwise. */
int uhn_text_has_digest(const uhn_text_config *cfg);

/* Writes the SHA-256 digest of data[0..len) as 64 lowercase hex characters and
 * a NUL into hex (65 chars, owned by the caller). */
void uhn_text_sha256_hex(const void *data, size_t len, char hex[UHN_TEXT_HEX_LEN + 1]);

/* UHN_EINPUT ("caption INDEX is not valid UTF-8 (byte B: ...)") unless
 * caption[0..len) is valid UTF-8. */
int uhn_text_check_caption(uhn_ctx *ctx, const char *caption, size_t len, int64_t index);

/*
 * Encodes one caption (len bytes, need not be NUL-terminated) of a checked
 * configuration into out[uhn_text_dim(cfg)] (owned by the caller). For pixel,
 * digest (65 chars, may be NULL) receives the hex string drawn; for ngram it
 * is left alone. `index` names the caption in messages. Errors: invalid UTF-8
 * (UHN_EINPUT), out of memory (UHN_ENOMEM).
 */
int uhn_text_encode(uhn_ctx *ctx, const uhn_text_config *cfg, const char *caption, size_t len,
                    int64_t index, float *out, char *digest);

#ifdef __cplusplus
}
#endif
#endif
