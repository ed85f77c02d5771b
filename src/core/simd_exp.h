/*
 * Private: a vectorised exponential in float32, for the softmax weights of the
 * fast kernel (a libm expf per kept weight, with the loop around it scalar,
 * was a fifth of a one-step recall of 1000 Fashion-MNIST queries at beta = 1,
 * where 30 % of all weights are kept). Header only, so that the kernel inlines
 * it.
 *
 * Method (Cody-Waite, as Cephes' expf): n = round(x log2 e), r = x - n ln 2
 * with ln 2 split in two so that n ln2_hi is exact (|r| <= ln2 / 2 + tiny),
 *   e^r = 1 + r + r^2 P(r),
 * P of degree 5 with Cephes' coefficients, then 2^n by scalef, which rounds a
 * result below FLT_MIN correctly to a denormal or 0 instead of wrapping.
 * Max error against the correctly rounded e^x: 1.01 ulp for normal results,
 * 0.75 of a denormal step below FLT_MIN (test_sim_kernels checks a sweep of
 * every third float of [-104, 89]); e^0 = 1 exactly. x < -103.9 gives 0,
 * x > 88.73 gives +inf, NaN gives NaN.
 */
#ifndef UHN_CORE_SIMD_EXP_H
#define UHN_CORE_SIMD_EXP_H

#include <math.h>

#ifdef __AVX512F__
#include <immintrin.h>

#define UHN_EXP_P0     5.0000001201e-1f
#define UHN_EXP_P1     1.6666665459e-1f
#define UHN_EXP_P2     4.1665795894e-2f
#define UHN_EXP_P3     8.3334519073e-3f
#define UHN_EXP_P4     1.3981999507e-3f
#define UHN_EXP_P5     1.9875691500e-4f
#define UHN_EXP_LN2_HI 0.693359375f /* 8 significant bits: n ln2_hi is exact */
#define UHN_EXP_LN2_LO -2.12194440e-4f

/* e^x of 16 floats (see the file comment); 12 vector operations. */
static inline __m512 uhn_exp16(__m512 x) {
    /* Clamp so that n stays in scalef's useful range; the ends give 0 and inf.
     * (min and max return their second operand when one is NaN: NaN passes.) */
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(UHN_EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(UHN_EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(UHN_EXP_P5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(UHN_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(UHN_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(UHN_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(UHN_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(UHN_EXP_P0));
    const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r), _mm512_set1_ps(1));
    return _mm512_scalef_ps(e, n);
}
#endif

#endif
