/*
 * Group sums for the pooled screen (simd_pool.h). One AVX-512 vector holds 16
 * consecutive coordinates; a butterfly of in-register shuffles (adjacent
 * lanes, pairs, 128-bit quarters, halves) leaves every lane with the sum of
 * its group, so that the group mean, the residual and its square follow
 * lane-wise, and one compress writes the d / (pad16(K) / 16) pooled
 * coordinates of the vector. The portable path does the same in plain C.
 */
#include "core/simd_pool.h"
#include "core/simd_load.h"

#include <math.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

int64_t uhn_pool_len(int64_t K, int g) {
    return (K + 15) / 16 * (16 / g);
}

double uhn_pool_slack(int64_t K) {
    /* Lane sums of at most pad16(K)/16 + 4 terms (gamma_m), a square root, the
     * group sums' 6v, doubled for the cross terms: far above the rounding. */
    const double m = (double)((K + 15) / 16) + 8;
    return 4 * (m + 8) * 0x1p-24 + 1e-6;
}

#ifdef __AVX512F__
/* Every lane gets the sum of its group of g lanes. */
static inline __m512 group_sums(__m512 v, int g) {
    if (g >= 2) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));        /* lanes 1 0 3 2 */
    if (g >= 4) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));        /* lanes 2 3 0 1 */
    if (g >= 8) v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));  /* quarters 1 0 3 2 */
    if (g >= 16) v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E)); /* halves */
    return v;
}

/* The first lane of every group. */
static inline __mmask16 group_heads(int g) {
    __mmask16 m = 0;
    for (int l = 0; l < 16; l += g) m |= (__mmask16)(1u << l);
    return m;
}
#endif

int64_t uhn_pool_rows(const float *x, int64_t n, int64_t K, int64_t ldx, int g, float *P,
                      int64_t ldp, float *PN, float *R) {
    const int64_t d = uhn_pool_len(K, g);
    const float inv_g = 1.0f / (float)g, inv_sqrt = (float)(1.0 / sqrt((double)g));
    for (int64_t i = 0; i < n; ++i) {
        const float *xi = x + i * ldx;
        float *pi = P + i * ldp;
        int64_t k = 0, m = 0;
        double pn = 0, rn = 0;
#ifdef __AVX512F__
        const __mmask16 heads = group_heads(g);
        __m512 sp = _mm512_setzero_ps(), sr = _mm512_setzero_ps();
        for (; k < K; k += 16) {
            const __m512 v = uhn_load16(xi, k, K); /* plain but in the last vector */
            const __m512 s = group_sums(v, g);
            const __m512 r = _mm512_sub_ps(v, _mm512_mul_ps(s, _mm512_set1_ps(inv_g)));
            const __m512 p = _mm512_maskz_mul_ps(heads, s, _mm512_set1_ps(inv_sqrt));
            sr = _mm512_fmadd_ps(r, r, sr);
            sp = _mm512_fmadd_ps(p, p, sp);
            /* compress in a register: the memory form is microcoded on Zen */
            _mm512_mask_storeu_ps(pi + m, (__mmask16)((1u << (16 / g)) - 1),
                                  _mm512_maskz_compress_ps(heads, p));
            m += 16 / g;
        }
        pn = _mm512_reduce_add_ps(sp), rn = _mm512_reduce_add_ps(sr);
#else
        for (; k < (K + 15) / 16 * 16; k += g, ++m) {
            float s = 0;
            for (int l = 0; l < g; ++l) s += k + l < K ? xi[k + l] : 0.0f;
            const float p = s * inv_sqrt, mean = s * inv_g;
            pi[m] = p;
            pn += (double)p * p;
            for (int l = 0; l < g; ++l) {
                const float r = (k + l < K ? xi[k + l] : 0.0f) - mean;
                rn += (double)r * r;
            }
        }
#endif
        PN[i] = sqrtf((float)pn);
        R[i] = sqrtf((float)rn);
    }
    return d;
}

void uhn_pool_norms(const float *x, int64_t n, int64_t K, int64_t ldx, float *PN, float *R) {
    for (int64_t i = 0; i < n; ++i) {
        const float *xi = x + i * ldx;
        double s = 0; /* in double: within the allowance in any summation order */
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < K; ++k) s += (double)xi[k] * xi[k];
        PN[i] = sqrtf((float)s);
        R[i] = 0.0f;
    }
}
