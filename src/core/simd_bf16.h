/*
 * Private: bf16 dot products for screening similarity scores. Rows and queries
 * are rounded once to bf16 (uhn_bf16_rows) and their dot products taken with
 * AVX512_BF16 (uhn_bf16_dots) at twice the float32 FMA rate; the scores are
 * approximate, with the rigorous error bound uhn_bf16_bound, so that a caller
 * can discard rows that cannot qualify and recompute the exact float32 score
 * only for the rest.
 *
 * Semantics (Intel SDM, VCVTNE2PS2BF16 and VDPBF16PS; both ignore MXCSR and
 * raise no exceptions):
 *  - the conversion rounds to nearest, ties to even, to 8 significant bits
 *    (unit roundoff u = 2^-8); float32 denormal inputs become zeros of the
 *    same sign; values within half a bf16 ulp of FLT_MAX round to infinity;
 *    NaNs stay (quiet) NaNs;
 *  - the dot product multiplies bf16 pairs (exact in float32: 8 x 8 bits) and
 *    adds them into float32 lanes two at a time, rounding to nearest even;
 *    denormal inputs are read as zero and denormal results flushed to zero.
 * The portable build (no AVX512_BF16) computes the same quantities in plain C
 * with the same conversion, but uhn_bf16_available() says 0 so that callers
 * do not screen with the slow path.
 *
 * The bound. With u = 2^-8, v = 2^-24 (float32), x~ and q~ the bf16 inputs:
 *  (1) |x~_k - x_k| <= u |x_k| + |x_k| [x_k denormal], |x_k| < 2^-126 there:
 *      the input rounding costs (2u + u^2) ||x|| ||q|| (Cauchy-Schwarz) plus
 *      2^-126 (||x||_1 + ||q||_1)(1 + u) for the flushed coordinates;
 *  (2) every term x~_k q~_k is exact and passes through at most
 *      m = Kp/16 + 4 <= K + 8 float32 roundings (Kp/32 instructions of two
 *      additions per lane, then a 4-level tree across the 16 lanes), so the
 *      accumulation costs gamma_m sum |x~_k q~_k| <= gamma_m (1+u)^2 ||x|| ||q||
 *      with gamma_m = m v / (1 - m v), plus 2^-126 for each of at most
 *      2 (K + 40) flushed products or sums;
 * so c = 2u + u^2 + (1+u)^2 gamma_{K+8}, rounded up (uhn_bf16_bound), and the
 * absolute term is 2^-126 ((1+u)(||x||_1 + ||q||_1) + 1.01 (2K + 80)) < 2^-64
 * = UHN_BF16_ABS whenever ||x||_1, ||q||_1 <= 2^60 and K <= 2^30 (which also
 * keeps every product and partial sum far from float32 overflow). Inputs
 * beyond that (or with NaN/Inf) are outside the bound. The norms are those of
 * the exact inputs: a caller using computed norms must allow for their error.
 */
#ifndef UHN_CORE_SIMD_BF16_H
#define UHN_CORE_SIMD_BF16_H

#include <stdint.h>

/* The absolute error term of uhn_bf16_bound: denormal flushing, valid for
 * ||x||_1, ||q||_1 <= 2^60 and K <= 2^30 (see above). */
#define UHN_BF16_ABS 0x1p-64

/* 1 when the bf16 kernel is compiled in (AVX512_BF16), else 0: the caller then
 * does not screen. */
int uhn_bf16_available(void);

/* K rounded up to the padding the kernel needs (a multiple of 32). */
int64_t uhn_bf16_pad(int64_t K);

/*
 * out (n x Kp, row-major, uint16 bf16 bits) = x (n rows of K floats, leading
 * dimension ldx) rounded to nearest-even bf16, zero-padded from K to Kp.
 * Kp must be a multiple of 32 and >= K (uhn_bf16_pad(K) will do). The caller
 * owns both arrays; they must not overlap. Not collective; single-threaded,
 * no shared state (threads may call it concurrently on different outputs).
 */
void uhn_bf16_rows(const float *x, int64_t n, int64_t K, int64_t ldx, uint16_t *out, int64_t Kp);

/*
 * S[j * lds + i] = sum_k X[i][k] * Q[j][k] for i < n, j < B: bf16 products
 * accumulated in float32, X (n x Kp) and Q (B x Kp) as written by
 * uhn_bf16_rows (Kp a multiple of 32, zero padding). lds >= n. The caller owns
 * all arrays. Not collective; single-threaded, no shared state.
 */
void uhn_bf16_dots(const uint16_t *X, int64_t n, const uint16_t *Q, int64_t B, int64_t Kp, float *S,
                   int64_t lds);

/*
 * The bound c such that |S_ij - x_i . q_j| <= c ||x_i||_2 ||q_j||_2 +
 * UHN_BF16_ABS for the float32 inputs x, q (K coordinates, before rounding):
 * covers the rounding of both inputs to bf16, the float32 accumulation in any
 * order and denormal flushing (derivation above). About 2^-7 + K 2^-24.
 */
double uhn_bf16_bound(int64_t K);

#endif
