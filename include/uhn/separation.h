/*
 * Separation functions of spec §3: scores h_n -> weights w_n over the bank.
 *
 * Each separation is one table entry looked up by name. How an entry combines
 * partial results across threads and ranks is its `reduction kind` (see
 * reduce.h); the parameter (p, k or t) comes from --param.
 */
#ifndef UHN_SEPARATION_H
#define UHN_SEPARATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uhn_separation uhn_separation; /* opaque table entry */

const uhn_separation *uhn_separation_find(const char *name);
int uhn_separation_count(void);
const uhn_separation *uhn_separation_at(int i);
const char *uhn_separation_name(const uhn_separation *sep);

/* Whether the separation takes --param, its default, and a description of it
 * ("p", "k", "t" or NULL). */
const char *uhn_separation_param_name(const uhn_separation *sep);
double uhn_separation_param_default(const uhn_separation *sep);

/*
 * Checks a parameter value: returns NULL when valid, else a static string
 * saying what is required (e.g. "a positive integer"). Not collective.
 */
const char *uhn_separation_param_check(const uhn_separation *sep, double param);

/*
 * Reference weights over a whole score vector h[0..n) in double precision:
 * w[i] = g_i / sum g (or g_i when normalize == 0). Returns 1 when the weights
 * summed to 0 (w is then all 0: the `empty` case), -1 when a score violates the
 * domain of the rule (negative for identity/power, non-positive for log; *bad
 * is set to its index), 0 otherwise. Not collective.
 */
int uhn_separation_ref(const uhn_separation *sep, double param, int normalize, const double *h,
                       int64_t n, double *w, int64_t *bad);

#ifdef __cplusplus
}
#endif
#endif
