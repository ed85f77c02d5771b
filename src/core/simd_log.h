/*
 * Private: a vectorised natural logarithm in float32, for the divergence
 * kernels (a libm logf per memory x query x coordinate made Jensen-Shannon
 * ~50x slower than KL). Header only, so that the kernels inline it.
 *
 * Method: x = m 2^e with m in [0.75, 1.5) (Sterbenz: f = m - 1 is exact), then
 *   ln x = e ln2 + ln(1 + f),  ln(1 + f) = f + f^2 P(f),
 * P of degree 7, the minimax fit (Remez, weighted for the relative error of
 * ln(1 + f): 0.47 ulp in exact arithmetic) of (ln(1 + f) - f) / f^2 on
 * [-0.25, 0.5], evaluated by Horner. On Zen 5 the two FMA pipes bound it (10
 * multiply-adds of 15 operations per 16 floats); degree 8 would cost one more
 * for 0.08 ulp.
 * Max error over every positive float: 1.108 ulp (1.211 for the portable form
 * compiled without FMA; test_sim_kernels checks a dense sweep).
 *
 * Special values as libm: ln 0 = -inf, ln(+inf) = +inf, ln(x < 0) = NaN,
 * NaN -> NaN; denormals are exact inputs (AVX-512 getexp/getmant handle them;
 * the portable form scales them up first).
 */
#ifndef UHN_CORE_SIMD_LOG_H
#define UHN_CORE_SIMD_LOG_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define UHN_LOG_P0 -5.000006065e-01f
#define UHN_LOG_P1 3.333354855e-01f
#define UHN_LOG_P2 -2.499344228e-01f
#define UHN_LOG_P3 1.997707729e-01f
#define UHN_LOG_P4 -1.682281130e-01f
#define UHN_LOG_P5 1.498391582e-01f
#define UHN_LOG_P6 -1.206736927e-01f
#define UHN_LOG_P7 5.413249702e-02f
/* float(ln 2): e ln 2 in one FMA. Its error, e (ln 2 - UHN_LN2) = 1.9e-9 e, is
 * under 0.1 ulp of the result even where e = +-1 partly cancels ln(1 + f). */
#define UHN_LN2 0.693147182464599609375f

/* ln(1 + f) for f in [-0.25, 0.5], plus e ln 2: the tail of the portable form. */
static inline float uhn_log_tail_(float f, float e) {
    float p = UHN_LOG_P7;
    p = p * f + UHN_LOG_P6;
    p = p * f + UHN_LOG_P5;
    p = p * f + UHN_LOG_P4;
    p = p * f + UHN_LOG_P3;
    p = p * f + UHN_LOG_P2;
    p = p * f + UHN_LOG_P1;
    p = p * f + UHN_LOG_P0;
    float r = fmaf(f * f, p, f);
    return fmaf(e, UHN_LN2, r);
}

/*
 * ln x, portable and branch-free in its common path so that `#pragma omp simd`
 * loops vectorise it. Same polynomial as the AVX-512 form (same results up to
 * the contraction of f * f).
 */
static inline float uhn_logf(float x) {
    if (!(x > 0) || x == INFINITY) /* 0, negatives, NaN, +inf */
        return x == 0 ? -INFINITY : (x == INFINITY ? x : NAN);
    float e0 = 0;
    if (x < FLT_MIN) {   /* denormal: scale into the normal range */
        x *= 8388608.0f; /* 2^23 */
        e0 = -23;
    }
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    /* Exponent and mantissa in [1, 2); mantissas >= 1.5 move to [0.75, 1). */
    int32_t e = (int32_t)(u >> 23) - 127;
    uint32_t mu = (u & 0x007fffffu) | 0x3f800000u;
    if (mu >= 0x3fc00000u) { /* m >= 1.5 */
        mu -= 0x00800000u;
        e += 1;
    }
    float m;
    memcpy(&m, &mu, sizeof m);
    return uhn_log_tail_(m - 1.0f, (float)e + e0);
}

#ifdef __AVX512F__
/* ln x of 16 floats (see the file comment); 15 vector operations. */
static inline __m512 uhn_log16(__m512 x) {
    /* m in [0.75, 1.5), NaN for x < 0; getmant(0) = 0 and getexp(0) = -inf,
     * so ln 0 = -inf falls out. */
    const __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_nan);
    /* x = m 2^e: getexp(x) is floor(log2 x); getexp(m) is -1 when m < 1. */
    const __m512 e = _mm512_sub_ps(_mm512_getexp_ps(x), _mm512_getexp_ps(m));
    const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
    __m512 p = _mm512_set1_ps(UHN_LOG_P7);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P6));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(UHN_LOG_P0));
    const __m512 r = _mm512_fmadd_ps(_mm512_mul_ps(f, f), p, f);
    return _mm512_fmadd_ps(e, _mm512_set1_ps(UHN_LN2), r);
}
#endif

/* out[i] = ln in[i] for n floats (in and out may alias). */
static inline void uhn_log_array(const float *in, float *out, int64_t n) {
#ifdef __AVX512F__
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, uhn_log16(_mm512_loadu_ps(in + i)));
    if (i < n) {
        const __mmask16 t = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(out + i, t, uhn_log16(_mm512_maskz_loadu_ps(t, in + i)));
    }
#else
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = uhn_logf(in[i]);
#endif
}

#endif
