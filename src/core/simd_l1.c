/*
 * The L1 distance block (simd_l1.h). Each term |x m - q| costs three vector
 * operations: x m - q as an FMA (fmsub; with no mask m = 1, and the mask is
 * then free), the absolute value as a sign-bit and-not, and the accumulation,
 * the only one that needs an FP-add pipe. A 4 x 4 register block (4 rows x 4
 * queries, 16 accumulators) loads each x vector once for four queries and each
 * q vector once for four rows, so the loads stay well below the arithmetic.
 *
 * The 2 max(x, q) - x - q identity would need one operation less but cancels
 * for near matches (the distance would carry the round-off of sum x); here
 * the error is float32 round-off of the distance itself, and a distance of 0
 * is exactly 0.
 */
#include "core/simd_l1.h"

#include <math.h>

#ifdef __AVX512F__
#include <immintrin.h>

#define RB 4 /* rows per register block */
#define QB 4 /* queries per register block */

/* v, held in a register: GCC would otherwise reload every operand from memory
 * at each use (two loads per term, twice what the load ports sustain). */
static inline __attribute__((always_inline)) __m512 pinned(__m512 v) {
    __asm__("" : "+v"(v));
    return v;
}

/*
 * The R x Q block at rows x (stride K) and queries q, m (stride K): distances
 * into D[j * ldd + r]. R, Q and MASKED are constants at every call, so the
 * loops unroll and acc stays in registers.
 */
static inline __attribute__((always_inline)) void l1_micro(const int R, const int Q,
                                                           const int MASKED, const float *x,
                                                           const float *q, const float *m,
                                                           int64_t K, float *D, int64_t ldd) {
    __m512 acc[RB][QB];
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int r = 0; r < R; ++r)
        for (int j = 0; j < Q; ++j) acc[r][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 xv[RB], qv[QB], mv[QB];
        for (int r = 0; r < R; ++r) xv[r] = pinned(_mm512_loadu_ps(x + r * K + k));
        for (int j = 0; j < Q; ++j) {
            qv[j] = pinned(_mm512_loadu_ps(q + j * K + k));
            mv[j] = MASKED ? pinned(_mm512_loadu_ps(m + j * K + k)) : one;
        }
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < Q; ++j)
                acc[r][j] =
                    _mm512_add_ps(acc[r][j], _mm512_abs_ps(_mm512_fmsub_ps(xv[r], mv[j], qv[j])));
    }
    if (k < K) { /* the tail: masked loads read zeros, which add |0 - 0| = 0 */
        const __mmask16 t = (__mmask16)((1u << (K - k)) - 1);
        __m512 xv[RB], qv[QB], mv[QB];
        for (int r = 0; r < R; ++r) xv[r] = _mm512_maskz_loadu_ps(t, x + r * K + k);
        for (int j = 0; j < Q; ++j) {
            qv[j] = _mm512_maskz_loadu_ps(t, q + j * K + k);
            mv[j] = MASKED ? _mm512_maskz_loadu_ps(t, m + j * K + k) : one;
        }
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < Q; ++j)
                acc[r][j] =
                    _mm512_add_ps(acc[r][j], _mm512_abs_ps(_mm512_fmsub_ps(xv[r], mv[j], qv[j])));
    }
    for (int r = 0; r < R; ++r)
        for (int j = 0; j < Q; ++j) D[j * ldd + r] = _mm512_reduce_add_ps(acc[r][j]);
}

/* An R-row strip against the last nq = 1, 2 or 3 queries. */
static inline __attribute__((always_inline)) void l1_qtail(const int R, const int MASKED,
                                                           const float *x, const float *q,
                                                           const float *m, int64_t nq, int64_t K,
                                                           float *D, int64_t ldd) {
    switch (nq) {
    case 1:
        l1_micro(R, 1, MASKED, x, q, m, K, D, ldd);
        break;
    case 2:
        l1_micro(R, 2, MASKED, x, q, m, K, D, ldd);
        break;
    case 3:
        l1_micro(R, 3, MASKED, x, q, m, K, D, ldd);
        break;
    default:
        break;
    }
}

static inline __attribute__((always_inline)) void l1_rows(const int MASKED, const float *x,
                                                          int64_t n, const float *q, const float *m,
                                                          int64_t B, int64_t K, float *D,
                                                          int64_t ldd) {
    /* Rows in chunks that stay in L2 (RCHUNK x K floats) with their block of
     * D, queries streamed under each chunk QB at a time (in L1 while the
     * chunk's rows pass under them). A whole tile does not fit: at B = 1000
     * its rows and its D evict each other (measured 40 against 65 G/s). */
    enum { RCHUNK = 64 };
    for (int64_t i0 = 0; i0 < n; i0 += RCHUNK) {
        const int64_t i1 = i0 + RCHUNK < n ? i0 + RCHUNK : n;
        int64_t j = 0;
        for (; j + QB <= B; j += QB) {
            int64_t i = i0;
            for (; i + RB <= i1; i += RB)
                l1_micro(RB, QB, MASKED, x + i * K, q + j * K, m + (MASKED ? j * K : 0), K,
                         D + j * ldd + i, ldd);
            for (; i < i1; ++i)
                l1_micro(1, QB, MASKED, x + i * K, q + j * K, m + (MASKED ? j * K : 0), K,
                         D + j * ldd + i, ldd);
        }
        if (j < B) { /* the last 1-3 queries */
            int64_t i = i0;
            for (; i + RB <= i1; i += RB)
                l1_qtail(RB, MASKED, x + i * K, q + j * K, m + (MASKED ? j * K : 0), B - j, K,
                         D + j * ldd + i, ldd);
            for (; i < i1; ++i)
                l1_qtail(1, MASKED, x + i * K, q + j * K, m + (MASKED ? j * K : 0), B - j, K,
                         D + j * ldd + i, ldd);
        }
    }
}

void uhn_l1_block(const float *x, int64_t n, const float *q, const float *m, int64_t B, int64_t K,
                  float *D, int64_t ldd) {
    if (m)
        l1_rows(1, x, n, q, m, B, K, D, ldd);
    else
        l1_rows(0, x, n, q, m, B, K, D, ldd);
}

#else /* no AVX-512: the plain loop, vectorised by the compiler */

void uhn_l1_block(const float *x, int64_t n, const float *q, const float *m, int64_t B, int64_t K,
                  float *D, int64_t ldd) {
    enum { QGROUP = 16 }; /* queries that stay in L1/L2 with a bank row */
    for (int64_t j0 = 0; j0 < B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < B ? j0 + QGROUP : B;
        for (int64_t i = 0; i < n; ++i) {
            const float *xi = x + i * K;
            for (int64_t j = j0; j < j1; ++j) {
                const float *qj = q + j * K;
                float s = 0;
                if (m) {
                    const float *mj = m + j * K;
#pragma omp simd reduction(+ : s)
                    for (int64_t k = 0; k < K; ++k) s += fabsf(xi[k] * mj[k] - qj[k]);
                } else {
#pragma omp simd reduction(+ : s)
                    for (int64_t k = 0; k < K; ++k) s += fabsf(xi[k] - qj[k]);
                }
                D[j * ldd + i] = s;
            }
        }
    }
}

#endif
