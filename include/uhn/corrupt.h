/*
 * Corruptions of queries for capacity studies (issue 3).
 *
 * Each corruption is one table entry looked up by the name a deck uses:
 * `none`, `gaussian` (variance), `mask_top` (fraction of rows), `random_pixels`
 * (probability) and `inpaint` (border width). Images are row-major [H][W][C]
 * floats in [0, 1] of length K = H*W*C. A corruption writes the corrupted image
 * and the mask of known coordinates (1 = known, 0 = zeroed), which is the clamp
 * set and the cue set C of spec §1 and §5.
 *
 * Randomness comes only from uhn_rng keyed by (seed, the corruption's stream,
 * index = trial * 2^32 + query, counter = coordinate or pixel index), so a
 * corrupted query is the same on any number of ranks and threads.
 */
#ifndef UHN_CORRUPT_H
#define UHN_CORRUPT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Random streams of the corruptions (ASCII tags), public so tests can redraw
 * the numbers independently. */
enum {
    UHN_STREAM_GAUSSIAN = 0x63676175u /* "cgau" */,
    UHN_STREAM_PIXELS = 0x63706978u /* "cpix" */
};

typedef struct uhn_corruption uhn_corruption; /* opaque table entry */

/* Looks a corruption up by name; NULL when unknown. Not collective. */
const uhn_corruption *uhn_corruption_find(const char *name);
/* The table, for --help and for listing names in error messages. */
int uhn_corruption_count(void);
const uhn_corruption *uhn_corruption_at(int i);
const char *uhn_corruption_name(const uhn_corruption *c);
/* The parameter's name ("variance", "fraction", "probability", "width"; NULL
 * for `none`) and a one-line description of the corruption. */
const char *uhn_corruption_param_name(const uhn_corruption *c);
const char *uhn_corruption_help(const uhn_corruption *c);

/*
 * Checks a parameter for an H x W image: returns NULL when valid, else a static
 * string saying what is required (the caller names the deck key and value).
 * `none` accepts any value. Not collective.
 */
const char *uhn_corruption_param_check(const uhn_corruption *c, double param, int64_t H, int64_t W);

/* The rng index of (trial, query): trial * 2^32 + query (0 <= query < 2^32). */
uint64_t uhn_corruption_index(int64_t trial, int64_t query);

/*
 * Corrupts one image: out[K] gets the corrupted image and known[K] the mask of
 * known coordinates (1 = known). image, out and known are owned by the caller;
 * out may equal image. param must have passed uhn_corruption_param_check.
 * Deterministic in (seed, trial, query). Not collective; thread-safe.
 */
void uhn_corrupt(const uhn_corruption *c, double param, uint64_t seed, int64_t trial, int64_t query,
                 int64_t H, int64_t W, int64_t C, const float *image, float *out, uint8_t *known);

#ifdef __cplusplus
}
#endif
#endif
