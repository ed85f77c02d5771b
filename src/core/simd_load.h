/*
 * Private: the load of 16 consecutive floats x[k .. k + 16) of an array of n,
 * zeros beyond n. A plain load whenever the 16 are all inside: an AVX-512
 * masked load in every iteration ran a loop over rows streamed from memory 3x
 * slower on Zen 5 (pooling 60,000 Fashion-MNIST rows: 21-27 -> 6 ms), so only
 * a row's last, partial vector is masked. Header only, for inlining.
 */
#ifndef UHN_CORE_SIMD_LOAD_H
#define UHN_CORE_SIMD_LOAD_H

#ifdef __AVX512F__
#include <immintrin.h>
#include <stdint.h>

static inline __m512 uhn_load16(const float *x, int64_t k, int64_t n) {
    if (k + 16 <= n) return _mm512_loadu_ps(x + k);
    if (k >= n) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps((__mmask16)((1u << (n - k)) - 1), x + k);
}
#endif

#endif
