/*
 * Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * Every random number in uhn is a pure function of (seed, stream, index,
 * counter): a rank draws the numbers of its own global rows without any
 * communication, and results do not depend on the number of ranks or threads.
 * `stream` separates independent uses (synthetic data, corruption noise, trial
 * subsets), `index` is usually a global row or query index, `counter` numbers
 * the draws made for that index.
 */
#ifndef UHN_RNG_H
#define UHN_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Four independent 32-bit words for (seed, stream, index, counter). */
void uhn_philox4x32(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter,
                    uint32_t out[4]);

/* The most counters uhn_philox4x32_lanes draws in one call. */
#define UHN_PHILOX_LANES 64

/* uhn_philox4x32 of (seed, stream, index, counter0 + l) for the lanes
 * l = 0 .. lanes - 1 (1 <= lanes <= UHN_PHILOX_LANES): word j of lane l in
 * w[j][l], identical to what uhn_philox4x32 gives, in vector registers a
 * block of 16 lanes at a time. Lanes from `lanes` up to the next multiple of
 * 16 are written too. */
void uhn_philox4x32_lanes(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter0,
                          int lanes, uint32_t w[4][UHN_PHILOX_LANES]);

/* A 64-bit word. */
uint64_t uhn_rng_u64(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter);

/* Uniform double in [0, 1) with 53 random bits. */
double uhn_rng_uniform(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter);

/* Standard normal (Box-Muller on the two halves of one Philox block). */
double uhn_rng_normal(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter);

#ifdef __cplusplus
}
#endif
#endif
