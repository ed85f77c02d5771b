/*
 * Similarity functions s(x, q) of spec §1: larger means more alike.
 *
 * Each similarity is one entry of a table looked up by the name used on the
 * command line and in input decks. An entry carries its reference definition
 * (double precision, plain loops: the "obviously correct" kernel the tests and
 * the reference engine use) and the fast block kernel the engine uses.
 */
#ifndef UHN_SIMILARITY_H
#define UHN_SIMILARITY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of a similarity. */
enum {
    UHN_SIM_DISTANCE = 1u << 0, /* s = -d with d >= 0 (uhn score mode uses 1/d) */
    UHN_SIM_NONNEG = 1u << 1,   /* defined on non-negative data only (divergences) */
    UHN_SIM_GEMM = 1u << 2      /* computed from dot products with SGEMM */
};

/* Epsilon added to every coordinate before a vector is made a distribution. */
#define UHN_DIV_EPS 1e-6

typedef struct uhn_similarity uhn_similarity; /* opaque table entry */

/* The entry named `name`, or NULL. */
const uhn_similarity *uhn_similarity_find(const char *name);
/* Number of entries and the i-th entry (for listing names in --help). */
int uhn_similarity_count(void);
const uhn_similarity *uhn_similarity_at(int i);

const char *uhn_similarity_name(const uhn_similarity *sim);
unsigned uhn_similarity_flags(const uhn_similarity *sim);

/*
 * Reference s(x, q) in double precision over the K coordinates, or over the
 * coordinates k with mask[k] != 0 when mask is not NULL (cue-only similarity;
 * divergences then normalise over those coordinates). Not collective.
 */
double uhn_similarity_ref(const uhn_similarity *sim, const float *x, const float *q,
                          const uint8_t *mask, int64_t K);

#ifdef __cplusplus
}
#endif
#endif
