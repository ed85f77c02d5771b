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
