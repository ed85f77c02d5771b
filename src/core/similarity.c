/*
 * Similarity functions of spec §1, as a table: each entry has a reference
 * definition (double precision, plain loops) and a fast block kernel (SGEMM for
 * dot/cosine/euclidean, a register-blocked AVX-512 kernel for manhattan
 * (simd_l1.c), vectorised loops with a vectorised logarithm (simd_log.h) for
 * the divergences).
 */
#include <cblas.h>
#include <float.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>

#include "core/similarity_impl.h"
#include "core/simd_l1.h"
#include "core/simd_log.h"

/* ---------- reference definitions (double, obviously correct) ---------- */

static inline int in_cue(const uint8_t *mask, int64_t k) {
    return !mask || mask[k];
}

static double dot_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) s += (double)x[k] * q[k];
    return s;
}

static double cosine_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0, nx = 0, nq = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            s += (double)x[k] * q[k];
            nx += (double)x[k] * x[k];
            nq += (double)q[k] * q[k];
        }
    return (nx == 0 || nq == 0) ? 0.0 : s / (sqrt(nx) * sqrt(nq));
}

static double euclidean_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) s += ((double)x[k] - q[k]) * ((double)x[k] - q[k]);
    return -s;
}

static double manhattan_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) s += fabs((double)x[k] - q[k]);
    return -s;
}

/* Normalising constants of x and q as distributions over the cue. */
static int64_t dist_sums(const float *x, const float *q, const uint8_t *mask, int64_t K, double *sx,
                         double *sq) {
    int64_t n = 0;
    *sx = *sq = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            *sx += x[k] + UHN_DIV_EPS;
            *sq += q[k] + UHN_DIV_EPS;
            ++n;
        }
    return n;
}

/* KL(a || b) over the cue, a and b given unnormalised with their sums. */
static double kl_ref_(const float *a, double sa, const float *b, double sb, const uint8_t *mask,
                      int64_t K) {
    double d = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            double pa = (a[k] + UHN_DIV_EPS) / sa, pb = (b[k] + UHN_DIV_EPS) / sb;
            if (pa > 0) d += pa * log(pa / pb);
        }
    return d;
}

static double kl_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double sx, sq;
    if (!dist_sums(x, q, mask, K, &sx, &sq)) return 0;
    return -kl_ref_(q, sq, x, sx, mask, K);
}

static double reverse_kl_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double sx, sq;
    if (!dist_sums(x, q, mask, K, &sx, &sq)) return 0;
    return -kl_ref_(x, sx, q, sq, mask, K);
}

static double js_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double sx, sq, js = 0;
    if (!dist_sums(x, q, mask, K, &sx, &sq)) return 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            double px = (x[k] + UHN_DIV_EPS) / sx, pq = (q[k] + UHN_DIV_EPS) / sq;
            double m = 0.5 * (px + pq);
            if (px > 0) js += 0.5 * px * log(px / m);
            if (pq > 0) js += 0.5 * pq * log(pq / m);
        }
    return -js;
}

/* ---------- fast block kernels ---------- */

/* x . q over n coordinates, for one query's pass over the bank (a read of
 * memory): four independent accumulator chains, so that the FMA latency
 * stays under the loads (with aligned rows, see uhn_qblock.k0: one iterated
 * Fashion-MNIST query, 1 rank, 5.3 -> 4.6-5.0 ms a step; the single chain of
 * `omp simd` was bound by the latency). */
static inline float row_dot(const float *x, const float *q, int64_t n) {
#ifdef __AVX512F__
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 64 <= n; k += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(q + k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(q + k + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 32), _mm512_loadu_ps(q + k + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 48), _mm512_loadu_ps(q + k + 48), a3);
    }
    for (; k < n; k += 16) {
        const __mmask16 m = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), _mm512_maskz_loadu_ps(m, q + k), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#else
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < n; ++k) s += x[k] * q[k];
    return s;
#endif
}

/* St (B x tn) = Qc . X^T: the cue-masked dot products, over the columns
 * [k0, k1) outside which every query is 0 (a masked image: half the work). */
static void gemm_dot(const uhn_tile *t, const uhn_qblock *qb, float *St) {
    const int64_t K = t->K, tn = t->tn, k0 = qb->k0, kn = qb->k1 - qb->k0;
    if (kn == 0) { /* every query is 0 */
        memset(St, 0, (size_t)(qb->B * tn) * sizeof(float));
        return;
    }
    if (qb->B <= UHN_SMALL_BATCH) {
        for (int64_t j = 0; j < qb->B; ++j) {
            const float *q = qb->q + j * K + k0;
            float *out = St + j * tn;
            /* One row at a time: the bank is read as one sequential stream, which
             * the hardware prefetcher follows best (four interleaved rows were
             * measured 20% slower). */
            for (int64_t i = 0; i < tn; ++i) out[i] = row_dot(t->x + i * K + k0, q, kn);
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb->B, (int)tn, (int)kn, 1.0f,
                qb->q + k0, (int)K, t->x + k0, (int)K, 0.0f, St, (int)tn);
}

/*
 * ||x_C||^2 for every (query, row) pair: with a cue mask this is M . (X o X)^T
 * (one more SGEMM); without one it is the row statistic, broadcast.
 */
static const float *cue_norm2(const uhn_tile *t, const uhn_qblock *qb, uhn_scratch *scr,
                              int64_t *ld) {
    if (!qb->mask) {
        *ld = 0;
        return t->norm2;
    }
    int64_t n = t->tn * t->K;
    for (int64_t e = 0; e < n; ++e) scr->a[e] = t->x[e] * t->x[e];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb->B, (int)t->tn, (int)t->K, 1.0f,
                qb->mask, (int)t->K, scr->a, (int)t->K, 0.0f, scr->b, (int)t->tn);
    *ld = t->tn;
    return scr->b;
}

/* sum over the cue of (x - q)^2, summed directly (q is already cue-masked). */
static float direct_sqdist(const float *x, const uhn_qblock *qb, int64_t j) {
    const int64_t K = qb->K;
    const float *q = qb->q + j * K, *m = qb->mask ? qb->mask + j * K : qb->ones;
    float d = 0;
#pragma omp simd reduction(+ : d)
    for (int64_t k = 0; k < K; ++k) d += m[k] * (x[k] - q[k]) * (x[k] - q[k]);
    return d;
}

static void dot_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    (void)scr;
    gemm_dot(t, qb, St);
}

static void cosine_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    gemm_dot(t, qb, St);
    int64_t ld;
    const float *xn2 = cue_norm2(t, qb, scr, &ld);
    for (int64_t j = 0; j < qb->B; ++j) {
        const float *xn = xn2 + j * ld;
        float *s = St + j * t->tn, qn = qb->qnorm2[j];
#pragma omp simd
        for (int64_t i = 0; i < t->tn; ++i) {
            float den = sqrtf(xn[i] * qn);
            s[i] = den > 0 ? s[i] / den : 0.0f;
        }
    }
}

static void euclidean_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    gemm_dot(t, qb, St);
    int64_t ld;
    const float *xn2 = cue_norm2(t, qb, scr, &ld);
    for (int64_t j = 0; j < qb->B; ++j) {
        const float *xn = xn2 + j * ld;
        float *s = St + j * t->tn, qn = qb->qnorm2[j];
        int64_t i = 0;
#ifdef __AVX512F__
        /* 16 rows at a time (the scalar loop below was a tenth of W2 of
         * `uhn bench`); the rare rows near q go to the direct sum one by one. */
        const __m512 vq = _mm512_set1_ps(qn), two = _mm512_set1_ps(2.0f);
        const __m512 rel = _mm512_set1_ps(1e-3f), sign = _mm512_set1_ps(-0.0f);
        for (; i + 16 <= t->tn; i += 16) {
            const __m512 x = _mm512_loadu_ps(xn + i);
            /* 2 s is exact: the fused form rounds as the scalar one */
            const __m512 d = _mm512_add_ps(_mm512_fnmadd_ps(two, _mm512_loadu_ps(s + i), x), vq);
            _mm512_storeu_ps(s + i, _mm512_xor_ps(d, sign));
            for (__mmask16 near =
                     _mm512_cmp_ps_mask(d, _mm512_mul_ps(rel, _mm512_add_ps(x, vq)), _CMP_LT_OQ);
                 near; near &= near - 1) {
                const int64_t r = i + __builtin_ctz(near);
                s[r] = -direct_sqdist(t->x + r * t->K, qb, j);
            }
        }
#endif
        for (; i < t->tn; ++i) {
            float d = xn[i] - 2.0f * s[i] + qn;
            /* The expansion cancels when x is close to q (a recalled memory, a
             * converged state): there the distance is summed directly. */
            if (d < 1e-3f * (xn[i] + qn)) d = direct_sqdist(t->x + i * t->K, qb, j);
            s[i] = -d;
        }
    }
}

/* Queries are handled in groups small enough to stay in L1/L2 with a bank row. */
#define QGROUP 16

static void manhattan_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    (void)scr;
    uhn_l1_block(t->x, t->tn, qb->q, qb->mask, qb->B, t->K, St, t->tn);
    const int64_t n = qb->B * t->tn;
#pragma omp simd
    for (int64_t e = 0; e < n; ++e) St[e] = -St[e];
}

/* L = ln(x + eps) for the whole tile, into scratch a (vectorised: simd_log.h). */
static const float *tile_log(const uhn_tile *t, uhn_scratch *scr) {
    const int64_t n = t->tn * t->K;
    const float eps = (float)UHN_DIV_EPS;
#pragma omp simd
    for (int64_t e = 0; e < n; ++e) scr->a[e] = t->x[e] + eps;
    uhn_log_array(scr->a, scr->a, n);
    return scr->a;
}

/* Sums over the cue of (x + eps) and of (x + eps) * (L - c), c = lqhat or 0. */
static inline void div_sums(const float *x, const float *L, const float *m, const float *lq,
                            int64_t K, double *sx, double *sxl) {
    const float eps = (float)UHN_DIV_EPS;
    double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t k = 0; k < K; ++k) {
        float w = m[k] * (x[k] + eps);
        a += w;
        b += w * (L[k] - (lq ? lq[k] : 0.0f));
    }
    *sx = a, *sxl = b;
}

static void kl_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    const int64_t K = t->K;
    const float *L = tile_log(t, scr), eps = (float)UHN_DIV_EPS;
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i)
            for (int64_t j = j0; j < j1; ++j) {
                const float *x = t->x + i * K, *Li = L + i * K, *qh = qb->qhat + j * K;
                const float *m = qb->mask ? qb->mask + j * K : NULL;
                double a = 0, sx = 0;
                if (m) {
#pragma omp simd reduction(+ : a, sx)
                    for (int64_t k = 0; k < K; ++k) {
                        a += qh[k] * Li[k];
                        sx += m[k] * (x[k] + eps);
                    }
                } else {
                    sx = t->sum[i] + K * UHN_DIV_EPS;
#pragma omp simd reduction(+ : a)
                    for (int64_t k = 0; k < K; ++k) a += qh[k] * Li[k];
                }
                St[j * t->tn + i] = sx > 0 ? (float)(a - qb->qent[j] - log(sx)) : 0.0f;
            }
    }
}

static void reverse_kl_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    const int64_t K = t->K;
    const float *L = tile_log(t, scr);
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i)
            for (int64_t j = j0; j < j1; ++j) {
                const float *m = qb->mask ? qb->mask + j * K : qb->ones;
                double sx, b;
                div_sums(t->x + i * K, L + i * K, m, qb->lqhat + j * K, K, &sx, &b);
                St[j * t->tn + i] = sx > 0 ? (float)(-b / sx + log(sx)) : 0.0f;
            }
    }
}

#ifdef __AVX512F__
/* One step of js_tlnt: t = w rs + qh, acc += t ln t; with GUARD, the log is
 * taken of max(t, FLT_MIN) (finite where t = 0, and t ln t = 0 there). */
static inline __attribute__((always_inline)) __m512 js_step(__m512 w, __m512 rs, __m512 qh,
                                                            __m512 acc, const int GUARD) {
    const __m512 t = _mm512_fmadd_ps(w, rs, qh);
    const __m512 l = uhn_log16(GUARD ? _mm512_max_ps(t, _mm512_set1_ps(FLT_MIN)) : t);
    return _mm512_fmadd_ps(t, l, acc);
}

static inline __attribute__((always_inline)) double
js_tlnt_(const float *xe, const float *m, const float *qh, float rs, int64_t K, const int CUE) {
    const __m512 r = _mm512_set1_ps(rs);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) { /* two independent chains for the FMA latency */
        __m512 w0 = _mm512_loadu_ps(xe + k), w1 = _mm512_loadu_ps(xe + k + 16);
        if (CUE) {
            w0 = _mm512_mul_ps(w0, _mm512_loadu_ps(m + k));
            w1 = _mm512_mul_ps(w1, _mm512_loadu_ps(m + k + 16));
        }
        acc0 = js_step(w0, r, _mm512_loadu_ps(qh + k), acc0, CUE);
        acc1 = js_step(w1, r, _mm512_loadu_ps(qh + k + 16), acc1, CUE);
    }
    for (; k < K; k += 16) { /* masked loads read zeros past K: t = 0 adds 0 */
        const __mmask16 tm = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 w = _mm512_maskz_loadu_ps(tm, xe + k);
        if (CUE) w = _mm512_mul_ps(w, _mm512_maskz_loadu_ps(tm, m + k));
        acc0 = js_step(w, r, _mm512_maskz_loadu_ps(tm, qh + k), acc0, 1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
#endif

/*
 * sum_k t_k ln t_k with t = w rs + qh (twice the midpoint distribution of JS),
 * w = m (x + eps) over the cue (m = NULL: all coordinates). Outside the cue
 * t = 0 and t ln t = 0. Without a cue t >= eps rs > 0 is a normal float
 * whenever eps rs is, and the guard against t = 0 is skipped.
 */
static double js_tlnt(const float *xe, const float *m, const float *qh, float rs, int64_t K) {
#ifdef __AVX512F__
    if (!m && (float)UHN_DIV_EPS * rs >= FLT_MIN) return js_tlnt_(xe, NULL, qh, rs, K, 0);
    if (!m) return js_tlnt_(xe, NULL, qh, rs, K, 1); /* the same, guarded (huge data) */
    return js_tlnt_(xe, m, qh, rs, K, 1);
#else
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < K; ++k) {
        const float t = (m ? m[k] * xe[k] : xe[k]) * rs + qh[k];
        s += t * uhn_logf(t > FLT_MIN ? t : FLT_MIN);
    }
    return s;
#endif
}

/* Sums over the cue of w = m (x + eps) and of w L (L = ln(x + eps)). */
static void js_cue_sums(const float *xe, const float *L, const float *m, int64_t K, double *sx,
                        double *hx) {
#ifdef __AVX512F__
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 tm = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        const __m512 w =
            _mm512_mul_ps(_mm512_maskz_loadu_ps(tm, xe + k), _mm512_maskz_loadu_ps(tm, m + k));
        a = _mm512_add_ps(a, w);
        b = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(tm, L + k), b);
    }
    *sx = _mm512_reduce_add_ps(a), *hx = _mm512_reduce_add_ps(b);
#else
    double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t k = 0; k < K; ++k) {
        const float w = m[k] * xe[k];
        a += w, b += w * L[k];
    }
    *sx = a, *hx = b;
#endif
}

/*
 * -JS = -(1/2 sum xh ln xh + 1/2 sum qh ln qh - sum mid ln mid) over the cue,
 * with sum mid ln mid = 1/2 sum t ln t - ln 2 (t = 2 mid, sum mid = 1): one
 * logarithm per memory x query x coordinate, vectorised (simd_log.h).
 */
static void js_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    const int64_t K = t->K, n = t->tn * K;
    const float *L = tile_log(t, scr), eps = (float)UHN_DIV_EPS;
    float *xe = scr->b; /* x + eps, for the tile */
#pragma omp simd
    for (int64_t e = 0; e < n; ++e) xe[e] = t->x[e] + eps;
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i) {
            double sx = 0, hx = 0; /* without a cue: the row's, for every query */
            if (!qb->mask) js_cue_sums(xe + i * K, L + i * K, qb->ones, K, &sx, &hx);
            for (int64_t j = j0; j < j1; ++j) {
                const float *m = qb->mask ? qb->mask + j * K : NULL;
                if (m) js_cue_sums(xe + i * K, L + i * K, m, K, &sx, &hx);
                if (!(sx > 0)) { /* an empty cue */
                    St[j * t->tn + i] = 0.0f;
                    continue;
                }
                double tlnt = js_tlnt(xe + i * K, m, qb->qhat + j * K, (float)(1.0 / sx), K);
                double mm = 0.5 * tlnt - 0.69314718055994530942; /* sum_C mid ln mid */
                double negent_x = hx / sx - log(sx);             /* sum_C xhat ln xhat */
                St[j * t->tn + i] = (float)-(0.5 * negent_x + 0.5 * qb->qent[j] - mm);
            }
        }
    }
}

/* ---------- the table ---------- */

static const uhn_similarity table[] = {
    {"dot", UHN_SIM_GEMM, dot_ref, dot_block},
    {"cosine", UHN_SIM_GEMM, cosine_ref, cosine_block},
    {"euclidean", UHN_SIM_GEMM | UHN_SIM_DISTANCE, euclidean_ref, euclidean_block},
    {"manhattan", UHN_SIM_DISTANCE, manhattan_ref, manhattan_block},
    {"kl", UHN_SIM_DISTANCE | UHN_SIM_NONNEG, kl_ref, kl_block},
    {"reverse_kl", UHN_SIM_DISTANCE | UHN_SIM_NONNEG, reverse_kl_ref, reverse_kl_block},
    {"jensen_shannon", UHN_SIM_DISTANCE | UHN_SIM_NONNEG, js_ref, js_block},
};
enum { NSIM = sizeof table / sizeof table[0] };

const uhn_similarity *uhn_similarity_find(const char *name) {
    for (int i = 0; name && i < NSIM; ++i)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

int uhn_similarity_count(void) {
    return NSIM;
}

const uhn_similarity *uhn_similarity_at(int i) {
    return i >= 0 && i < NSIM ? &table[i] : NULL;
}

const char *uhn_similarity_name(const uhn_similarity *sim) {
    return sim->name;
}

unsigned uhn_similarity_flags(const uhn_similarity *sim) {
    return sim->flags;
}

double uhn_similarity_ref(const uhn_similarity *sim, const float *x, const float *q,
                          const uint8_t *mask, int64_t K) {
    return sim->ref(x, q, mask, K);
}
