/*
 * Private: group sums for a coarser screen of similarity scores. A row x of K
 * coordinates, zero-padded to a multiple of 16, is cut into groups of g
 * consecutive coordinates (g = 1, 2, 4, 8 or 16). Its pooled coordinates
 *
 *     p_m(x) = (sum of group m) / sqrt(g),   m = 0 .. d-1,  d = pad16(K) / g,
 *
 * are its coordinates in the orthonormal basis of group-constant vectors, and
 * r(x) = x - (its projection on that basis) is the rest, orthogonal to it. So
 * for any two rows, exactly,
 *
 *     x . q = p(x) . p(q) + r(x) . r(q),   |r(x) . r(q)| <= ||r(x)|| ||r(q)||,
 *
 * and a dot product of d = K / g coordinates with the residual norms bounds the
 * full one. The zero padding changes neither x . q nor the identity (both rows
 * are padded alike). On images, neighbouring pixels are alike and ||r|| is a
 * small part of ||x||: the screen of a final state (kernel_fast.c) then keeps
 * a fraction of a percent of the rows at g = 16 for 1/16 of the work.
 *
 * Rounding (float32, unit roundoff v = 2^-24): a group sum takes at most 4
 * additions and one multiplication (1/sqrt(g), exact for g = 1, 4, 16), so
 * every computed p_m is within 6v |group|_1 / sqrt(g) of the exact one; the
 * norms are sums of at most pad16(K) / 16 + 4 float32 roundings per lane and a
 * square root. uhn_pool_slack gives a relative allowance for both.
 */
#ifndef UHN_CORE_SIMD_POOL_H
#define UHN_CORE_SIMD_POOL_H

#include <stdint.h>

/* Largest group: one AVX-512 vector of coordinates. */
#define UHN_POOL_GMAX 16

/* d = pad16(K) / g: the pooled length of a row of K coordinates. */
int64_t uhn_pool_len(int64_t K, int g);

/*
 * For each of n rows x (K floats, leading dimension ldx): P[i * ldp + m] =
 * p_m(x_i) for m < d, PN[i] = ||p(x_i)||, R[i] = ||r(x_i)|| (see above), all
 * computed in float32. g must be 1, 2, 4, 8 or 16 and ldp >= d. Returns d.
 * Single-threaded, no shared state; the caller owns every array.
 */
int64_t uhn_pool_rows(const float *x, int64_t n, int64_t K, int64_t ldx, int g, float *P,
                      int64_t ldp, float *PN, float *R);

/* PN[i] = ||x_i|| and R[i] = 0 (the norms of g = 1) for n rows of K floats. */
void uhn_pool_norms(const float *x, int64_t n, int64_t K, int64_t ldx, float *PN, float *R);

/* A relative allowance eta(K) for the computed norms and coordinates: with
 * PN~, R~ computed by uhn_pool_rows,
 *   ||p(x)|| <= (1 + eta) PN~,  ||r(x)|| <= (1 + eta) R~ + eta ||x||,
 *   ||p~(x) - p(x)|| <= eta ||x||. */
double uhn_pool_slack(int64_t K);

#endif
